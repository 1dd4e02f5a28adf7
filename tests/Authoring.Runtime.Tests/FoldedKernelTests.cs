// FoldedKernel against hand-computed folds: BatchNorm algebra, placement in the merged window, grouped
// identity, and the guards that keep a generated fold from writing outside its tensors.
namespace Authoring.Runtime.Tests;

public class FoldedKernelTests
{
    [Fact]
    public void BatchNormScalesTheWeightAndShiftsTheBias()
    {
        // One output channel, 1x1 kernel w = 2, bias 1; BN gamma 3, beta 0.5, mean 4, var 8.99, eps 0.01 -> scale 1.
        float[] p = { 2f, 1f, 3f, 0.5f, 4f, 8.99f };
        var k = new FoldedKernel(1, 1, 1, 1).AddTerm(p, 0, 1, 1, 1, 0, 0).BatchNorm(p, 2, 3, 4, 5, 0.01f);
        double scale = 3 / Math.Sqrt((double)8.99f + 0.01f); // the store holds floats: fold what it holds
        Assert.Equal(2 * scale, k.Weight(0, 0, 0, 0), 12);
        Assert.Equal((1 - 4) * scale + 0.5, k.Bias(0), 12);
    }

    [Fact]
    public void TermsLandAtTheirOffsetAndSum()
    {
        // A 1x1 branch at the centre of a 3x3 window adds to the 3x3 branch's centre tap only.
        var p = new float[9 + 1];
        for (int i = 0; i < 9; i++) p[i] = i + 1;
        p[9] = 10;
        var k = new FoldedKernel(1, 1, 3, 3).AddTerm(p, 0, -1, 3, 3, 0, 0).Add(new FoldedKernel(1, 1, 3, 3).AddTerm(p, 9, -1, 1, 1, 1, 1));
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                Assert.Equal(y * 3 + x + 1 + (y == 1 && x == 1 ? 10 : 0), k.Weight(0, 0, y, x));
        Assert.Equal(0, k.Bias(0));
    }

    [Fact]
    public void GroupedIdentityPicksEachChannelWithinItsGroup()
    {
        // 4 channels in 2 groups: output o reads input o, which is index o % 2 of its group's inputs.
        var k = new FoldedKernel(4, 2, 3, 3).AddIdentity(1, 1);
        for (int o = 0; o < 4; o++)
            for (int i = 0; i < 2; i++)
                for (int y = 0; y < 3; y++)
                    for (int x = 0; x < 3; x++)
                        Assert.Equal(i == o % 2 && y == 1 && x == 1 ? 1.0 : 0.0, k.Weight(o, i, y, x));
    }

    [Fact]
    public void WriteToRoundsIntoTheTargetOffsets()
    {
        var k = new FoldedKernel(2, 1, 1, 1).AddIdentity(0, 0);
        var d = new float[6];
        k.WriteTo(d, 1, 4);
        Assert.Equal(new float[] { 0, 1, 1, 0, 0, 0 }, d);
    }

    [Fact]
    public void RejectsFoldsThatDoNotFit()
    {
        var k = new FoldedKernel(1, 1, 3, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => k.AddTerm(new float[9], 0, -1, 3, 3, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => k.AddTerm(new float[4], 0, -1, 3, 3, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => k.AddIdentity(3, 0));
        Assert.Throws<ArgumentException>(() => k.Add(new FoldedKernel(1, 1, 1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => k.WriteTo(new float[9], 0, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FoldedKernel(0, 1, 1, 1));
    }
}
