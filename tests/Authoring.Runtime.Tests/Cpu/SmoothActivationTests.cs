// Exact GELU's value and derivative in all three forms (scalar, 8 and 16 lanes) against double-precision erf and
// the Gaussian, over a grid that covers the erf approximation's whole range (both signs, the saturated tails, zero).
// The vector derivative shares erf's exponential with the phi term, so a wrong argument there shows up here; the
// float exponential erf uses (FastExp) is checked to a relative 2^-22 over the arguments erf gives it.
using System.Runtime.Intrinsics;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Tests.Cpu;

public class SmoothActivationTests
{
    // Abramowitz & Stegun 7.1.26 is within 1.5e-7 of erf in exact arithmetic (about 2.5e-7 in float): GELU's value
    // inherits 0.5 |z| of it, its derivative 0.5 of it plus the rounding of z phi(z) (at most 0.25, relative u).
    // 4e-7 (1 + |z|) covers both with a margin; a wrong constant or argument is off by 1e-3 or more.
    static double Tol(double z) => 4e-7 * (1 + Math.Abs(z));

    static double ErfRef(double x)
    {
        // erf by its Taylor series (|x| <= 3) or by 1 - erfc's continued fraction (|x| > 3), to ~1e-15.
        double ax = Math.Abs(x), r;
        if (ax <= 3)
        {
            double sum = 0, term = ax;
            for (int k = 0; k < 200; k++)
            {
                sum += term / (2 * k + 1);
                term *= -ax * ax / (k + 1);
                if (Math.Abs(term) < 1e-18) break;
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double f = 0;
            for (int k = 60; k >= 1; k--) f = k / 2.0 / (ax + f);
            r = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f);
        }
        return x < 0 ? -r : r;
    }

    static double GeluRef(double z) => 0.5 * z * (1 + ErfRef(z / Math.Sqrt(2)));

    static double GeluDerivRef(double z) => 0.5 * (1 + ErfRef(z / Math.Sqrt(2))) + z * Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);

    static float[] Points()
    {
        var p = new List<float> { 0f, -0f, 1e-6f, -1e-6f, 8f, -8f, 12f, -12f };
        for (int i = -640; i <= 640; i++) p.Add(i / 100f + 0.0037f);
        while (p.Count % 16 != 0) p.Add(0.5f);
        return p.ToArray();
    }

    [Fact]
    public void ReferenceErfIsExact()
    {
        // Known values (to 1e-12) so the reference itself is checked, not assumed.
        Assert.Equal(0.8427007929497149, ErfRef(1), 12);
        Assert.Equal(-0.9953222650189527, ErfRef(-2), 12);
        Assert.Equal(0.9999779095030014, ErfRef(3), 12);
        Assert.Equal(0.9999999845827421, ErfRef(4), 12);
    }

    [Fact]
    public void GeluValueAndDerivativeMatchReferenceOnEveryWidth()
    {
        var z = Points();
        var g = default(Gelu);
        for (int i = 0; i < z.Length; i += 16)
        {
            var v512 = Vector512.Create(z, i);
            var v256 = Vector256.Create(z, i);
            var a512 = g.Apply(v512); var d512 = g.Derivative(v512);
            var a256 = g.Apply(v256); var d256 = g.Derivative(v256);
            for (int l = 0; l < 16; l++)
            {
                double x = z[i + l], tol = Tol(x);
                double y = GeluRef(x), dy = GeluDerivRef(x);
                Assert.True(Math.Abs(g.Apply(z[i + l]) - y) <= tol, $"scalar gelu({x}) = {g.Apply(z[i + l])}, want {y}");
                Assert.True(Math.Abs(g.Derivative(z[i + l]) - dy) <= tol, $"scalar gelu'({x}) = {g.Derivative(z[i + l])}, want {dy}");
                Assert.True(Math.Abs(a512[l] - y) <= tol, $"512 gelu({x}) = {a512[l]}, want {y}");
                Assert.True(Math.Abs(d512[l] - dy) <= tol, $"512 gelu'({x}) = {d512[l]}, want {dy}");
                if (l < 8)
                {
                    Assert.True(Math.Abs(a256[l] - y) <= tol, $"256 gelu({x}) = {a256[l]}, want {y}");
                    Assert.True(Math.Abs(d256[l] - dy) <= tol, $"256 gelu'({x}) = {d256[l]}, want {dy}");
                }
            }
        }
        // Vector256.Create(z, i) covered lanes 0-7 of each 16: the upper halves too.
        for (int i = 8; i < z.Length; i += 16)
        {
            var d256 = g.Derivative(Vector256.Create(z, i));
            for (int l = 0; l < 8; l++)
            {
                double x = z[i + l];
                Assert.True(Math.Abs(d256[l] - GeluDerivRef(x)) <= Tol(x), $"256 gelu'({x}) = {d256[l]}, want {GeluDerivRef(x)}");
            }
        }
    }

    [Fact]
    public void ErfsExponentialIsWithinRelative2Pow22OnEveryWidth()
    {
        // Every 1/64 from 0 down to the clamp at -86, plus offsets that land between the range reduction's steps.
        var x = new List<float>();
        for (int i = 0; i <= 86 * 64; i++) { x.Add(-i / 64f); x.Add(-i / 64f - 0.0051f); }
        while (x.Count % 16 != 0) x.Add(-1f);
        var a = x.ToArray();
        for (int i = 0; i < a.Length; i += 16)
        {
            var e512 = FastExp.Exp(Vector512.Create(a, i));
            var lo = FastExp.Exp(Vector256.Create(a, i));
            var hi = FastExp.Exp(Vector256.Create(a, i + 8));
            for (int l = 0; l < 16; l++)
            {
                double want = Math.Exp(a[i + l]);
                if (a[i + l] < -86f) continue;
                // Relative 2^-22: 2 to 4 ulp, depending on where in its binade the result lies.
                double tol = 2 * want * Math.Pow(2, -23);
                Assert.True(Math.Abs(e512[l] - want) <= tol, $"512 exp({a[i + l]}) = {e512[l]}, want {want}");
                float v256 = l < 8 ? lo[l] : hi[l - 8];
                Assert.True(Math.Abs(v256 - want) <= tol, $"256 exp({a[i + l]}) = {v256}, want {want}");
            }
        }
        // Below the clamp the result is exp(-86), a normal float, never 0 or a denormal.
        Assert.Equal(FastExp.Exp(Vector512.Create(-86f))[0], FastExp.Exp(Vector512.Create(-1000f))[0]);
        Assert.True(float.IsNormal(FastExp.Exp(Vector512.Create(-1000f))[0]));
    }
}
