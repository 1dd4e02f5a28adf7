// Shape rules and attribute layouts of every op, one definition each. The parser calls these to
// infer and check shapes; passes and emitters read attributes through the accessors below.
using System.Collections.Generic;

namespace Authoring.Generators.Ir;

/// <summary>Conv2d attributes: [cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias].</summary>
internal readonly struct ConvAttrs
{
    readonly Node _n;
    public ConvAttrs(Node n) => _n = n;
    public int Cin => _n.Ints[0];
    public int Cout => _n.Ints[1];
    public int Kh => _n.Ints[2];
    public int Kw => _n.Ints[3];
    public int Sh => _n.Ints[4];
    public int Sw => _n.Ints[5];
    public int Ph => _n.Ints[6];
    public int Pw => _n.Ints[7];
    public int Dh => _n.Ints[8];
    public int Dw => _n.Ints[9];
    public int Groups => _n.Ints[10];
    public bool Bias => _n.Ints[11] != 0;
}

/// <summary>Pool attributes: [kh, kw, sh, sw, ph, pw].</summary>
internal readonly struct PoolAttrs
{
    readonly Node _n;
    public PoolAttrs(Node n) => _n = n;
    public int Kh => _n.Ints[0];
    public int Kw => _n.Ints[1];
    public int Sh => _n.Ints[2];
    public int Sw => _n.Ints[3];
    public int Ph => _n.Ints[4];
    public int Pw => _n.Ints[5];
}

internal static class OpRules
{
    static string Fmt(IReadOnlyList<int> s) => "(" + string.Join(", ", s) + ")";

    public static string Format(IEnumerable<int> s) => Fmt(new List<int>(s));

    /// <summary>Output (C, H, W) of a convolution, or an error message.</summary>
    public static (int[]? Shape, string? Error) Conv2d(int[] x, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups)
    {
        if (x.Length != 3) return (null, $"expects a (C, H, W) input, got {Fmt(x)}");
        if (x[0] != cin) return (null, $"expects {cin} input channels, got {x[0]} (input shape {Fmt(x)})");
        int ho = (x[1] + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
        int wo = (x[2] + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
        if (x[1] + 2 * ph - dh * (kh - 1) - 1 < 0 || x[2] + 2 * pw - dw * (kw - 1) - 1 < 0)
            return (null, $"kernel {kh}x{kw} (dilation {dh}) is larger than the padded input {Fmt(x)}");
        return (new[] { cout, ho, wo }, null);
    }

    /// <summary>Checks a convolution layer's arguments as written: <paramref name="kernelWidth"/> 0 and
    /// <paramref name="paddingWidth"/> -1 mean "as the height's". Returns the error and the constructor parameter
    /// to point at (null: the error involves several, so the layer is the location), or (null, null).</summary>
    public static (string? Error, string? Parameter) ConvHyper(int cin, int cout, int kernel, int kernelWidth, int stride,
        int padding, int paddingWidth, int dilation, int groups)
    {
        if (cin <= 0 || cout <= 0) return ("channel counts must be positive", null);
        if (kernel <= 0) return ($"kernel must be positive, got {kernel}", "kernel");
        if (kernelWidth < 0) return ($"kernelWidth must be positive (or 0 for a square kernel), got {kernelWidth}", "kernelWidth");
        if (stride <= 0) return ($"stride must be positive, got {stride}", "stride");
        if (padding < 0) return ($"padding must not be negative, got {padding}", "padding");
        if (paddingWidth < -1) return ($"paddingWidth must not be negative (or -1 for the same as padding), got {paddingWidth}", "paddingWidth");
        if (dilation <= 0) return ($"dilation must be positive, got {dilation}", "dilation");
        if (groups <= 0 || cin % groups != 0 || cout % groups != 0)
            return ($"groups ({groups}) must divide both input ({cin}) and output ({cout}) channels", null);
        return (null, null);
    }

    public static (int[]? Shape, string? Error) Linear(int[] x, int inF, int outF)
    {
        if (x.Length != 1) return (null, $"expects a (features) input, got {Fmt(x)}: Flatten it first");
        if (x[0] != inF) return (null, $"expects {inF} input features, got {x[0]}");
        return (new[] { outF }, null);
    }

    public static (int[]? Shape, string? Error) BatchNorm(int[] x, int channels, bool twoD)
    {
        if (twoD && x.Length != 3) return (null, $"BatchNorm2d expects a (C, H, W) input, got {Fmt(x)}");
        if (!twoD && x.Length != 1) return (null, $"BatchNorm1d expects a (features) input, got {Fmt(x)}");
        if (x[0] != channels) return (null, $"expects {channels} channels, got {x[0]}");
        return (x, null);
    }

    public static (int[]? Shape, string? Error) Pool(int[] x, int kh, int kw, int sh, int sw, int ph, int pw)
    {
        if (x.Length != 3) return (null, $"expects a (C, H, W) input, got {Fmt(x)}");
        if (kh <= 0 || sh <= 0 || ph < 0) return (null, "kernel and stride must be positive, padding not negative");
        if (ph * 2 > kh || pw * 2 > kw) return (null, $"padding ({ph}) must be at most half the kernel ({kh}), as PyTorch requires");
        if (x[1] + 2 * ph < kh || x[2] + 2 * pw < kw) return (null, $"window {kh}x{kw} is larger than the padded input {Fmt(x)}");
        return (new[] { x[0], (x[1] + 2 * ph - kh) / sh + 1, (x[2] + 2 * pw - kw) / sw + 1 }, null);
    }

    /// <summary>Why an UpsampleNearest output size is invalid, or null.</summary>
    public static string? UpsampleSize(string name, int size) =>
        size >= 1 ? null : $"{name} must be at least 1, got {size}";

    /// <summary>Nearest resize of (C, H, W) to (C, height, width); sizes already checked by <see cref="UpsampleSize"/>.</summary>
    public static (int[]? Shape, string? Error) UpsampleNearest(int[] x, int height, int width)
    {
        if (x.Length != 3) return (null, $"expects a (C, H, W) input, got {Fmt(x)}");
        // Per-sample sizes are ints everywhere downstream (arena offsets, kernel loops).
        if ((long)x[0] * height * width > int.MaxValue)
            return (null, $"output ({x[0]}, {height}, {width}) has more than {int.MaxValue} elements per sample");
        return (new[] { x[0], height, width }, null);
    }

    /// <summary>Element-wise binary ops: equal shapes, or one side (C, 1, 1) / (C) broadcast over (C, H, W).</summary>
    public static (int[]? Shape, string? Error) Elementwise(int[] a, int[] b)
    {
        if (Same(a, b)) return (a, null);
        if (IsChannelVector(b, a)) return (a, null);
        if (IsChannelVector(a, b)) return (b, null);
        return (null, $"shapes {Fmt(a)} and {Fmt(b)} differ; only equal shapes or a (C, 1, 1) / (C) operand broadcast over (C, H, W) are supported");
    }

    /// <summary>True when <paramref name="v"/> is (C) or (C, 1, 1) and <paramref name="full"/> is (C, H, W).</summary>
    public static bool IsChannelVector(IReadOnlyList<int> v, IReadOnlyList<int> full) =>
        full.Count == 3 && v[0] == full[0] && (v.Count == 1 || (v.Count == 3 && v[1] == 1 && v[2] == 1)) && !(full[1] == 1 && full[2] == 1);

    public static (int[]? Shape, string? Error) Concat(IReadOnlyList<int[]> parts)
    {
        if (parts.Count == 0) return (null, "needs at least one input");
        var first = parts[0];
        if (first.Length != 3 && first.Length != 1) return (null, $"expects (C, H, W) or (F) inputs, got {Fmt(first)}");
        int c = 0;
        foreach (var p in parts)
        {
            if (p.Length != first.Length || (p.Length == 3 && (p[1] != first[1] || p[2] != first[2])))
                return (null, $"inputs {Fmt(first)} and {Fmt(p)} differ in more than the channel count");
            c += p[0];
        }
        var shape = (int[])first.Clone();
        shape[0] = c;
        return (shape, null);
    }

    public static (int[]? Shape, string? Error) Slice(int[] x, int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > x[0])
            return (null, $"channels [{start}, {start + count}) are outside the input's {x[0]} channels");
        var shape = (int[])x.Clone();
        shape[0] = count;
        return (shape, null);
    }

    public static (int[]? Shape, string? Error) Reshape(int[] x, int[] target)
    {
        int a = 1, b = 1;
        foreach (int d in x) a *= d;
        foreach (int d in target)
        {
            if (d <= 0) return (null, $"target shape {Fmt(target)} must have positive dimensions");
            b *= d;
        }
        if (target.Length != 1 && target.Length != 3) return (null, $"target shape {Fmt(target)} must be (F) or (C, H, W)");
        if (a != b) return (null, $"cannot reshape {Fmt(x)} ({a} elements) to {Fmt(target)} ({b} elements)");
        return (target, null);
    }

    public static bool Same(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (a[i] != b[i]) return false;
        return true;
    }
}
