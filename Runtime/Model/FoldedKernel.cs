// The run-time half of structural re-parameterization: a deploy model's merged conv or linear weights,
// accumulated in double from the training model's tensors. Generated ToDeploy methods replay the
// fold the generator derived (terms placed in the merged window, BatchNorms applied, branches summed).
namespace Authoring.Runtime;

/// <summary>A convolution kernel [cout, cin/groups, kh, kw] plus bias [cout] under construction, in double
/// so that folding several branches and BatchNorms rounds once, when written to the deploy model.</summary>
public sealed class FoldedKernel
{
    readonly double[] _w;
    readonly double[] _b;

    /// <summary>An all-zero kernel of the merged shape (a linear layer is a 1x1 kernel with <paramref name="cinPerGroup"/> inputs).</summary>
    public FoldedKernel(int cout, int cinPerGroup, int kh, int kw)
    {
        if (cout <= 0 || cinPerGroup <= 0 || kh <= 0 || kw <= 0)
            throw new ArgumentOutOfRangeException(nameof(cout), $"Kernel dimensions must be positive, got [{cout}, {cinPerGroup}, {kh}, {kw}].");
        Cout = cout;
        CinPerGroup = cinPerGroup;
        Kh = kh;
        Kw = kw;
        _w = new double[cout * cinPerGroup * kh * kw];
        _b = new double[cout];
    }

    /// <summary>Output channels.</summary>
    public int Cout { get; }
    /// <summary>Input channels each output channel reads.</summary>
    public int CinPerGroup { get; }
    /// <summary>Kernel height.</summary>
    public int Kh { get; }
    /// <summary>Kernel width.</summary>
    public int Kw { get; }

    /// <summary>Weight element [o, i, y, x].</summary>
    public double Weight(int o, int i, int y, int x) => _w[((o * CinPerGroup + i) * Kh + y) * Kw + x];

    /// <summary>Bias element.</summary>
    public double Bias(int o) => _b[o];

    /// <summary>Adds a branch's [cout, cin/groups, th, tw] weight at offset (dy, dx) of the merged window, and its bias if any (<paramref name="biasOffset"/> &lt; 0: none).</summary>
    public FoldedKernel AddTerm(float[] source, int weightOffset, int biasOffset, int th, int tw, int dy, int dx)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (dy < 0 || dx < 0 || dy + th > Kh || dx + tw > Kw)
            throw new ArgumentOutOfRangeException(nameof(dy), $"A {th}x{tw} branch at ({dy}, {dx}) does not fit the {Kh}x{Kw} merged kernel.");
        int length = Cout * CinPerGroup * th * tw;
        if (weightOffset < 0 || weightOffset + length > source.Length || biasOffset + Cout > source.Length)
            throw new ArgumentOutOfRangeException(nameof(weightOffset), "The branch's tensors lie outside the parameter store.");
        for (int o = 0; o < Cout; o++)
            for (int i = 0; i < CinPerGroup; i++)
                for (int y = 0; y < th; y++)
                    for (int x = 0; x < tw; x++)
                        _w[((o * CinPerGroup + i) * Kh + dy + y) * Kw + dx + x] += source[weightOffset + ((o * CinPerGroup + i) * th + y) * tw + x];
        if (biasOffset >= 0)
            for (int o = 0; o < Cout; o++) _b[o] += source[biasOffset + o];
        return this;
    }

    /// <summary>Adds the identity: output channel o reads input channel o (its index within its group) at (dy, dx).
    /// Only meaningful when input and output channels are equal.</summary>
    public FoldedKernel AddIdentity(int dy, int dx)
    {
        if (dy < 0 || dx < 0 || dy >= Kh || dx >= Kw)
            throw new ArgumentOutOfRangeException(nameof(dy), $"Identity position ({dy}, {dx}) is outside the {Kh}x{Kw} kernel.");
        for (int o = 0; o < Cout; o++)
            _w[((o * CinPerGroup + o % CinPerGroup) * Kh + dy) * Kw + dx] += 1.0;
        return this;
    }

    /// <summary>Applies evaluation-mode BatchNorm y = (v - mean) / sqrt(var + eps) * gamma + beta to the kernel's output.</summary>
    public FoldedKernel BatchNorm(float[] source, int gammaOffset, int betaOffset, int meanOffset, int varOffset, float eps)
    {
        ArgumentNullException.ThrowIfNull(source);
        int per = CinPerGroup * Kh * Kw;
        for (int o = 0; o < Cout; o++)
        {
            double scale = source[gammaOffset + o] / Math.Sqrt((double)source[varOffset + o] + eps);
            for (int k = 0; k < per; k++) _w[o * per + k] *= scale;
            _b[o] = (_b[o] - source[meanOffset + o]) * scale + source[betaOffset + o];
        }
        return this;
    }

    /// <summary>Makes the kernel read RepBN(v) = BN(v) + alpha v (evaluation BatchNorm, alpha a scalar) instead of v:
    /// with s = gamma / sqrt(var + eps) and t = beta - mean s per input channel, W' = W diag(s + alpha) and
    /// b' = b + W t. Only a 1x1 kernel with one group (a linear layer), whose input channels are the BatchNorm's.</summary>
    public FoldedKernel PrecedeRepBatchNorm(float[] source, int gammaOffset, int betaOffset, int meanOffset, int varOffset, float eps, int alphaOffset)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Kh != 1 || Kw != 1) throw new InvalidOperationException($"A preceding RepBN folds into a linear (1x1) kernel, not {Kh}x{Kw}.");
        if (alphaOffset < 0 || alphaOffset >= source.Length || varOffset < 0 || varOffset + CinPerGroup > source.Length)
            throw new ArgumentOutOfRangeException(nameof(alphaOffset), "The RepBN's tensors lie outside the parameter store.");
        double alpha = source[alphaOffset];
        var scale = new double[CinPerGroup];
        var shift = new double[CinPerGroup];
        for (int i = 0; i < CinPerGroup; i++)
        {
            double sc = source[gammaOffset + i] / Math.Sqrt((double)source[varOffset + i] + eps);
            scale[i] = sc + alpha;
            shift[i] = source[betaOffset + i] - source[meanOffset + i] * sc;
        }
        for (int o = 0; o < Cout; o++)
        {
            double bias = 0;
            for (int i = 0; i < CinPerGroup; i++)
            {
                double w = _w[o * CinPerGroup + i];
                bias += w * shift[i];
                _w[o * CinPerGroup + i] = w * scale[i];
            }
            _b[o] += bias;
        }
        return this;
    }

    /// <summary>Adds another branch of the same merged shape.</summary>
    public FoldedKernel Add(FoldedKernel other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Cout != Cout || other.CinPerGroup != CinPerGroup || other.Kh != Kh || other.Kw != Kw)
            throw new ArgumentException("Branches of one fold must share the merged kernel shape.", nameof(other));
        for (int i = 0; i < _w.Length; i++) _w[i] += other._w[i];
        for (int o = 0; o < Cout; o++) _b[o] += other._b[o];
        return this;
    }

    /// <summary>Rounds the kernel to float into the deploy model's store.</summary>
    public void WriteTo(float[] target, int weightOffset, int biasOffset)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (weightOffset < 0 || weightOffset + _w.Length > target.Length || biasOffset < 0 || biasOffset + Cout > target.Length)
            throw new ArgumentOutOfRangeException(nameof(weightOffset), "The merged tensors lie outside the deploy parameter store.");
        for (int i = 0; i < _w.Length; i++) target[weightOffset + i] = (float)_w[i];
        for (int o = 0; o < Cout; o++) target[biasOffset + o] = (float)_b[o];
    }
}
