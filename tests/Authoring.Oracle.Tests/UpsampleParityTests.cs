// The nearest-resize kernel against F.interpolate(mode='nearest') op by op: which input pixel every
// output reads, over all sizes up to 40 both ways and the sizes where PyTorch's float scale rounds
// away from exact arithmetic, then forward values and autograd's input gradient on batches.
using Authoring.Runtime.Cpu;
using static Authoring.Oracle.Tests.TorchOracle;

namespace Authoring.Oracle.Tests;

public class UpsampleParityTests
{
    [Fact]
    public void EverySizeReadsThePixelTorchReads()
    {
        EnsureInitialized();
        var sizes = Enumerable.Range(1, 40).ToList();
        // Pairs where floorf(dst * (float)in / out) is below the exact floor(dst * in / out).
        var quirks = new[] { (26, 22), (6, 74), (2, 82), (3, 123), (39, 33), (60, 58) };
        var pairs = sizes.SelectMany(i => sizes.Select(o => (i, o))).Concat(quirks);
        foreach (var (inLen, outLen) in pairs)
        {
            using var scope = Scope();
            // Pixel values are their own row index (and column index in a second channel): the output names its source.
            var data = new float[2 * inLen * inLen];
            for (int y = 0; y < inLen; y++)
                for (int x = 0; x < inLen; x++) { data[y * inLen + x] = y; data[inLen * inLen + y * inLen + x] = x; }
            var picked = ToArray(UpsampleNearest(Constant(data, 1, 2, inLen, inLen), outLen, outLen));
            for (int oy = 0; oy < outLen; oy++)
                for (int ox = 0; ox < outLen; ox++)
                {
                    int row = (int)picked[oy * outLen + ox], col = (int)picked[outLen * outLen + oy * outLen + ox];
                    Assert.True(row == UpsampleShape.Source(oy, inLen, outLen) && col == UpsampleShape.Source(ox, inLen, outLen),
                        $"{inLen} -> {outLen}: output ({oy}, {ox}) reads torch ({row}, {col}), ours ({UpsampleShape.Source(oy, inLen, outLen)}, {UpsampleShape.Source(ox, inLen, outLen)})");
                }
        }
    }

    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 3, 3, 3, 7, 7 },      // GhostNetV2's 7x7 stage
        new[] { 2, 4, 5, 8, 10 },     // exact 2x
        new[] { 2, 7, 7, 3, 3 },      // down
        new[] { 1, 26, 6, 22, 74 },   // float quirks in both axes
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardAndInputGradientMatchAutograd(int[] a)
    {
        EnsureInitialized();
        using var scope = Scope();
        var s = new UpsampleShape(a[0], a[1], a[2], a[3], a[4]);
        const int n = 3;
        var x = Random(n * s.InSize, a.Sum());
        var dy = Random(n * s.OutSize, a.Sum() + 1);
        var xt = Leaf(x, n, s.C, s.H, s.W);
        var yt = UpsampleNearest(xt, s.Ho, s.Wo);
        var dx = Gradients(yt, dy, xt)[0];

        var y = new float[n * s.OutSize];
        UpsampleKernel.NearestForward(s, n, new View(x, 0, s.InSize), new View(y, 0, s.OutSize));
        // A copy: exact.
        Assert.Equal(ToArray(yt), y);
        var ours = new float[n * s.InSize];
        UpsampleKernel.NearestBackward(s, n, new View(dy, 0, s.OutSize), new View(ours, 0, s.InSize), false);
        // Sums of at most a dozen O(1) terms in float on both sides, possibly in other orders: 1e-5 is ~100 ulps.
        ModelParityTests.AssertClose(ours, dx, 1e-5, $"dx {s}");
    }
}
