// The rounding-error bound of the Winograd paths (Runtime/Cpu/Winograd.cs), derived from their transforms and their order
// of operations, per output, from the actual data and weights (the standard analysis: Lavin and Gray 2016; Barabasz, Anderson,
// Soodhalter and Gregg, "Error analysis and improving the accuracy of Winograd convolution", 2020).
//
// Every transform is a sum of inputs times constants, evaluated with +, -, * and FMA in float32. Expanded, a computed output
// is sum over paths (coefficients along the path) * input * prod (1 + delta_r) over the roundings r on that path, each
// |delta_r| <= u = 2^-24 (round to nearest, no underflow or overflow: the data are uniform in [-1, 1]); a constant that is
// not a float (1/6, 1/12, 1/24) is one more such factor, fl(c) = c (1 + delta); products by 2, 4, 8, 1/2, 1/4 are exact.
// Each input reaches each transform output along one path whose coefficient is the matrix entry (checked below against
// the code), so with k the most roundings on any path (Higham, Accuracy and Stability of Numerical Algorithms, 3.1-3.4):
//   |computed - exact| <= gamma_k * |A^T| ( sum_c (|G| |g| |G^T|) (.) (|B^T| |d| |B|) ) |A|,  gamma_k = k u / (1 - k u),
// the exact Winograd algorithm with every matrix, datum and weight replaced by its absolute value (Abs below). The
// weight gradient is the same with the roles A dY A^T (gradient transform) and G^T . G (output transform).
// k for each pass is counted in Depth* below from the code's expression trees; it is not fitted to measurements.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

/// <summary>The transforms of F(m x m, 3 x 3) exactly as Winograd.cs applies them: A^T (m x (m+2)), G ((m+2) x 3) and
/// B^T ((m+2) x (m+2)); the weight gradient's gradient transform is A (A^T's transpose), its output transform G^T.</summary>
internal sealed record WinogradTransforms(int M, double[,] At, double[,] G, double[,] Bt)
{
    /// <summary>Winograd.cs's F(2x2, 3x3) (Col512/Row512, ColG/RowG, Sums512, GradRow512) and F(4x4, 3x3) (Bt6, G6, At6, A6, Gt6).</summary>
    public static WinogradTransforms Of(int m) => m == 2
        ? new(2,
            new double[,] { { 1, 1, 1, 0 }, { 0, 1, -1, -1 } },
            new double[,] { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } },
            new double[,] { { 1, 0, -1, 0 }, { 0, 1, 1, 0 }, { 0, -1, 1, 0 }, { 0, 1, 0, -1 } })
        : new(4,
            new double[,] { { 1, 1, 1, 1, 1, 0 }, { 0, 1, -1, 2, -2, 0 }, { 0, 1, 1, 4, 4, 0 }, { 0, 1, -1, 8, -8, 1 } },
            new double[,]
            {
                { 1.0 / 4, 0, 0 }, { -1.0 / 6, -1.0 / 6, -1.0 / 6 }, { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
                { 1.0 / 24, 1.0 / 12, 1.0 / 6 }, { 1.0 / 24, -1.0 / 12, 1.0 / 6 }, { 0, 0, 1 },
            },
            new double[,]
            {
                { 4, 0, -5, 0, 1, 0 }, { 0, -4, -4, 1, 1, 0 }, { 0, 4, -4, -1, 1, 0 },
                { 0, -2, -1, 2, 1, 0 }, { 0, 2, -1, -2, 1, 0 }, { 0, 4, 0, -5, 0, 1 },
            });

    public int T => M + 2;

    public WinogradTransforms Abs() => new(M, Map(At, Math.Abs), Map(G, Math.Abs), Map(Bt, Math.Abs));

    /// <summary>A copy with entry (i, j) of one matrix ("At", "G" or "Bt") multiplied by <paramref name="factor"/>.</summary>
    public WinogradTransforms Perturbed(string matrix, int i, int j, double factor)
    {
        double[,] at = (double[,])At.Clone(), g = (double[,])G.Clone(), bt = (double[,])Bt.Clone();
        (matrix switch { "At" => at, "G" => g, "Bt" => bt, _ => throw new ArgumentException(matrix) })[i, j] *= factor;
        return new(M, at, g, bt);
    }

    static double[,] Map(double[,] a, Func<double, double> f)
    {
        var r = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) r[i, j] = f(a[i, j]);
        return r;
    }
}

internal static class WinogradBound
{
    /// <summary>gamma_k = k u / (1 - k u): the bound on |prod of k factors (1 + delta), |delta| &lt;= u, minus 1|.</summary>
    public static double Gamma(int k) => k * TestUtil.U / (1 - k * TestUtil.U);

    /// <summary>Most roundings on a path through forward / data gradient (Winograd.Run), reducing over <paramref name="channels"/>:
    /// <list type="bullet">
    /// <item>B^T d B: F(2): each of Col/Row one add or subtract: 1 + 1 = 2. F(4): Bt6 per pass two (w0 = fma(4, d0, fma(-5, d2, d4)),
    /// w1 = fma(-4, d1 + d2, d3 + d4), ... each input through an add or inner fma, then the outer fma): 2 + 2 = 4.</item>
    /// <item>G g G^T: F(2): ColG/RowG r1 = ((g0 + g2) + g1) * 1/2, two adds (the halving exact): 2 + 2 = 4. F(4): G6 per pass
    /// four: r1 = ((g0 + g2) + g1) * fl(-1/6) is two adds, the multiply and fl(-1/6); r3 = fma(g0, fl(1/24), g2 * fl(1/6)) + g1 * fl(1/12)
    /// is fl(1/6), the multiply, the fma and the add for g2 (g0 and g1: three); r0 = g0 / 4 exact: 4 + 4 = 8.</item>
    /// <item>The transformed-domain dot product (ConvDirect.Kernel, accumulators from zero, one FMA per channel, in channel order):
    /// the first channel's product is rounded by every one of the <paramref name="channels"/> FMAs.</item>
    /// <item>A^T M A: F(2): Sums s = (m0 + m1) + m2 per pass: 2 + 2 = 4. F(4): At6 o0 = (m0 + (m1 + m2)) + (m3 + m4) and
    /// o3 = fma(8, m3 - m4, m1 - m2) + m5, three per pass: 3 + 3 = 6.</item>
    /// <item>ConvDirect.WriteOut: a plain copy; dx += one more (<paramref name="accumulate"/>).</item>
    /// </list></summary>
    public static int DepthForward(int m, int channels, bool accumulate) =>
        (m == 2 ? 2 + 4 + 4 : 4 + 8 + 6) + channels + (accumulate ? 1 : 0);

    /// <summary>Most roundings on a path through the weight gradient (Winograd.BackwardWeights):
    /// <list type="bullet">
    /// <item>B^T d B as in <see cref="DepthForward"/>: 2 (F(2)), 4 (F(4)).</item>
    /// <item>A dy A^T: F(2): GradTransform's a0 + a1 then GradRow's a + b: 1 + 1 = 2. F(4): A6 z1 = (y0 + y2) + (y1 + y3) and
    /// z3 = fma(4, y2, y0) + 2 fma(4, y3, y1), two per pass: 2 + 2 = 4.</item>
    /// <item>The sum over tiles (ConvDirect.Kernel with accumulate): within a block one FMA per tile from zero, then one add of
    /// the block into the chunk's partial; a term is rounded by at most every tile of its chunk (at most n * tiles), one add per
    /// block (blocks hold 24 tiles or more or whole samples: at most n * ceil(tiles / 24)), and one add per further chunk when
    /// the chunks are summed (chunks &lt;= n).</item>
    /// <item>G^T dU G: F(2): GtCol h0 = a0 + (a1 + a2) / 2, two per pass: 2 + 2 = 4. F(4): Gt6's third row
    /// (((u3 + u4) - u1) - u2) * fl(1/6) + u5 is three adds, fl(1/6), the multiply and the add (its first row five, second four):
    /// 6 + 6 = 12.</item>
    /// <item>dw += the result: one.</item>
    /// </list></summary>
    public static int DepthWeights(int m, int n, int tiles) =>
        (m == 2 ? 2 + 2 + 4 : 4 + 4 + 12) + n * tiles + n * ((tiles + 23) / 24) + (n - 1) + 1;

    /// <summary>Tiles per sample of F(m x m) over the shape's outputs.</summary>
    public static int Tiles(in Conv2dShape s, int m) => ((s.Ho + m - 1) / m) * ((s.Wo + m - 1) / m);

    /// <summary>The tolerance of one output: gamma_depth times its absolute expansion <paramref name="abs"/> (plus |prior value|
    /// where the kernel adds into one), and the error of the double-precision reference (a direct sum of at most
    /// <paramref name="refTerms"/> products) and of the double evaluation of abs, each under (depth + refTerms) 2^-53 abs.</summary>
    public static double Tol(double abs, int depth, int refTerms) => (Gamma(depth) + (depth + refTerms) * Math.ScaleB(1.0, -52)) * abs;

    /// <summary>Per forward output, not yet scaled by gamma: the absolute Winograd expansion of the convolution of an input
    /// bounded by <paramref name="xAbs"/> (|x|, or a bound on the input a fused prologue computes) with w.</summary>
    public static double[] ForwardAbs(in Conv2dShape s, int n, int m, double[] xAbs, float[] w) =>
        Convolve(WinogradTransforms.Of(m).Abs(), n, s.Cin, s.H, s.W, s.Cout, s.PadH, s.PadW, xAbs, Abs(w));

    /// <summary>Per data-gradient output, not yet scaled by gamma: the absolute Winograd expansion of dy convolved, padding
    /// 2 - p, with the flipped, transposed kernel, as Winograd.BackwardData computes it.</summary>
    public static double[] DataAbs(in Conv2dShape s, int n, int m, float[] dy, float[] w) =>
        Convolve(WinogradTransforms.Of(m).Abs(), n, s.Cout, s.Ho, s.Wo, s.Cin, 2 - s.PadH, 2 - s.PadW, Abs(dy), Abs(DataKernel(s, w)));

    /// <summary>Per weight-gradient entry, not yet scaled by gamma: the absolute Winograd expansion of the correlation of x with dy.</summary>
    public static double[] WeightsAbs(in Conv2dShape s, int n, int m, float[] x, float[] dy) =>
        Correlate(WinogradTransforms.Of(m).Abs(), n, s.Cin, s.H, s.W, s.Cout, s.PadH, s.PadW, Abs(x), Abs(dy));

    /// <summary>The data gradient's kernel: g[ci, co] = w[co, ci] rotated by 180 degrees (Winograd.GatherTaps with dataGradient).</summary>
    public static double[] DataKernel(in Conv2dShape s, float[] w)
    {
        var g = new double[s.Cin * s.Cout * 9];
        for (int co = 0; co < s.Cout; co++)
            for (int ci = 0; ci < s.Cin; ci++)
                for (int tap = 0; tap < 9; tap++) g[(ci * s.Cout + co) * 9 + tap] = w[(co * s.Cin + ci) * 9 + 8 - tap];
        return g;
    }

    /// <summary>The Winograd algorithm in double with the given transforms, tiled as Winograd.cs tiles (m x m outputs from the
    /// (m+2) x (m+2) patch at (m ty - padH, m tx - padW), zero outside the input): y[b, o] = sum_i A^T [(G g[o, i] G^T) (.)
    /// (B^T d[b, i] B)] A over n samples of c channels of h x w, k output channels, g[(o c + i) 9 + tap]. With exact transforms
    /// it is the convolution; with absolute values everywhere, the sum of |every term| of its expansion.</summary>
    public static double[] Convolve(WinogradTransforms t, int n, int c, int h, int w, int k, int padH, int padW, double[] src, double[] g)
    {
        int m = t.M, tt = t.T, ho = h + 2 * padH - 2, wo = w + 2 * padW - 2, th = (ho + m - 1) / m, tw = (wo + m - 1) / m;
        var u = new double[k * c][,];
        for (int o = 0; o < k; o++)
            for (int i = 0; i < c; i++)
            {
                var gi = new double[3, 3];
                for (int tap = 0; tap < 9; tap++) gi[tap / 3, tap % 3] = g[(o * c + i) * 9 + tap];
                u[o * c + i] = Sandwich(t.G, gi);
            }
        var y = new double[n * k * ho * wo];
        var v = new double[c][,];
        var sum = new double[tt, tt];
        for (int b = 0; b < n; b++)
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++)
                {
                    for (int i = 0; i < c; i++) v[i] = Sandwich(t.Bt, Patch(src, (b * c + i) * h * w, h, w, m * ty - padH, m * tx - padW, tt));
                    for (int o = 0; o < k; o++)
                    {
                        Array.Clear(sum);
                        for (int i = 0; i < c; i++)
                        {
                            var ui = u[o * c + i]; var vi = v[i];
                            for (int p = 0; p < tt; p++)
                                for (int q = 0; q < tt; q++) sum[p, q] += ui[p, q] * vi[p, q];
                        }
                        var tile = Sandwich(t.At, sum);
                        for (int r = 0; r < m && m * ty + r < ho; r++)
                            for (int col = 0; col < m && m * tx + col < wo; col++)
                                y[((b * k + o) * ho + m * ty + r) * wo + m * tx + col] = tile[r, col];
                    }
                }
        return y;
    }

    /// <summary>The weight gradient as Winograd.BackwardWeights computes it, in double: dw[o, i] = G^T [sum over samples and tiles
    /// (A dy A^T) (.) (B^T d B)] G, dy's m x m tile zero past the output's edge; dw[(o c + i) 9 + tap].</summary>
    public static double[] Correlate(WinogradTransforms t, int n, int c, int h, int w, int k, int padH, int padW, double[] x, double[] dy)
    {
        int m = t.M, tt = t.T, ho = h + 2 * padH - 2, wo = w + 2 * padW - 2, th = (ho + m - 1) / m, tw = (wo + m - 1) / m;
        double[,] a = Transpose(t.At), gt = Transpose(t.G);
        var du = new double[k * c, tt, tt];
        var v = new double[c][,];
        var yg = new double[k][,];
        for (int b = 0; b < n; b++)
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++)
                {
                    for (int i = 0; i < c; i++) v[i] = Sandwich(t.Bt, Patch(x, (b * c + i) * h * w, h, w, m * ty - padH, m * tx - padW, tt));
                    for (int o = 0; o < k; o++) yg[o] = Sandwich(a, Patch(dy, (b * k + o) * ho * wo, ho, wo, m * ty, m * tx, m));
                    for (int o = 0; o < k; o++)
                        for (int i = 0; i < c; i++)
                            for (int p = 0; p < tt; p++)
                                for (int q = 0; q < tt; q++) du[o * c + i, p, q] += yg[o][p, q] * v[i][p, q];
                }
        var dw = new double[k * c * 9];
        var plane = new double[tt, tt];
        for (int oi = 0; oi < k * c; oi++)
        {
            for (int p = 0; p < tt; p++)
                for (int q = 0; q < tt; q++) plane[p, q] = du[oi, p, q];
            var r = Sandwich(gt, plane);
            for (int tap = 0; tap < 9; tap++) dw[oi * 9 + tap] = r[tap / 3, tap % 3];
        }
        return dw;
    }

    /// <summary>L X L^T.</summary>
    static double[,] Sandwich(double[,] l, double[,] x)
    {
        int r = l.GetLength(0), inner = l.GetLength(1);
        var lx = new double[r, inner];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < inner; j++)
                for (int p = 0; p < inner; p++) lx[i, j] += l[i, p] * x[p, j];
        var res = new double[r, r];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++)
                for (int p = 0; p < inner; p++) res[i, j] += lx[i, p] * l[j, p];
        return res;
    }

    static double[,] Transpose(double[,] a)
    {
        var r = new double[a.GetLength(1), a.GetLength(0)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) r[j, i] = a[i, j];
        return r;
    }

    /// <summary>The size x size patch of the h x w plane at <paramref name="off"/> from (r0, c0), zero outside the plane.</summary>
    static double[,] Patch(double[] src, int off, int h, int w, int r0, int c0, int size)
    {
        var d = new double[size, size];
        for (int r = 0; r < size; r++)
            for (int col = 0; col < size; col++)
            {
                int ir = r0 + r, ic = c0 + col;
                if (ir >= 0 && ir < h && ic >= 0 && ic < w) d[r, col] = src[off + ir * w + ic];
            }
        return d;
    }

    public static double[] Abs(float[] a) => Array.ConvertAll(a, f => Math.Abs((double)f));

    public static double[] Abs(double[] a) => Array.ConvertAll(a, Math.Abs);

}
