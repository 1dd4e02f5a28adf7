// The lane arithmetic the spiking kernels share: the float exp of the vector lanes against double exp,
// and the masks and selects that make vector and scalar lanes interchangeable.
using System.Runtime.Intrinsics;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Tests.Cpu.Spiking;

public class LanesTests
{
    [Fact]
    public void VectorExpIsWithinTwoUlp()
    {
        // Cephes' expf is accurate to about 1 ulp on its range; 2 ulp (relative 2^-22) leaves room for the FMA variant.
        var rng = new Random(3);
        var xs = new List<float> { -86f, -80f, -20f, -1f, -1e-3f, -0f, 0f, 1e-3f, 0.5f, 1f, 10f, 88f };
        for (int i = 0; i < 4000; i++) xs.Add((float)(rng.NextDouble() * 174 - 86));
        double worst = 0;
        for (int i = 0; i + 16 <= xs.Count; i += 16)
        {
            var v = Vector512.Create(xs.GetRange(i, 16).ToArray());
            var e512 = new Lanes512().Exp(v);
            var e256lo = new Lanes256().Exp(v.GetLower());
            var e256hi = new Lanes256().Exp(v.GetUpper());
            for (int j = 0; j < 16; j++)
            {
                double want = Math.Exp(xs[i + j]);
                worst = Math.Max(worst, Math.Abs(e512[j] - want) / want);
                float got256 = j < 8 ? e256lo[j] : e256hi[j - 8];
                worst = Math.Max(worst, Math.Abs(got256 - want) / want);
            }
        }
        Assert.True(worst <= 2 * TestUtil.U * 2, $"worst relative error {worst:E3}");
    }

    [Fact]
    public void VectorExpClampsOutsideItsRange()
    {
        var e = new Lanes256().Exp(Vector256.Create(-1000f, -87f, 89f, 1000f, float.NegativeInfinity, 0f, 0f, 0f));
        Assert.Equal((float)Math.Exp(-86), e[0], 1e-44f);
        Assert.Equal((float)Math.Exp(-86), e[1], 1e-44f);
        Assert.True(e[2] > 1e38f && float.IsFinite(e[2]));
        Assert.True(e[4] > 0f);
    }

    [Fact]
    public void MasksSelectAndCountAlike()
    {
        var a = Vector256.Create(1f, 2f, 3f, 4f, -1f, 0f, 0.5f, 1f);
        var b = Vector256.Create(1f);
        var l = new Lanes256();
        var m = l.Ge(a, b);
        var s = new LanesScalar();
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(s.One01(s.Ge(a[i], 1f)), l.One01(m)[i]);
            Assert.Equal(s.Select(s.Ge(a[i], 1f), 7f, a[i]), l.Select(m, Vector256.Create(7f), a)[i]);
            Assert.Equal(s.One01(s.Lt(a[i], 1f)), l.One01(l.Lt(a, b))[i]);
            Assert.Equal(s.One01(s.Le(a[i], 1f)), l.One01(l.Le(a, b))[i]);
        }
    }
}
