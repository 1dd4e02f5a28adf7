// Each dense 3 x 3 convolution path (direct, Winograd F(2x2, 3x3), Winograd F(4x4, 3x3), and the shape's own choice), and the 1 x 1
// paths (the pointwise kernel, direct),
// against TorchSharp's conv2d and its autograd, run in float64 so that the oracle's own rounding does not count:
// forward, data gradient and weight gradient, at batch 1 and 64, with odd sizes and channel counts that are not
// multiples of the vector width. Tolerance per element: on a Winograd run the rounding bound derived from its transforms
// (Authoring.Runtime.Tests' WinogradBound, per output from the data and weights), otherwise the float32 summation bound
// the kernel tests use, 16 sqrt(k) u sum|terms| (sum|terms| from the same convolution of |x|, |w|, |dy| in TorchSharp).
using Authoring.Runtime;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Tests.Cpu;
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

public class ConvPathParityTests
{
    const double U = 1.0 / (1 << 24);

    public static TheoryData<int, int, int, int, int, int, string> Cases()
    {
        var data = new TheoryData<int, int, int, int, int, int, string>();
        // Cin, H, W, Cout, pad, batch
        int[][] shapes = [[32, 14, 14, 32, 1, 64], [32, 14, 14, 32, 1, 1], [20, 13, 15, 36, 1, 17], [17, 12, 20, 9, 2, 5], [16, 28, 28, 24, 1, 64]];
        foreach (var a in shapes)
            foreach (var p in new[] { "Auto", "Direct", "Winograd", "Winograd4" }) data.Add(a[0], a[1], a[2], a[3], a[4], a[5], p);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorchInDouble(int cin, int h, int w, int cout, int pad, int n, string pathName)
    {
        var path = Enum.Parse<ConvPath>(pathName);
        var s = new Conv2dShape(cin, h, w, cout, 3, 3, 1, 1, pad, pad, 1, 1, 1);
        CheckAllPasses(s, n, path);
    }

    /// <summary>Forward, data gradient and weight gradient of <paramref name="s"/> (square kernel, symmetric padding) on
    /// <paramref name="path"/> against TorchSharp, each within its bound (Tol).</summary>
    static void CheckAllPasses(in Conv2dShape s, int n, ConvPath path)
    {
        int cin = s.Cin, cout = s.Cout, h = s.H, w = s.W, kk = s.Kh * s.Kw;
        var xData = TorchOracle.Random(n * s.InSize, cin + h);
        var wData = TorchOracle.Random(s.WeightSize, cout + w);
        var dyData = TorchOracle.Random(n * s.OutSize, n + cout);

        var y = new float[n * s.OutSize];
        Conv2dKernel.Forward<Identity>(s, n, new View(xData, 0, s.InSize), wData, 0, null, 0, null, 0, new View(y, 0, s.OutSize), path);
        var dx = new float[n * s.InSize];
        Conv2dKernel.BackwardData(s, n, new View(dyData, 0, s.OutSize), wData, 0, new View(dx, 0, s.InSize), false, path);
        var dw = new float[s.WeightSize];
        Conv2dKernel.BackwardWeights(s, n, new View(xData, 0, s.InSize), new View(dyData, 0, s.OutSize), dw, 0, path);

        using var scope = torch.NewDisposeScope();
        long[] xs = [n, cin, h, w], ws = [cout, cin, s.Kh, s.Kw], ys = [n, cout, s.Ho, s.Wo];
        var (yRef, dxRef, dwRef) = Run(xData, wData, dyData, xs, ws, ys, s.PadH, abs: false);
        var (yMag, dxMag, dwMag) = Run(xData, wData, dyData, xs, ws, ys, s.PadH, abs: true);
        var sv = s; // lambdas cannot capture an in parameter
        int mf = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Forward), md = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Data);
        int mw = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Weights);
        Check(y, yRef, Tol(yMag, kk * cin, mf == 0 ? null
            : () => (WinogradBound.ForwardAbs(sv, n, mf, WinogradBound.Abs(xData), wData), WinogradBound.DepthForward(mf, cin, false))),
            $"forward {s} n={n} {path}");
        Check(dx, dxRef, Tol(dxMag, kk * cout, md == 0 ? null
            : () => (WinogradBound.DataAbs(sv, n, md, dyData, wData), WinogradBound.DepthForward(md, cout, false))),
            $"data gradient {s} n={n} {path}");
        Check(dw, dwRef, Tol(dwMag, n * s.Ho * s.Wo, mw == 0 ? null
            : () => (WinogradBound.WeightsAbs(sv, n, mw, xData, dyData), WinogradBound.DepthWeights(mw, n, WinogradBound.Tiles(sv, mw)))),
            $"weight gradient {s} n={n} {path}");
    }

    public static TheoryData<int, int, int, int, int, string> PointwiseCases()
    {
        var data = new TheoryData<int, int, int, int, int, string>();
        // Cin, H, W, Cout, batch: the depthwise-separable block's 64 -> 128 at 14 x 14, then odd channel counts and planes
        // that end in a part-filled tile of positions, batch 1 (positions split over threads) and 3.
        int[][] shapes = [[64, 14, 14, 128, 64], [13, 9, 11, 21, 3], [17, 5, 7, 40, 1], [30, 6, 6, 9, 5]];
        foreach (var a in shapes)
            foreach (var p in new[] { "Auto", "Pointwise", "Direct" }) data.Add(a[0], a[1], a[2], a[3], a[4], p);
        return data;
    }

    /// <summary>1 x 1 convolutions (PointwiseConv on Auto) against TorchSharp in float64, with the same bound.</summary>
    [Theory]
    [MemberData(nameof(PointwiseCases))]
    public void PointwiseMatchesTorchInDouble(int cin, int h, int w, int cout, int n, string pathName)
    {
        var path = Enum.Parse<ConvPath>(pathName);
        CheckAllPasses(new Conv2dShape(cin, h, w, cout, 1, 1, 1, 1, 0, 0, 1, 1, 1), n, path);
    }

    /// <summary>y = conv2d(x, w), dx and dw for the upstream gradient dy, in float64; with <paramref name="abs"/>, of |x|, |w|
    /// and |dy|: the sums of |terms| behind each result.</summary>
    static (double[] Y, double[] Dx, double[] Dw) Run(float[] x, float[] w, float[] dy, long[] xs, long[] ws, long[] ys, int pad, bool abs)
    {
        TorchTensor Make(float[] d, long[] shape)
        {
            var t = torch.tensor(d, shape).to(torch.float64);
            return (abs ? t.abs() : t).detach().requires_grad_(true);
        }
        var tx = Make(x, xs); var tw = Make(w, ws); var tdy = Make(dy, ys).detach();
        var ty = F.conv2d(tx, tw, padding: [pad, pad]);
        ty.backward([tdy]);
        return (ty.detach().data<double>().ToArray(), tx.grad!.data<double>().ToArray(), tw.grad!.data<double>().ToArray());
    }

    /// <summary>Per element: on a Winograd run (<paramref name="winograd"/> gives the absolute expansion and the rounding depth)
    /// the derived bound, else 16 sqrt(k) u sum|terms|.</summary>
    static double[] Tol(double[] mag, int k, Func<(double[] Abs, int Depth)>? winograd)
    {
        var (abs, depth) = winograd is null ? (null, 0) : winograd();
        var tol = new double[mag.Length];
        for (int i = 0; i < tol.Length; i++)
            tol[i] = abs is null ? 16 * Math.Sqrt(k) * U * mag[i] + 1e-30 : WinogradBound.Tol(abs[i], depth, k);
        return tol;
    }

    static void Check(float[] got, double[] expected, double[] tol, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
            Assert.True(Math.Abs(got[i] - expected[i]) <= tol[i], $"{what}: element {i} is {got[i]}, expected {expected[i]} (tolerance {tol[i]:E2})");
    }
}
