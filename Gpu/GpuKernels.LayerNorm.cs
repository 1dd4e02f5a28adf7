// Layer normalisation over the last axis, mirroring Runtime's LayerNormKernel: one thread per row for the
// forward pass (two-pass mean and biased variance, optional saved mean and 1/std) and for the data gradient; the
// parameter gradients reduce over all rows in two ordered steps (partials over interleaved rows, then an ordered
// combine per column; see GpuKernels.cs), so they are deterministic without atomics.
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Evaluation forward: y = (x - mean) / sqrt(var + eps) * gamma + beta per row of <paramref name="dim"/>
    /// (<paramref name="rows"/> rows per sample); empty gamma / beta mean 1 / 0.</summary>
    public void LayerNormForward(int n, int rows, int dim, GView x, ArrayView<float> gamma, ArrayView<float> beta, float eps, GView y)
        => LayerNormForwardTrain(n, rows, dim, x, gamma, beta, eps, y, default);

    /// <summary>Training forward: as <see cref="LayerNormForward"/>, and each row's mean and 1/sqrt(var + eps) into
    /// <paramref name="stats"/> (per sample: the means, then the inverse standard deviations; skipped when its data
    /// is empty).</summary>
    public void LayerNormForwardTrain(int n, int rows, int dim, GView x, ArrayView<float> gamma, ArrayView<float> beta, float eps, GView y, GView stats)
    {
        if (n * rows * dim == 0) return;
        (_lnForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RowDims, GView, ArrayView<float>, ArrayView<float>, float, GView, GView>(
            LayerNormForwardKernel))(n * rows, new RowDims(rows, dim), x, gamma, beta, eps, y, stats);
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = rstd (g - mean(g) - x_hat mean(g x_hat)) per row,
    /// g = dy gamma (empty gamma: 1).</summary>
    public void LayerNormBackwardData(int n, int rows, int dim, GView x, GView dy, GView stats, ArrayView<float> gamma, GView dx, bool accumulate)
    {
        if (n * rows * dim == 0) return;
        (_lnBackwardData ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RowDims, GView, GView, GView, ArrayView<float>, GView, int>(
            LayerNormBackwardDataKernel))(n * rows, new RowDims(rows, dim), x, dy, stats, gamma, dx, accumulate ? 1 : 0);
    }

    /// <summary>dGamma += sum over rows of dy x_hat; dBeta += sum over rows of dy (skipped when empty).</summary>
    public void LayerNormBackwardParams(int n, int rows, int dim, GView x, GView dy, GView stats, ArrayView<float> dGamma, ArrayView<float> dBeta)
    {
        if (n * rows * dim == 0) return;
        int parts = Parts(n * rows);
        var partials = Scratch(2 * dim * parts);
        (_lnParamPartials ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RowDims, int, int, GView, GView, GView, ArrayView<float>>(
            LayerNormParamPartialsKernel))(dim * parts, new RowDims(rows, dim), n * rows, parts, x, dy, stats, partials);
        AddParts(dim, parts, partials.SubView(0, dim * parts), dGamma);
        if (dBeta.Length > 0) AddParts(dim, parts, partials.SubView(dim * parts, dim * parts), dBeta);
    }

    Action<Index1D, RowDims, GView, ArrayView<float>, ArrayView<float>, float, GView, GView>? _lnForward;
    Action<Index1D, RowDims, GView, GView, GView, ArrayView<float>, GView, int>? _lnBackwardData;
    Action<Index1D, RowDims, int, int, GView, GView, GView, ArrayView<float>>? _lnParamPartials;

    /// <summary>Rows per sample and floats per row, packed so kernels take few parameters.</summary>
    internal readonly struct RowDims(int rows, int cols)
    {
        public readonly int Rows = rows;
        public readonly int Cols = cols;
    }

    /// <summary>One thread per row (b, i).</summary>
    internal static void LayerNormForwardKernel(Index1D index, RowDims d, GView x, ArrayView<float> gamma, ArrayView<float> beta, float eps, GView y, GView stats)
    {
        int r = index;
        int b = r / d.Rows, i = r - b * d.Rows;
        int xo = x.At(b) + i * d.Cols, yo = y.At(b) + i * d.Cols;
        float sum = 0f;
        for (int j = 0; j < d.Cols; j++) sum += x.Data[xo + j];
        float mean = sum / d.Cols, sq = 0f;
        for (int j = 0; j < d.Cols; j++)
        {
            float t = x.Data[xo + j] - mean;
            sq += t * t;
        }
        float rstd = 1f / MathF.Sqrt(sq / d.Cols + eps);
        if (stats.Data.Length > 0)
        {
            stats.Data[stats.At(b) + i] = mean;
            stats.Data[stats.At(b) + d.Rows + i] = rstd;
        }
        for (int j = 0; j < d.Cols; j++)
        {
            float v = (x.Data[xo + j] - mean) * rstd;
            if (gamma.Length > 0) v *= gamma[j];
            if (beta.Length > 0) v += beta[j];
            y.Data[yo + j] = v;
        }
    }

    /// <summary>One thread per row (b, i).</summary>
    internal static void LayerNormBackwardDataKernel(Index1D index, RowDims d, GView x, GView dy, GView stats, ArrayView<float> gamma, GView dx, int accumulate)
    {
        int r = index;
        int b = r / d.Rows, i = r - b * d.Rows;
        int xo = x.At(b) + i * d.Cols, go = dy.At(b) + i * d.Cols, ox = dx.At(b) + i * d.Cols;
        float mean = stats.Data[stats.At(b) + i], rstd = stats.Data[stats.At(b) + d.Rows + i];
        float sg = 0f, sgx = 0f;
        for (int j = 0; j < d.Cols; j++)
        {
            float g = gamma.Length > 0 ? dy.Data[go + j] * gamma[j] : dy.Data[go + j];
            sg += g;
            sgx += g * (x.Data[xo + j] - mean) * rstd;
        }
        float mg = sg / d.Cols, mgx = sgx / d.Cols;
        for (int j = 0; j < d.Cols; j++)
        {
            float g = gamma.Length > 0 ? dy.Data[go + j] * gamma[j] : dy.Data[go + j];
            float v = rstd * (g - mg - (x.Data[xo + j] - mean) * rstd * mgx);
            dx.Data[ox + j] = accumulate != 0 ? dx.Data[ox + j] + v : v;
        }
    }

    /// <summary>One thread per (column j, part p): sums of dy x_hat and dy over rows p, p + parts, ... into
    /// partials[j * parts + p] and partials[(dim + j) * parts + p].</summary>
    internal static void LayerNormParamPartialsKernel(Index1D index, RowDims d, int total, int parts, GView x, GView dy, GView stats, ArrayView<float> partials)
    {
        int t = index;
        int j = t / parts, p = t - j * parts;
        float sg = 0f, sb = 0f;
        for (int r = p; r < total; r += parts)
        {
            int b = r / d.Rows, i = r - b * d.Rows;
            float mean = stats.Data[stats.At(b) + i], rstd = stats.Data[stats.At(b) + d.Rows + i];
            float g = dy.Data[dy.At(b) + i * d.Cols + j];
            sg += g * (x.Data[x.At(b) + i * d.Cols + j] - mean) * rstd;
            sb += g;
        }
        partials[t] = sg;
        partials[d.Cols * parts + t] = sb;
    }
}
