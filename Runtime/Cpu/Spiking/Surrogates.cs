// Surrogate gradients of the spike function, as SpikingJelly's `surrogate` module defines them: the
// forward is always the Heaviside step H(x) = (x >= 0), and the backward replaces its derivative by
// g'(x) of a smooth or piecewise "primitive" g. x is h - v_threshold. Constants are derived from alpha
// in double and rounded once, as PyTorch rounds a Python float scalar against a float32 tensor.
// alpha has no default value in the constructors: `new SigmoidSurrogate()` on a struct would bypass an
// optional-argument constructor and give alpha = 0 (SpikingJelly's defaults are in each type's docs).
using System.Runtime.CompilerServices;

namespace Authoring.Runtime.Cpu.Spiking;

/// <summary>The derivative used in place of the Heaviside step's in backward (SpikingJelly's
/// <c>surrogate.*.backward</c>), over any lane type.</summary>
public interface ISurrogate
{
    /// <summary>g'(x) at x = h - v_threshold.</summary>
    TV Grad<TV, TL>(TV x) where TV : struct where TL : struct, ILanes<TV>;
}

/// <summary>SpikingJelly <c>surrogate.Sigmoid(alpha=4)</c>: g(x) = sigmoid(alpha x),
/// g'(x) = alpha sigmoid(alpha x) (1 - sigmoid(alpha x)).</summary>
public readonly struct SigmoidSurrogate : ISurrogate
{
    /// <summary>Sharpness; SpikingJelly's default is 4.</summary>
    public readonly float Alpha;

    /// <summary>The sigmoid surrogate with the given <paramref name="alpha"/>.</summary>
    public SigmoidSurrogate(float alpha) => Alpha = alpha;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Grad<TV, TL>(TV x) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        // alpha sigmoid(ax) (1 - sigmoid(ax)) = alpha e / (1 + e)^2 with e = exp(-|ax|): symmetric, and without the
        // cancellation of 1 - sigmoid(ax) that costs the usual form its relative accuracy where |ax| is large.
        var e = l.Exp(l.Sub(l.Splat(0f), l.Abs(l.Mul(x, l.Splat(Alpha)))));
        var d = l.Add(l.Splat(1f), e);
        return l.Div(l.Mul(l.Splat(Alpha), e), l.Mul(d, d));
    }
}

/// <summary>SpikingJelly <c>surrogate.ATan(alpha=2)</c>: g(x) = arctan(pi/2 alpha x) / pi + 1/2,
/// g'(x) = (alpha/2) / (1 + (pi/2 alpha x)^2).</summary>
public readonly struct ATanSurrogate : ISurrogate
{
    /// <summary>Sharpness; SpikingJelly's default is 2.</summary>
    public readonly float Alpha;
    readonly float _half, _slope;

    /// <summary>The arc-tangent surrogate with the given <paramref name="alpha"/>.</summary>
    public ATanSurrogate(float alpha)
    {
        Alpha = alpha;
        _half = (float)(alpha / 2.0);
        _slope = (float)(Math.PI * (alpha / 2.0));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Grad<TV, TL>(TV x) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        var ax = l.Mul(l.Splat(_slope), x);
        return l.Div(l.Splat(_half), l.Add(l.Splat(1f), l.Mul(ax, ax)));
    }
}

/// <summary>SpikingJelly <c>surrogate.Rect(alpha=1)</c>, the rectangular window: g(x) = clip(alpha x + 1/2, 0, 1),
/// g'(x) = alpha where |x| &lt; 0.5/alpha, else 0.</summary>
public readonly struct RectSurrogate : ISurrogate
{
    /// <summary>Height of the window (its width is 1/alpha); SpikingJelly's default is 1.</summary>
    public readonly float Alpha;
    readonly float _halfWidth;

    /// <summary>The rectangular surrogate with the given <paramref name="alpha"/>.</summary>
    public RectSurrogate(float alpha)
    {
        Alpha = alpha;
        _halfWidth = (float)(0.5 / alpha);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Grad<TV, TL>(TV x) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Select(l.Lt(l.Abs(x), l.Splat(_halfWidth)), l.Splat(Alpha), l.Splat(0f));
    }
}

/// <summary>SpikingJelly <c>surrogate.PiecewiseQuadratic(alpha=1)</c>, whose gradient is the triangular window:
/// g'(x) = alpha - alpha^2 |x| where |x| &lt;= 1/alpha, else 0 (g is piecewise quadratic, 0 below -1/alpha and 1
/// above 1/alpha).</summary>
public readonly struct PiecewiseQuadraticSurrogate : ISurrogate
{
    /// <summary>Peak of the triangle (its half-width is 1/alpha); SpikingJelly's default is 1.</summary>
    public readonly float Alpha;
    readonly float _alpha2, _halfWidth;

    /// <summary>The triangular surrogate with the given <paramref name="alpha"/>.</summary>
    public PiecewiseQuadraticSurrogate(float alpha)
    {
        Alpha = alpha;
        _alpha2 = (float)((double)alpha * alpha);
        _halfWidth = (float)(1.0 / alpha);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Grad<TV, TL>(TV x) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        var ax = l.Abs(x);
        return l.Select(l.Le(ax, l.Splat(_halfWidth)), l.Sub(l.Splat(Alpha), l.Mul(l.Splat(_alpha2), ax)), l.Splat(0f));
    }
}
