// Convolution (dense, grouped, depthwise) and fully connected layers: one thread per output
// element, gathering instead of scattering so no two threads write one element and no atomics
// are needed; weight gradients reduce over batch and positions in two ordered steps (see GpuKernels.cs).
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>y = act(scale[co] * conv(x, w)[co] + shift[co]); <paramref name="w"/> is [Cout, Cin/Groups, Kh, Kw],
    /// scale/shift of length Cout or empty (1 / 0).</summary>
    public void Conv2dForward<TAct>(in Conv2dShape s, int n, GView x, ArrayView<float> w,
        ArrayView<float> scale, ArrayView<float> shift, GView y) where TAct : struct, IActivation
    {
        int total = n * s.OutSize;
        if (total > 0) Act<TAct>().Conv2dForward(total, s, x, w, scale, shift, y);
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = conv_transpose(dy, w).</summary>
    public void Conv2dBackwardData(in Conv2dShape s, int n, GView dy, ArrayView<float> w, GView dx, bool accumulate)
    {
        int total = n * s.InSize;
        if (total == 0) return;
        (_convBackwardData ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, Conv2dShape, GView, ArrayView<float>, GView, int>(
            Conv2dBackwardDataKernel))(total, s, dy, w, dx, accumulate ? 1 : 0);
    }

    /// <summary>dw += sum over the batch of the correlation of x with dy.</summary>
    public void Conv2dBackwardWeights(in Conv2dShape s, int n, GView x, GView dy, ArrayView<float> dw)
    {
        int total = s.WeightSize;
        if (total == 0 || n == 0) return;
        // Each weight element reduces over n Ho Wo terms; cap the partials at 2M floats of scratch.
        int parts = Math.Min(Parts(n * s.Ho * s.Wo), Math.Max(1, (1 << 21) / total));
        var partials = Scratch(total * parts);
        (_convBackwardWeights ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, Conv2dShape, int, int, GView, GView, ArrayView<float>>(
            Conv2dBackwardWeightsKernel))(total * parts, s, n, parts, x, dy, partials);
        AddParts(total, parts, partials, dw);
    }

    /// <summary>y = act(scale[o] * (x W^T)[o] + shift[o]); <paramref name="w"/> is [outF, inF].</summary>
    public void LinearForward<TAct>(int n, int inF, int outF, GView x, ArrayView<float> w,
        ArrayView<float> scale, ArrayView<float> shift, GView y) where TAct : struct, IActivation
    {
        int total = n * outF;
        if (total > 0) Act<TAct>().LinearForward(total, new LinearDims(inF, outF), x, w, scale, shift, y);
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = dy W.</summary>
    public void LinearBackwardData(int n, int inF, int outF, GView dy, ArrayView<float> w, GView dx, bool accumulate)
    {
        int total = n * inF;
        if (total == 0) return;
        (_linearBackwardData ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearDims, GView, ArrayView<float>, GView, int>(
            LinearBackwardDataKernel))(total, new LinearDims(inF, outF), dy, w, dx, accumulate ? 1 : 0);
    }

    /// <summary>dw += dy^T x.</summary>
    public void LinearBackwardWeights(int n, int inF, int outF, GView x, GView dy, ArrayView<float> dw)
    {
        int total = inF * outF;
        if (total == 0 || n == 0) return;
        (_linearBackwardWeights ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearDims, int, GView, GView, ArrayView<float>>(
            LinearBackwardWeightsKernel))(total, new LinearDims(inF, outF), n, x, dy, dw);
    }

    Action<Index1D, Conv2dShape, GView, ArrayView<float>, GView, int>? _convBackwardData;
    Action<Index1D, Conv2dShape, int, int, GView, GView, ArrayView<float>>? _convBackwardWeights;
    Action<Index1D, LinearDims, GView, ArrayView<float>, GView, int>? _linearBackwardData;
    Action<Index1D, LinearDims, int, GView, GView, ArrayView<float>>? _linearBackwardWeights;

    /// <summary>Feature counts of a linear layer, packed so kernels take few parameters.</summary>
    internal readonly struct LinearDims(int inF, int outF)
    {
        public readonly int InF = inF;
        public readonly int OutF = outF;
    }

    /// <summary>One thread per output element (b, co, oy, ox).</summary>
    internal static void Conv2dForwardKernel<TAct>(Index1D index, Conv2dShape s, GView x, ArrayView<float> w,
        ArrayView<float> scale, ArrayView<float> shift, GView y) where TAct : struct, IActivation
    {
        int ho = s.Ho, wo = s.Wo, plane = ho * wo, per = s.Cout * plane;
        int i = index;
        int b = i / per, r = i - b * per;
        int co = r / plane, p = r - co * plane;
        int oy = p / wo, ox = p - oy * wo;
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups, g = co / coutG;
        int xBase = x.At(b) + g * cinG * s.H * s.W;
        int wBase = co * cinG * s.Kh * s.Kw;
        float acc = 0f;
        for (int ci = 0; ci < cinG; ci++)
        {
            int xc = xBase + ci * s.H * s.W, wc = wBase + ci * s.Kh * s.Kw;
            for (int ky = 0; ky < s.Kh; ky++)
            {
                int iy = oy * s.StrideH - s.PadH + ky * s.DilH;
                if (iy < 0 || iy >= s.H) continue;
                for (int kx = 0; kx < s.Kw; kx++)
                {
                    int ix = ox * s.StrideW - s.PadW + kx * s.DilW;
                    if (ix < 0 || ix >= s.W) continue;
                    acc += x.Data[xc + iy * s.W + ix] * w[wc + ky * s.Kw + kx];
                }
            }
        }
        float z = scale.Length > 0 ? acc * scale[co] : acc;
        if (shift.Length > 0) z += shift[co];
        y.Data[y.At(b) + r] = default(TAct).Apply(z);
    }

    /// <summary>One thread per input element (b, ci, iy, ix), gathering every (co, ky, kx) that read it.</summary>
    internal static void Conv2dBackwardDataKernel(Index1D index, Conv2dShape s, GView dy, ArrayView<float> w, GView dx, int accumulate)
    {
        int ho = s.Ho, wo = s.Wo, plane = s.H * s.W, per = s.Cin * plane;
        int i = index;
        int b = i / per, r = i - b * per;
        int ci = r / plane, p = r - ci * plane;
        int iy = p / s.W, ix = p - iy * s.W;
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups, g = ci / cinG, cil = ci - g * cinG;
        float acc = 0f;
        for (int k = 0; k < coutG; k++)
        {
            int co = g * coutG + k;
            int dyc = dy.At(b) + co * ho * wo, wc = (co * cinG + cil) * s.Kh * s.Kw;
            for (int ky = 0; ky < s.Kh; ky++)
            {
                int ty = iy + s.PadH - ky * s.DilH;
                if (ty < 0 || ty % s.StrideH != 0) continue;
                int oy = ty / s.StrideH;
                if (oy >= ho) continue;
                for (int kx = 0; kx < s.Kw; kx++)
                {
                    int tx = ix + s.PadW - kx * s.DilW;
                    if (tx < 0 || tx % s.StrideW != 0) continue;
                    int ox = tx / s.StrideW;
                    if (ox >= wo) continue;
                    acc += dy.Data[dyc + oy * wo + ox] * w[wc + ky * s.Kw + kx];
                }
            }
        }
        int o = dx.At(b) + r;
        dx.Data[o] = accumulate != 0 ? dx.Data[o] + acc : acc;
    }

    /// <summary>One thread per (weight element (co, ci, ky, kx), part j): the sum over output positions
    /// e = j, j+P, ... of the n Ho Wo (b, oy, ox) of x[b, ci, iy, ix] dy[b, co, oy, ox], into partials[index].</summary>
    internal static void Conv2dBackwardWeightsKernel(Index1D index, Conv2dShape s, int n, int parts, GView x, GView dy, ArrayView<float> partials)
    {
        int ho = s.Ho, wo = s.Wo, plane = ho * wo, kk = s.Kh * s.Kw;
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups;
        int t = index;
        int i = t / parts, j = t - i * parts;
        int co = i / (cinG * kk), r = i - co * cinG * kk;
        int cil = r / kk, k = r - cil * kk;
        int ky = k / s.Kw, kx = k - ky * s.Kw;
        int ci = co / coutG * cinG + cil;
        float acc = 0f;
        for (int e = j; e < n * plane; e += parts)
        {
            int b = e / plane, p = e - b * plane, oy = p / wo, ox = p - oy * wo;
            int iy = oy * s.StrideH - s.PadH + ky * s.DilH, ix = ox * s.StrideW - s.PadW + kx * s.DilW;
            if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
            acc += x.Data[x.At(b) + (ci * s.H + iy) * s.W + ix] * dy.Data[dy.At(b) + co * plane + p];
        }
        partials[t] = acc;
    }

    /// <summary>One thread per output element (b, o).</summary>
    internal static void LinearForwardKernel<TAct>(Index1D index, LinearDims d, GView x, ArrayView<float> w,
        ArrayView<float> scale, ArrayView<float> shift, GView y) where TAct : struct, IActivation
    {
        int i = index;
        int b = i / d.OutF, o = i - b * d.OutF;
        int xb = x.At(b), wb = o * d.InF;
        float acc = 0f;
        for (int k = 0; k < d.InF; k++) acc += x.Data[xb + k] * w[wb + k];
        float z = scale.Length > 0 ? acc * scale[o] : acc;
        if (shift.Length > 0) z += shift[o];
        y.Data[y.At(b) + o] = default(TAct).Apply(z);
    }

    /// <summary>One thread per input element (b, i).</summary>
    internal static void LinearBackwardDataKernel(Index1D index, LinearDims d, GView dy, ArrayView<float> w, GView dx, int accumulate)
    {
        int t = index;
        int b = t / d.InF, i = t - b * d.InF;
        int dyb = dy.At(b);
        float acc = 0f;
        for (int o = 0; o < d.OutF; o++) acc += dy.Data[dyb + o] * w[o * d.InF + i];
        int at = dx.At(b) + i;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + acc : acc;
    }

    /// <summary>One thread per weight element (o, i), summing over the batch in order.</summary>
    internal static void LinearBackwardWeightsKernel(Index1D index, LinearDims d, int n, GView x, GView dy, ArrayView<float> dw)
    {
        int t = index;
        int o = t / d.InF, i = t - o * d.InF;
        float acc = 0f;
        for (int b = 0; b < n; b++) acc += dy.Data[dy.At(b) + o] * x.Data[x.At(b) + i];
        dw[t] += acc;
    }
}
