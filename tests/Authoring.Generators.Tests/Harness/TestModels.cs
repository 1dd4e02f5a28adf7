// Representative models shared by snapshot, incrementality and robustness tests.
using System.Runtime.CompilerServices;

namespace Authoring.Generators.Tests.Harness;

internal static class TestModels
{
    /// <summary>The repository root, found from this file's compile-time path (tests run from bin/).</summary>
    public static string RepoRoot([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", ".."));

    /// <summary>The sample model, read from samples/ so the tests follow it as it changes.</summary>
    public static string SmallCnn => File.ReadAllText(Path.Combine(RepoRoot(), "samples", "FashionCnn", "SmallCnn.cs")).ReplaceLineEndings("\n");

    /// <summary>A Ghost module (primary conv, cheap depthwise conv, channel Concat) with a squeeze-excite
    /// gate broadcast from (C, 1, 1), a Slice feeding a residual Add, and a linear head.</summary>
    public const string Ghost = """
        using Authoring;
        using static Authoring.Ops;

        namespace Samples.Ghost;

        [Model]
        public partial class GhostNet
        {
            const int In = 16, Out = 32, Half = Out / 2, Reduced = 8, Classes = 10;

            readonly Conv2d primary = new(In, Half, kernel: 1, bias: false);
            readonly BatchNorm2d primaryBn = new(Half);
            readonly DepthwiseConv2d cheap = new(Half, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d cheapBn = new(Half);
            readonly Conv2d squeeze = new(Out, Reduced, kernel: 1);
            readonly Conv2d excite = new(Reduced, Out, kernel: 1);
            readonly Linear head = new(In, Classes);

            // GhostNet's module: half the channels from a 1x1 conv, the other half cheaply from them.
            Tensor GhostModule(Tensor x)
            {
                var a = Relu(primaryBn.Forward(primary.Forward(x)));
                var b = Relu(cheapBn.Forward(cheap.Forward(a)));
                return Concat(a, b);
            }

            Tensor Forward([Shape(In, 14, 14)] Tensor x)
            {
                var g = GhostModule(x);                                          // 32 x 14 x 14
                var s = Reshape(GlobalAvgPool(g), Out, 1, 1);                    // 32 x 1 x 1
                var gate = HardSigmoid(excite.Forward(Relu(squeeze.Forward(s))));
                var y = Mul(g, gate);                                            // gate broadcast over H, W
                var r = Relu(Slice(y, 0, In) + x);                               // residual on the first half
                return head.Forward(GlobalAvgPool(r));
            }
        }
        """;

    /// <summary>A Bi-Real / ReActNet block: real stem with BatchNorm, RSign (ApproxSign), an XNOR-scaled binary conv with
    /// XNOR-Net's full weight gradient, BatchNorm, the real shortcut, RPReLU; a binary linear head behind a Sign.</summary>
    public const string BiReal = """
        using Authoring;
        using static Authoring.Ops;

        namespace Samples.Binary;

        [Model]
        public partial class BiReal
        {
            readonly Conv2d stem = new(1, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d bn0 = new(8);
            readonly RSign rsign = new(8, SignEstimator.ApproxSign);
            readonly BinaryConv2d conv = new(8, 8, kernel: 3, padding: 1, weightGradient: BinaryWeightGradient.Full);
            readonly BatchNorm2d bn1 = new(8);
            readonly RPReLU act = new(8);
            readonly BinaryLinear fc = new(8 * 6 * 6, 10, scaled: false, bias: true);

            Tensor Forward([Shape(1, 6, 6)] Tensor x)
            {
                var h = bn0.Forward(stem.Forward(x));
                var y = act.Forward(Add(bn1.Forward(conv.Forward(rsign.Forward(h))), h));
                return fc.Forward(Sign(Flatten(y)));
            }
        }
        """;

    /// <summary>A transformer-style block over tokens (N, D): LayerNorm, q/k/v projections, heads by Reshape and
    /// Transpose, scaled MatMul scores, Softmax, the weighted values transposed back, a residual, a second LayerNorm,
    /// the mean over tokens and a head.</summary>
    public const string Transformer = """
        using Authoring;
        using static Authoring.Ops;

        namespace Samples.Tokens;

        [Model]
        public partial class TinyTransformer
        {
            const int N = 16, D = 32, H = 4, Dh = D / H, Classes = 10;
            readonly LayerNorm ln1 = new(D);
            readonly Linear q = new(D, D);
            readonly Linear k = new(D, D);
            readonly Linear v = new(D, D);
            readonly Linear o = new(D, D);
            readonly LayerNorm ln2 = new(D);
            readonly Linear head = new(D, Classes);

            Tensor Heads(Tensor t) => Transpose(Reshape(t, N, H, Dh), 0, 1);      // (H, N, Dh)

            Tensor Forward([Shape(N, D)] Tensor x)
            {
                var h = ln1.Forward(x);
                var att = Softmax(MatMul(Heads(q.Forward(h)), Heads(k.Forward(h)), transposeB: true) * 0.35355339f);
                var ctx = Reshape(Transpose(MatMul(att, Heads(v.Forward(h))), 0, 1), N, D);
                var r = x + o.Forward(ctx);
                return head.Forward(Mean(ln2.Forward(r), 0));
            }
        }
        """;

    /// <summary>Fused attention: a causal elu+1 linear attention block and a softmax attention block over 32 tokens.</summary>
    public const string LinearTransformer = """
        using Authoring;
        using static Authoring.Ops;

        namespace Samples.Tokens;

        [Model]
        public partial class LinearTransformer
        {
            const int N = 32, D = 32, H = 4, Classes = 10;
            readonly LayerNorm ln1 = new(D);
            readonly Linear qkv = new(D, 3 * D);
            readonly Linear proj = new(D, D);
            readonly LayerNorm ln2 = new(D);
            readonly Linear q = new(D, D);
            readonly Linear head = new(D, Classes);

            Tensor Forward([Shape(N, D)] Tensor x)
            {
                var t = qkv.Forward(ln1.Forward(x));
                var y = LinearAttention(Slice(t, 0, D, axis: -1), Slice(t, D, D, axis: -1), Slice(t, 2 * D, D, axis: -1), H, causal: true);
                var r = x + proj.Forward(y);
                var h = ln2.Forward(r);
                var s = r + ScaledDotProductAttention(q.Forward(h), h, h, H);
                return head.Forward(Mean(s, 0));
            }
        }
        """;
}
