// Each op the ONNX writer maps, built alone (or with the constants it needs) and run in ONNX Runtime, against our
// CPU kernel for that op where the runtime has one, else against a double-precision reference written here.
// Odd sizes, non-square kernels, batch 1 and 3 (the batch is symbolic: one file serves both).
// Tolerances (absolute + relative to the value):
//   - sums (conv, gemm, pools, norms) of K float32 terms of magnitude <= 1: ONNX Runtime and our kernels add in
//     different orders, so each side carries up to ~K u |terms| of rounding (u = 6e-8); K <= 60 here, so 1e-5
//     absolute is 3x the worst case of both together;
//   - element-wise maps: a few ulps apart (ONNX Runtime's vectorised exp/tanh/erf against ours or the libm's):
//     relative 1e-5 (80 ulps) and 1e-6 absolute near zero;
//   - data movement (concat, slice, reshape, transpose, gather, resize, max pool): bit-exact.
using Authoring.Runtime;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Onnx;

namespace Authoring.Onnx.Tests;

public class OnnxOpTests
{
    const double SumTol = 1e-5;
    const double MapRel = 1e-5, MapAbs = 1e-6;

    // ---- Convolution and linear -------------------------------------------------------------------------------

    public static TheoryData<int[]> ConvShapes => new()
    {
        // Cin, H, W, Cout, Kh, Kw, strideH, strideW, padH, padW, dilH, dilW, groups, bias
        new[] { 3, 7, 6, 5, 3, 2, 2, 1, 1, 0, 1, 2, 1, 1 },   // non-square kernel, stride, pad and dilation
        new[] { 4, 9, 8, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 0 },   // grouped, dilated, no bias
        new[] { 5, 8, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5, 1 },   // depthwise, strided
        new[] { 6, 5, 5, 9, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1 },   // pointwise
        new[] { 2, 6, 11, 3, 1, 5, 1, 1, 0, 2, 1, 1, 1, 0 },  // 1x5 band (GhostNetV2's DFC)
    };

    [Theory]
    [MemberData(nameof(ConvShapes))]
    public void ConvMatchesConv2dKernel(int[] a)
    {
        var s = new Conv2dShape(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);
        bool hasBias = a[13] == 1;
        var w = Ort.Random(1, s.WeightSize);
        var bias = Ort.Random(2, s.Cout);
        var b = new OnnxGraphBuilder("conv");
        string x = b.Input("x", s.Cin, s.H, s.W);
        string y = b.Conv(x, b.Initializer("w", w, s.Cout, s.Cin / s.Groups, s.Kh, s.Kw), hasBias ? b.Initializer("b", bias, s.Cout) : null, s);
        b.Output(y, s.Cout, s.Ho, s.Wo);
        foreach (int n in new[] { 3, 1 })
        {
            var input = Ort.Random(3, n * s.InSize);
            var got = Ort.Run(b, x, input, n, [s.Cin, s.H, s.W], [s.Cout, s.Ho, s.Wo]);
            var want = new float[n * s.OutSize];
            Conv2dKernel.Forward<Identity>(s, n, new View(input, 0, s.InSize), w, 0, null, 0, hasBias ? bias : null, 0, new View(want, 0, s.OutSize));
            Ort.Close(got, want, SumTol, SumTol, $"conv (batch {n})");
        }
    }

    [Fact]
    public void GemmMatchesLinearKernel()
    {
        const int n = 5, inF = 13, outF = 7;
        var w = Ort.Random(4, outF * inF);
        var bias = Ort.Random(5, outF);
        var b = new OnnxGraphBuilder("gemm");
        string x = b.Input("x", inF);
        b.Output(b.Gemm(x, b.Initializer("w", w, outF, inF), b.Initializer("b", bias, outF), transB: true), outF);
        var input = Ort.Random(6, n * inF);
        var got = Ort.Run(b, x, input, n, [inF], [outF]);
        var want = new float[n * outF];
        LinearKernel.Forward<Identity>(n, inF, outF, new View(input, 0, inF), w, 0, null, 0, bias, 0, new View(want, 0, outF));
        Ort.Close(got, want, SumTol, SumTol, "gemm");
    }

    /// <summary>Random inputs almost never hit 0, where ONNX Sign (0) and our sign (+1) differ: the zeros, -0 and
    /// the smallest values of either sign are given here, and the result must equal the kernel's exactly.</summary>
    [Fact]
    public void BinarySignMatchesSignKernelAtZero()
    {
        const int n = 2, f = 6;
        var input = new[] { 0f, -0f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f, 0.5f, -0.5f, 3f, -3f, 0f, -0f };
        var b = new OnnxGraphBuilder("sign");
        string x = b.Input("x", f);
        b.Output(b.BinarySign(x), f);
        var got = Ort.Run(b, x, input, n, [f], [f]);
        var want = new float[n * f];
        BinaryActivationKernel.SignForward(n, 1, f, new View(input, 0, f), null, 0, new View(want, 0, f));
        Assert.Equal(want, got);
        Assert.Equal(1f, got[0]);
    }

    [Fact]
    public void MatMulBroadcastsOverTheBatch()
    {
        const int n = 2, m = 3, k = 5, p = 4;
        var w = Ort.Random(7, k * p);
        var b = new OnnxGraphBuilder("matmul");
        string x = b.Input("x", m, k);
        b.Output(b.MatMul(x, b.Initializer("w", w, k, p)), m, p);
        var input = Ort.Random(8, n * m * k);
        var got = Ort.Run(b, x, input, n, [m, k], [m, p]);
        var want = new double[n * m * p];
        for (int s = 0; s < n; s++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < p; j++)
                    for (int t = 0; t < k; t++) want[(s * m + i) * p + j] += (double)input[(s * m + i) * k + t] * w[t * p + j];
        Ort.Close(got, want, SumTol, SumTol, "matmul");
    }

    // ---- Pools and resize -------------------------------------------------------------------------------------

    public static TheoryData<int[]> PoolShapes => new()
    {
        // C, H, W, Kh, Kw, strideH, strideW, padH, padW
        new[] { 3, 7, 9, 3, 3, 2, 2, 1, 1 },   // padded: average counts the padding
        new[] { 2, 8, 8, 2, 2, 2, 2, 0, 0 },   // the common 2x2
        new[] { 2, 6, 9, 3, 2, 1, 3, 1, 0 },   // non-square window and strides
    };

    [Theory]
    [MemberData(nameof(PoolShapes))]
    public void PoolsMatchPoolKernel(int[] a)
    {
        var s = new Pool2dShape(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
        int inSize = s.C * s.H * s.W, outSize = s.C * s.Ho * s.Wo;
        foreach (bool max in new[] { true, false })
        {
            var b = new OnnxGraphBuilder("pool");
            string x = b.Input("x", s.C, s.H, s.W);
            b.Output(max ? b.MaxPool(x, s) : b.AveragePool(x, s), s.C, s.Ho, s.Wo);
            foreach (int n in new[] { 3, 1 })
            {
                var input = Ort.Random(9, n * inSize);
                var got = Ort.Run(b, x, input, n, [s.C, s.H, s.W], [s.C, s.Ho, s.Wo]);
                var want = new float[n * outSize];
                if (max) PoolKernel.MaxForward(s, n, new View(input, 0, inSize), new View(want, 0, outSize));
                else PoolKernel.AvgForward(s, n, new View(input, 0, inSize), new View(want, 0, outSize));
                if (max) Assert.Equal(want, got);
                else Ort.Close(got, want, SumTol, SumTol, "average pool");
            }
        }
    }

    [Fact]
    public void GlobalAveragePoolMatchesPoolKernel()
    {
        const int n = 3, c = 5, h = 7, w = 6;
        var b = new OnnxGraphBuilder("gap");
        string x = b.Input("x", c, h, w);
        b.Output(b.GlobalAveragePool(x), c, 1, 1);
        var input = Ort.Random(10, n * c * h * w);
        var got = Ort.Run(b, x, input, n, [c, h, w], [c, 1, 1]);
        var want = new float[n * c];
        PoolKernel.GlobalAvgForward(n, c, h * w, new View(input, 0, c * h * w), new View(want, 0, c));
        Ort.Close(got, want, SumTol, SumTol, "global average pool");
    }

    /// <summary>Sizes where PyTorch's source rule floor(i * (float)(in / out)) and ONNX Runtime's floor(i / (float)(out / in))
    /// pick the same pixel (every integer factor and the usual odd ones such as 3 to 7): the export is exact there.</summary>
    public static TheoryData<int[]> ResizeShapes => new()
    {
        new[] { 3, 3, 3, 7, 7 },      // GhostNetV2's 7x7 stage from a pooled 3x3
        new[] { 2, 4, 5, 8, 10 },     // exact 2x
        new[] { 2, 7, 7, 14, 14 },    // exact 2x, odd side
        new[] { 1, 5, 6, 5, 6 },      // identity
        new[] { 3, 1, 1, 4, 5 },      // from 1x1
        new[] { 2, 4, 4, 12, 12 },    // 3x
    };

    [Theory]
    [MemberData(nameof(ResizeShapes))]
    public void ResizeNearestMatchesUpsampleKernel(int[] a)
    {
        var s = new UpsampleShape(a[0], a[1], a[2], a[3], a[4]);
        foreach (int opset in new[] { 17, 18 })
        {
            var b = new OnnxGraphBuilder("resize", opset);
            string x = b.Input("x", s.C, s.H, s.W);
            b.Output(b.ResizeNearest(x, s), s.C, s.Ho, s.Wo);
            foreach (int n in new[] { 3, 1 })
            {
                var input = Ort.Random(11, n * s.InSize);
                var got = Ort.Run(b, x, input, n, [s.C, s.H, s.W], [s.C, s.Ho, s.Wo]);
                var want = new float[n * s.OutSize];
                UpsampleKernel.NearestForward(s, n, new View(input, 0, s.InSize), new View(want, 0, s.OutSize));
                Assert.Equal(want, got);
            }
        }
    }

    /// <summary>ONNX Runtime's rule for Resize with sizes, asymmetric, floor: scale = (float)out / in, source = floor(i / scale).</summary>
    static int OrtSource(int dst, int inLen, int outLen) => Math.Min((int)MathF.Floor(dst / ((float)outLen / inLen)), inLen - 1);

    [Fact]
    public void ResizeRoundingDiffersFromPyTorchOnlyWhereTheirFloatRulesDo()
    {
        // 26 -> 22 rows and 6 -> 74 columns: torch's float product lands just below an integer (row 11 reads 12, not 13;
        // column 37 reads 2, not 3). ONNX Runtime divides instead and takes the exact pixel. Nothing in ONNX's Resize
        // reproduces torch's product, so the exported file picks ONNX Runtime's pixel there; docs/onnx.md says so.
        var s = new UpsampleShape(1, 26, 6, 22, 74);
        var b = new OnnxGraphBuilder("resize");
        string x = b.Input("x", s.C, s.H, s.W);
        b.Output(b.ResizeNearest(x, s), s.C, s.Ho, s.Wo);
        var input = Enumerable.Range(0, s.InSize).Select(i => (float)i).ToArray();   // each pixel its own index
        var got = Ort.Run(b, x, input, 1, [s.C, s.H, s.W], [s.C, s.Ho, s.Wo]);
        int differ = 0;
        for (int i = 0; i < s.Ho; i++)
            for (int j = 0; j < s.Wo; j++)
            {
                float ort = got[i * s.Wo + j];
                Assert.Equal(OrtSource(i, s.H, s.Ho) * s.W + OrtSource(j, s.W, s.Wo), ort);
                if (ort != UpsampleShape.Source(i, s.H, s.Ho) * s.W + UpsampleShape.Source(j, s.W, s.Wo)) differ++;
            }
        Assert.True(differ > 0, "expected the known rounding difference at row 11 / column 37");
    }

    // ---- Normalisation ----------------------------------------------------------------------------------------

    [Fact]
    public void BatchNormalizationMatchesFoldedBatchNormKernel()
    {
        const int n = 3, c = 5, hw = 6;
        var store = new ParameterStore(
        [
            new ParameterInfo("bn.weight", [c], ParameterRole.NormWeight, InitKind.Ones, 0, 0),
            new ParameterInfo("bn.bias", [c], ParameterRole.NormBias, InitKind.Zeros, 0, 0),
            new ParameterInfo("bn.running_mean", [c], ParameterRole.RunningMean, InitKind.Zeros, 0, 0),
            new ParameterInfo("bn.running_var", [c], ParameterRole.RunningVar, InitKind.Ones, 0, 0),
        ]);
        Ort.Random(12, 3 * c).CopyTo(store.Values, 0);
        var v = store.Value("bn.running_var");
        for (int i = 0; i < c; i++) v[i] = 0.2f + Math.Abs(v[i]);   // positive variances
        var b = new OnnxGraphBuilder("bn");
        string x = b.Input("x", c, 2, 3);
        b.Output(b.BatchNormalization(x, store, "bn"), c, 2, 3);
        var input = Ort.Random(13, n * c * hw);
        var got = Ort.Run(b, x, input, n, [c, 2, 3], [c, 2, 3]);
        var scale = new float[c];
        var shift = new float[c];
        var p = store.Values;
        BatchNormKernel.FoldEval(c, p, store.OffsetOf(0), store.OffsetOf(1), store.OffsetOf(2), store.OffsetOf(3), 1e-5f, null, 0, scale, 0, shift, 0);
        var want = new float[n * c * hw];
        BatchNormKernel.Affine<Identity>(n, c, hw, new View(input, 0, c * hw), scale, 0, shift, 0, new View(want, 0, c * hw));
        Ort.Close(got, want, SumTol, SumTol, "batch norm");
    }

    [Fact]
    public void LayerNormalizationMatchesReference()
    {
        const int n = 3, t = 4, d = 7;
        var gamma = Ort.Random(14, d, 0.5f, 1.5f);
        var beta = Ort.Random(15, d);
        var b = new OnnxGraphBuilder("ln");
        string x = b.Input("x", t, d);
        b.Output(b.LayerNormalization(x, b.Initializer("g", gamma, d), b.Initializer("b", beta, d)), t, d);
        var input = Ort.Random(16, n * t * d, -2f, 2f);
        var got = Ort.Run(b, x, input, n, [t, d], [t, d]);
        var want = new double[input.Length];
        for (int r = 0; r < n * t; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += input[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) var += (input[r * d + i] - mean) * (input[r * d + i] - mean);
            var /= d;   // biased, as PyTorch's LayerNorm
            for (int i = 0; i < d; i++) want[r * d + i] = (input[r * d + i] - mean) / Math.Sqrt(var + 1e-5) * gamma[i] + beta[i];
        }
        Ort.Close(got, want, SumTol, SumTol, "layer norm");
    }

    // ---- Element-wise -----------------------------------------------------------------------------------------

    [Fact]
    public void ActivationsMatchOurFunctors()
    {
        const int n = 3, c = 4, hw = 5;
        // Values straddle every activation's corners: -3 and 3 (hard ones), 0 and 6 (ReLU6).
        var input = Ort.Random(17, n * c * hw, -7f, 7f);
        input[0] = -3f; input[1] = 3f; input[2] = 0f; input[3] = 6f;
        Check("Relu", (b, x) => b.Relu(x), default(Relu));
        Check("Relu6", (b, x) => b.Relu6(x), default(Relu6));
        Check("HardSigmoid", (b, x) => b.HardSigmoid(x), default(HardSigmoid));
        Check("HardSwish", (b, x) => b.HardSwish(x), default(HardSwish));
        Check("Sigmoid", (b, x) => b.Sigmoid(x), default(Sigmoid));
        Check("Tanh", (b, x) => b.Tanh(x), default(Tanh));
        Check("Silu", (b, x) => b.Silu(x), default(Silu));
        Check("Exp", (b, x) => b.Exp(x), default(Authoring.Runtime.Cpu.Exp));
        // Ours evaluates erf with a polynomial (absolute error 1.5e-7), so GELU differs from ONNX Runtime's by up to
        // ~0.5 |x| 1.5e-7: inside the map tolerance (1e-6 absolute) for |x| <= 7.
        foreach (int opset in new[] { 17, 20 })
        {
            Check($"Gelu (opset {opset})", (b, x) => b.Gelu(x), default(Gelu), opset);
            Check($"GeluTanh (opset {opset})", (b, x) => b.Gelu(x, tanhApproximation: true), default(GeluTanh), opset);
        }

        void Check<TAct>(string what, Func<OnnxGraphBuilder, string, string> op, TAct act, int opset = 17) where TAct : struct, IActivation
        {
            var b = new OnnxGraphBuilder(what, opset);
            string x = b.Input("x", c, hw);
            b.Output(op(b, x), c, hw);
            var got = Ort.Run(b, x, input, n, [c, hw], [c, hw]);
            Ort.Close(got, input.Select(v => act.Apply(v)).ToArray(), MapAbs, MapRel, what);
        }
    }

    [Fact]
    public void EluMatchesReference()
    {
        const int n = 2, d = 9;
        var input = Ort.Random(24, n * d, -4f, 4f);
        var b = new OnnxGraphBuilder("elu");
        string x = b.Input("x", d);
        b.Output(b.Elu(x, 0.7f), d);
        var got = Ort.Run(b, x, input, n, [d], [d]);
        Ort.Close(got, input.Select(v => v > 0 ? v : 0.7 * (Math.Exp(v) - 1)).ToArray(), MapAbs, MapRel, "Elu");
    }

    [Fact]
    public void ExpSoftmaxAndGeluMatchReference()
    {
        const int n = 2, d = 9;
        var input = Ort.Random(18, n * d, -4f, 4f);
        Check("Exp", 17, (b, x) => b.Exp(x), v => Math.Exp(v), rowwise: null);
        Check("Softmax", 17, (b, x) => b.Softmax(x, -1), null, rowwise: row =>
        {
            double m = row.Max(), sum = row.Sum(v => Math.Exp(v - m));
            return row.Select(v => Math.Exp(v - m) / sum).ToArray();
        });
        foreach (int opset in new[] { 17, 20 })   // formula from Erf/Tanh nodes before 20, the Gelu op from 20
        {
            Check($"Gelu exact (opset {opset})", opset, (b, x) => b.Gelu(x), v => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))), null);
            Check($"Gelu tanh (opset {opset})", opset, (b, x) => b.Gelu(x, tanhApproximation: true),
                v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))), null);
        }

        void Check(string what, int opset, Func<OnnxGraphBuilder, string, string> op, Func<double, double>? f, Func<double[], double[]>? rowwise)
        {
            var b = new OnnxGraphBuilder("op", opset);
            string x = b.Input("x", d);
            b.Output(op(b, x), d);
            var got = Ort.Run(b, x, input, n, [d], [d]);
            var want = f is not null
                ? input.Select(v => f(v)).ToArray()
                : Enumerable.Range(0, n).SelectMany(r => rowwise!(input.Skip(r * d).Take(d).Select(v => (double)v).ToArray())).ToArray();
            Ort.Close(got, want, MapAbs, MapRel, what);
        }
    }

    /// <summary>erf by its Taylor series (|x| &lt;= 3 here: 60 terms reach double precision), independent of any library.</summary>
    static double Erf(double x)
    {
        double sum = 0, term = x;
        for (int k = 0; k < 60; k++)
        {
            sum += term / (2 * k + 1);
            term *= -x * x / (k + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    [Fact]
    public void BinaryOpsBroadcastOverChannels()
    {
        const int n = 3, c = 4, h = 2, w = 3;
        var input = Ort.Random(19, n * c * h * w);
        var perChannel = Ort.Random(20, c, 0.5f, 2f);
        foreach (var (what, f) in new (string, Func<double, double, double>)[]
                 { ("Add", (a, b) => a + b), ("Sub", (a, b) => a - b), ("Mul", (a, b) => a * b), ("Div", (a, b) => a / b) })
        {
            var g = new OnnxGraphBuilder(what);
            string x = g.Input("x", c, h, w);
            string k = g.Initializer("k", perChannel, c, 1, 1);
            string y = what switch { "Add" => g.Add(x, k), "Sub" => g.Sub(x, k), "Mul" => g.Mul(x, k), _ => g.Div(x, k) };
            g.Output(y, c, h, w);
            var got = Ort.Run(g, x, input, n, [c, h, w], [c, h, w]);
            var want = input.Select((v, i) => f(v, perChannel[i / (h * w) % c])).ToArray();
            Ort.Close(got, want, MapAbs, MapRel, what);
        }
    }

    // ---- Data movement and reductions -------------------------------------------------------------------------

    [Fact]
    public void ConcatSliceReshapeFlattenTransposeAreExact()
    {
        const int n = 3, c = 5, h = 2, w = 3;
        var input = Ort.Random(21, n * c * h * w);
        var b = new OnnxGraphBuilder("moves");
        string x = b.Input("x", c, h, w);
        string cat = b.Concat(1, x, b.Relu(x));                                       // (2c, h, w)
        string sl = b.SliceChannels(cat, 3, 4);                                       // channels 3..6
        string re = b.ReshapeSamples(sl, [4, w, h]);                                  // same order, other dims
        string tr = b.Transpose(re, [0, 1, 3, 2]);                                    // (4, h, w) again, transposed back
        b.Output(b.Flatten(tr), 4 * h * w);
        var got = Ort.Run(b, x, input, n, [c, h, w], [4 * h * w]);
        var want = new float[n * 4 * h * w];
        for (int s = 0; s < n; s++)
            for (int k = 0; k < 4; k++)
            {
                int ch = 3 + k;   // channels 3, 4 of x, then 0, 1 of relu(x)
                for (int i = 0; i < h * w; i++)
                {
                    // reshape to (4, w, h) then transpose the last two: element (k, i % w... ) of the reshaped block
                    int r = i / w, col = i % w;          // output (k, r, col) = reshaped (k, col, r) = flat k*h*w + col*h + r
                    int flat = col * h + r;
                    float v = input[s * c * h * w + (ch < c ? ch : ch - c) * h * w + flat];
                    want[(s * 4 + k) * h * w + i] = ch < c ? v : Math.Max(v, 0f);
                }
            }
        Assert.Equal(want, got);
    }

    [Fact]
    public void ReductionsMatchReferenceInBothAxesForms()
    {
        const int n = 2, c = 3, h = 4, w = 5;
        var input = Ort.Random(22, n * c * h * w);
        foreach (int opset in new[] { 17, 18 })   // ReduceMean's axes: an attribute before 18, an input from 18
            foreach (bool mean in new[] { true, false })
            {
                var b = new OnnxGraphBuilder("reduce", opset);
                string x = b.Input("x", c, h, w);
                b.Output(mean ? b.ReduceMean(x, [2, 3]) : b.ReduceSum(x, [2, 3], keepDims: false), mean ? [c, 1, 1] : [c]);
                var got = Ort.Run(b, x, input, n, [c, h, w], mean ? [c, 1, 1] : [c]);
                var want = new double[n * c];
                for (int p = 0; p < n * c; p++)
                {
                    for (int i = 0; i < h * w; i++) want[p] += input[p * h * w + i];
                    if (mean) want[p] /= h * w;
                }
                Ort.Close(got, want, SumTol, SumTol, $"{(mean ? "ReduceMean" : "ReduceSum")} opset {opset}");
            }
    }

    [Fact]
    public void GatherIsAnEmbeddingLookup()
    {
        const int vocab = 7, dim = 3, n = 2, take = 4;
        // The table is the graph input so it can vary per call; the ids are constants.
        long[] ids = [6, 0, 3, 3];
        var b = new OnnxGraphBuilder("embedding");
        string table = b.Input("table", vocab, dim);   // (batch, vocab, dim): gather along axis 1
        b.Output(b.Gather(table, b.Int64Initializer("ids", ids, take), axis: 1), take, dim);
        var input = Ort.Random(23, n * vocab * dim);
        var got = Ort.Run(b, table, input, n, [vocab, dim], [take, dim]);
        var want = new float[n * take * dim];
        for (int s = 0; s < n; s++)
            for (int t = 0; t < take; t++)
                for (int j = 0; j < dim; j++) want[(s * take + t) * dim + j] = input[(s * vocab + ids[t]) * dim + j];
        Assert.Equal(want, got);
    }
}
