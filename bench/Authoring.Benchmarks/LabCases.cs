// The experiments of the lab harness (Lab.cs): each adds the cases it compares, at the shapes of
// the block benchmarks (bench/BLOCKS.md) and of issue 14's table.
using Authoring.Runtime.Cpu;
using TorchSharp;

namespace Authoring.Benchmarks;

internal static class LabCases
{
    public static readonly Dictionary<string, Action<List<Lab.Case>>> All = new()
    {
        ["peak"] = _ => { },
        ["gemm"] = Gemm,
        ["conv"] = c => Conv(c, 64, ["Auto", "Direct", "Im2Col"]),
        ["conv1"] = c => Conv(c, 1, ["Auto", "Direct", "Im2Col"]),
        ["pool"] = Pool,
        ["blocks1"] = c => Blocks(c, 1),
        ["blocks64"] = c => Blocks(c, 64),
        ["blocks128"] = c => Blocks(c, 128),
        ["vit"] = c => Blocks(c, 128, vitOnly: true),
        ["wino"] = c => Conv(c, 64, ["Direct", "Winograd", "Winograd4"], threeByThree: true),
        ["wino1"] = c => Conv(c, 1, ["Direct", "Winograd", "Winograd4"], threeByThree: true),
        ["wino2"] = c => Conv(c, 2, ["Direct", "Winograd", "Winograd4"], threeByThree: true),
        ["wino4"] = c => Conv(c, 4, ["Direct", "Winograd", "Winograd4"], threeByThree: true),
        ["wino8"] = c => Conv(c, 8, ["Direct", "Winograd", "Winograd4"], threeByThree: true),
        ["big1"] = c => BigConv(c, 1),
        ["big4"] = c => BigConv(c, 4),
        ["big16"] = c => BigConv(c, 16),
        ["binary"] = c => Binary(c, 16),
        ["binary1"] = c => Binary(c, 1),
        ["bireal"] = c => BiRealBlock(c, 16),
        ["bireal1"] = c => BiRealBlock(c, 1),
        ["pointwise"] = c => Pointwise(c, 64),
        ["pointwise1"] = c => Pointwise(c, 1),
        ["gelu"] = GeluPasses,
        ["lineardx"] = LinearDx,
    };

    /// <summary>The blocks' 1 x 1 convolutions as the training step and inference run them: forward with BatchNorm + ReLU
    /// folded in (inference), forward taking the next BatchNorm's statistics (training), data gradient; the pointwise
    /// kernel against the direct kernels and im2col + GEMM.</summary>
    static void Pointwise(List<Lab.Case> cases, int n)
    {
        foreach (var (name, s) in BlockConvs.Where(b => b.S.Kh == 1))
        {
            var x = Rand(n * s.InSize, 1); var w = Rand(s.WeightSize, 2); var dy = Rand(n * s.OutSize, 3);
            var scale = Rand(s.Cout, 4); var shift = Rand(s.Cout, 5);
            var bn = Rand(4 * s.Cout, 6);
            for (int i = 0; i < s.Cout; i++) bn[3 * s.Cout + i] = 1f;
            var save = new float[2 * s.Cout]; var affine = new float[2 * s.Cout];
            View vx = new(x, 0, s.InSize), vy = new(new float[n * s.OutSize], 0, s.OutSize), vdy = new(dy, 0, s.OutSize), vdx = new(new float[n * s.InSize], 0, s.InSize);
            var f = new ConvFusion { Statistics = new BatchNormStatsTarget(bn, 0, s.Cout, 2 * s.Cout, 3 * s.Cout, 0.1f, 1e-5f, save, 0, affine, 0, s.Cout) };
            double flops = 2.0 * n * s.OutSize * s.Cin;
            foreach (var p in new[] { ConvPath.Pointwise, ConvPath.Direct, ConvPath.Im2Col })
            {
                cases.Add(new($"{name} n{n} fwd bn+relu {p} 1t", flops, () => Conv2dKernel.Forward<Relu>(s, n, vx, w, 0, scale, 0, shift, 0, vy, p)));
                cases.Add(new($"{name} n{n} fwd stats {p} 1t", flops, () => Conv2dKernel.ForwardFused<Identity, Identity>(s, n, vx, w, 0, f, vy, p)));
                cases.Add(new($"{name} n{n} bwdD {p} 1t", flops, () => Conv2dKernel.BackwardData(s, n, vdy, w, 0, vdx, false, p)));
            }
        }
    }

    /// <summary>One Bi-Real / ReActNet block boundary in deploy form, y = RPReLU(scale dot + shift + x) read by the next
    /// shortcut (floats) and the next RSign (bits): before the fusion three passes (the packed conv writing floats with the
    /// shortcut, RPReLU over the tensor, BinaryPack over it again), after it one (ForwardFused writing floats and bits).
    /// Shapes: the sample's 64 x 14 x 14 and 64 x 7 x 7, and a 256 x 14 x 14 block. Flops: the conv's 2 Cin Kh Kw per output.</summary>
    static void BiRealBlock(List<Lab.Case> cases, int n)
    {
        foreach (var (name, s) in new (string, Conv2dShape)[]
        {
            ("64x14", new(64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
            ("64x7", new(64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
            ("256x14", new(256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        })
        {
            var rng = new Random(1);
            float[] Rand(int len, float lo, float hi) { var a = new float[len]; for (int i = 0; i < len; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble(); return a; }
            int inWords = BitPack.ActivationWords(s.Cin, s.H, s.W), outWords = BitPack.ActivationWords(s.Cout, s.Ho, s.Wo), hw = s.Ho * s.Wo;
            var x = new BitView(new ulong[n * inWords], 0, inWords);
            BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(Rand(n * s.InSize, -1, 1), 0, s.InSize), null, 0, x);
            var w = new ulong[BitPack.ConvWeightWords(s)];
            BitPack.PackConvWeights(s, Rand(s.WeightSize, -1, 1), 0, w, 0);
            var sums = new int[BitPack.TapSumCount(s)];
            BitPack.ConvTapSums(s, w, 0, sums, 0);
            var scale = Rand(s.Cout, 0.01f, 0.1f);
            var shift = Rand(s.Cout, -1, 1);
            var p = Rand(3 * s.Cout, -0.3f, 0.3f);
            var thr = Rand(s.Cout, -0.3f, 0.3f);
            var residual = new View(Rand(n * s.OutSize, -1, 1), 0, s.OutSize);
            var z = new View(new float[n * s.OutSize], 0, s.OutSize);
            var y = new View(new float[n * s.OutSize], 0, s.OutSize);
            var bits = new BitView(new ulong[n * outWords], 0, outWords);
            double ops = 2.0 * n * s.OutSize * s.Cin * s.Kh * s.Kw;
            void Unfused()
            {
                BinaryConvKernel.Forward<Identity>(s, n, x, w, 0, sums, 0, scale, 0, shift, 0, z, residual);
                BinaryActivationKernel.RPReluForward(n, s.Cout, hw, z, p, 0, s.Cout, 2 * s.Cout, y);
                BitPack.PackActivations(n, s.Cout, s.Ho, s.Wo, y, thr, 0, bits);
            }
            void Fused() => BinaryConvKernel.ForwardFused<Identity>(s, n, x, w, 0, sums, 0, scale, 0, shift, 0, residual,
                new RPReluParams(p, 0, s.Cout, 2 * s.Cout), y, thr, 0, bits);
            cases.Add(new($"{name} b{n} conv+rprelu+pack 1t", ops, Unfused));
            cases.Add(new($"{name} b{n} fused 1t", ops, Fused));
            cases.Add(new($"{name} b{n} conv+rprelu+pack all", ops, Unfused));
            cases.Add(new($"{name} b{n} fused all", ops, Fused));
        }
    }

    /// <summary>The binary conv benchmarks' shapes (BinaryConvBenchmarks): packed on one thread and on all, packed to bits on
    /// one thread, our fp32 on one thread and on all, TorchSharp's fp32 on one thread,
    /// and the binary peak (BinaryPeakBenchmarks) of the widest path here, on one thread and on all.</summary>
    static void Binary(List<Lab.Case> cases, int n)
    {
        bool wide = XnorPopcount.Avx512Available;
        var p1 = new BinaryPeakBenchmarks { Threads = 1 };
        var pa = new BinaryPeakBenchmarks { Threads = WorkerPool.ThreadCount };
        double per = BinaryPeakBenchmarks.OpsPerThread(wide ? 512 : 256);
        cases.Add(new("xnor peak 1t", per, wide ? () => p1.Xnor512() : () => p1.Xnor256()));
        cases.Add(new("xnor peak all", per * WorkerPool.ThreadCount, wide ? () => pa.Xnor512() : () => pa.Xnor256()));
        foreach (var name in new[] { "F64x14", "F64x7", "F64to128s2", "F128x7", "C256x14", "C512x14", "P256x14" })
        {
            var b = new BinaryConvBenchmarks { Case = name, Batch = n };
            b.Setup();
            double ops = 2.0 * n * b.Conv.OutSize * b.Conv.Cin * b.Conv.Kh * b.Conv.Kw;
            cases.Add(new($"{name} b{n} packed 1t", ops, b.OursPacked));
            cases.Add(new($"{name} b{n} packed all", ops, b.OursPacked));
            cases.Add(new($"{name} b{n} packed to bits 1t", ops, b.OursPackedToBits));
            cases.Add(new($"{name} b{n} fp32 1t", ops, b.OursFp32));
            cases.Add(new($"{name} b{n} fp32 all", ops, b.OursFp32));
            cases.Add(new($"{name} b{n} torch 1t", ops, b.TorchFp32));
        }
        // Setup gives TorchSharp 2 threads (the benchmarks'); its 1t cases run on one, like ours.
        torch.set_num_threads(1);
    }

    /// <summary>The dense convolutions of the block benchmarks: (name, shape).</summary>
    public static readonly (string Name, Conv2dShape S)[] BlockConvs =
    [
        ("3x3 32-64 14", new(32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 32-32 14", new(32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("1x1 32-32 14", new(32, 14, 14, 32, 1, 1, 1, 1, 0, 0, 1, 1, 1)),
        ("1x1 64-128 14", new(64, 14, 14, 128, 1, 1, 1, 1, 0, 0, 1, 1, 1)),
        ("1x1 24-36 14", new(24, 14, 14, 36, 1, 1, 1, 1, 0, 0, 1, 1, 1)),
        ("3x3 1-32 28", new(1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
    ];

    /// <summary>3 x 3 stride-1 shapes: the blocks' and a few more channel counts and sizes.</summary>
    public static readonly (string Name, Conv2dShape S)[] Conv3x3 =
    [
        ("3x3 32-64 14", new(32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 32-32 14", new(32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 16-16 28", new(16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 64-64 7", new(64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 64-64 14", new(64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 8-16 28", new(8, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        ("3x3 24-36 14", new(24, 14, 14, 36, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
    ];

    static void Conv(List<Lab.Case> cases, int n, string[] paths, bool threeByThree = false)
    {
        torch.set_num_threads(1);
        foreach (var (name, s) in threeByThree ? Conv3x3 : BlockConvs)
        {
            var x = Rand(n * s.InSize, 1); var w = Rand(s.WeightSize, 2); var dy = Rand(n * s.OutSize, 3);
            var y = new float[n * s.OutSize]; var dx = new float[n * s.InSize]; var dw = new float[s.WeightSize];
            View vx = new(x, 0, s.InSize), vy = new(y, 0, s.OutSize), vdy = new(dy, 0, s.OutSize), vdx = new(dx, 0, s.InSize);
            double flops = 2.0 * n * s.OutSize * (s.Cin / s.Groups) * s.Kh * s.Kw;
            foreach (var path in paths)
            {
                var p = Enum.Parse<ConvPath>(path);
                cases.Add(new($"{name} n{n} fwd {path} 1t", flops, () => Conv2dKernel.Forward<Identity>(s, n, vx, w, 0, null, 0, null, 0, vy, p)));
                cases.Add(new($"{name} n{n} bwdD {path} 1t", flops, () => Conv2dKernel.BackwardData(s, n, vdy, w, 0, vdx, false, p)));
                cases.Add(new($"{name} n{n} bwdW {path} 1t", flops, () => Conv2dKernel.BackwardWeights(s, n, vx, vdy, dw, 0, p)));
            }
            // The shape's own choice on all threads: its scaling against the 1t figures.
            cases.Add(new($"{name} n{n} fwd Auto all", flops, () => Conv2dKernel.Forward<Identity>(s, n, vx, w, 0, null, 0, null, 0, vy, ConvPath.Auto)));
            cases.Add(new($"{name} n{n} bwdW Auto all", flops, () => Conv2dKernel.BackwardWeights(s, n, vx, vdy, dw, 0, ConvPath.Auto)));
            var tx = torch.tensor(x, new long[] { n, s.Cin, s.H, s.W });
            var tw = torch.tensor(w, new long[] { s.Cout, s.Cin / s.Groups, s.Kh, s.Kw });
            cases.Add(new($"{name} n{n} fwd torch 1t", flops, () =>
            {
                using var r = torch.nn.functional.conv2d(tx, tw, padding: new long[] { s.PadH, s.PadW });
            }));
        }
    }

    /// <summary>bench/BINARY.md's large-channel 3 x 3 shapes (issue 14: batch 1 was 4-5x slower than
    /// TorchSharp): forward on each path, on one thread and on all, against TorchSharp on one thread and on all.</summary>
    static void BigConv(List<Lab.Case> cases, int n)
    {
        foreach (var (name, s) in new (string, Conv2dShape)[]
        {
            ("3x3 256-256 14", new(256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
            ("3x3 512-512 14", new(512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1)),
        })
        {
            var x = Rand(n * s.InSize, 1); var w = Rand(s.WeightSize, 2); var dy = Rand(n * s.OutSize, 3);
            var y = new float[n * s.OutSize]; var dx = new float[n * s.InSize]; var dw = new float[s.WeightSize];
            View vx = new(x, 0, s.InSize), vy = new(y, 0, s.OutSize), vdy = new(dy, 0, s.OutSize), vdx = new(dx, 0, s.InSize);
            double flops = 2.0 * n * s.OutSize * s.Cin * s.Kh * s.Kw;
            foreach (var path in new[] { "Auto", "Winograd", "Winograd4", "Direct", "Im2Col" })
            {
                var p = Enum.Parse<ConvPath>(path);
                Action f = () => Conv2dKernel.Forward<Identity>(s, n, vx, w, 0, null, 0, null, 0, vy, p);
                cases.Add(new($"{name} n{n} fwd {path} 1t", flops, f));
                cases.Add(new($"{name} n{n} fwd {path} all", flops, f));
            }
            cases.Add(new($"{name} n{n} bwdD Auto all", flops, () => Conv2dKernel.BackwardData(s, n, vdy, w, 0, vdx, false, ConvPath.Auto)));
            cases.Add(new($"{name} n{n} bwdW Auto all", flops, () => Conv2dKernel.BackwardWeights(s, n, vx, vdy, dw, 0, ConvPath.Auto)));
            var tx = torch.tensor(x, new long[] { n, s.Cin, s.H, s.W });
            var tw = torch.tensor(w, new long[] { s.Cout, s.Cin, s.Kh, s.Kw });
            cases.Add(new($"{name} n{n} fwd torch 1t", flops, () =>
            {
                torch.set_num_threads(1);
                using var r = torch.nn.functional.conv2d(tx, tw, padding: new long[] { s.PadH, s.PadW });
            }));
            cases.Add(new($"{name} n{n} fwd torch all", flops, () =>
            {
                torch.set_num_threads(WorkerPool.ThreadCount);
                using var r = torch.nn.functional.conv2d(tx, tw, padding: new long[] { s.PadH, s.PadW });
            }));
        }
    }

    /// <summary>The block benchmarks' models: training step and inference, on one thread and on all.</summary>
    static void Blocks(List<Lab.Case> cases, int batch, bool vitOnly = false)
    {
        // VitFashion's token model alone (issue 14: its training step was 1.5x TorchSharp's), for A/B and perf runs.
        var models = vitOnly ? new (string, Authoring.Runtime.IModel)[] { ("vit", new VitFashion.VitNet()) } : new (string, Authoring.Runtime.IModel)[]
        {
            ("convbnrelu", new ConvBnReluBlock()), ("dwsep", new DepthwiseSeparableBlock()), ("ghost", new GhostModuleNet()),
            ("bottleneck", new GhostBottleneckNet()), ("dfc", new GhostAttentionNet()), ("repvgg", new RepVggNet()),
            ("repvgg-deploy", new RepVggNet().ToDeploy()), ("smallcnn", new FashionCnn.SmallCnn()),
        };
        foreach (var (name, m) in models)
        {
            m.Parameters.Initialize(1);
            var x = Rand(batch * m.InputSize, 3);
            var labels = Enumerable.Range(0, batch).Select(i => i % m.OutputSize).ToArray();
            var logits = new float[batch * m.OutputSize];
            cases.Add(new($"{name} b{batch} train 1t", 0, () => m.TrainStep(x, labels, batch)));
            cases.Add(new($"{name} b{batch} train all", 0, () => m.TrainStep(x, labels, batch)));
            cases.Add(new($"{name} b{batch} infer 1t", 0, () => m.Infer(x, batch, logits)));
            cases.Add(new($"{name} b{batch} infer all", 0, () => m.Infer(x, batch, logits)));
        }
    }

    struct Spin : IParallelJob
    {
        public int Iterations;
        public void Run(int index) { for (int i = 0; i < Iterations; i++) Thread.SpinWait(1); }
    }

    /// <summary>The cost of a parallel call: an empty two-task job, and jobs of growing size on 1 and all threads.</summary>
    static void Pool(List<Lab.Case> cases)
    {
        foreach (int it in new[] { 0, 100, 1000, 10000 })
        {
            var job = new Spin { Iterations = it };
            cases.Add(new($"pool 2 tasks x {it} spins", 0, () => WorkerPool.For(2, ref job)));
            cases.Add(new($"inline 2 tasks x {it} spins", 0, () => { job.Run(0); job.Run(1); }));
        }
    }

    static float[] Rand(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextSingle() * 2 - 1;
        return a;
    }

    static void Gemm(List<Lab.Case> cases)
    {
        torch.set_num_threads(WorkerPool.ThreadCount);
        foreach (int n in new[] { 256, 512, 1024 })
        {
            var a = Rand(n * n, 1); var b = Rand(n * n, 2); var c = new float[n * n];
            var ta = torch.tensor(a, new long[] { n, n }); var tb = torch.tensor(b, new long[] { n, n });
            double flops = 2.0 * n * n * n;
            Action ours = () => Authoring.Runtime.Cpu.Gemm.Multiply(false, false, n, n, n, 1f, a, 0, n, b, 0, n, 0f, c, 0, n);
            cases.Add(new($"gemm {n} ours 1t", flops, ours));
            cases.Add(new($"gemm {n} ours", flops, ours));
            cases.Add(new($"gemm {n} torch", flops, () => { using var r = torch.matmul(ta, tb); }));
            // C rows 64 bytes further apart than n: whether rows a power of two apart (4 KB at 1024) cost
            // the micro-kernel's C loads and stores L1 set conflicts.
            var cp = new float[n * (n + 16)];
            cases.Add(new($"gemm {n} ours ldc+16 1t", flops, () => Authoring.Runtime.Cpu.Gemm.Multiply(false, false, n, n, n, 1f, a, 0, n, b, 0, n, 0f, cp, 0, n + 16)));
        }
    }

    /// <summary>Exact GELU and its derivative (512-bit) over the VitNet MLP's hidden activations: batch 128 x 49 tokens x
    /// 128 features, the size of one block's GELU passes. Flops column: values.</summary>
    static void GeluPasses(List<Lab.Case> cases)
    {
        const int Len = 128 * 49 * 128;
        var z = Rand(Len, 5);
        var y = new float[Len];
        cases.Add(new("gelu' 1t", Len, () =>
        {
            for (int i = 0; i < Len; i += 16) System.Runtime.Intrinsics.Vector512.StoreUnsafe(default(Gelu).Derivative(System.Runtime.Intrinsics.Vector512.Create(z, i)), ref y[i]);
        }));
        cases.Add(new("gelu 1t", Len, () =>
        {
            for (int i = 0; i < Len; i += 16) System.Runtime.Intrinsics.Vector512.StoreUnsafe(default(Gelu).Apply(System.Runtime.Intrinsics.Vector512.Create(z, i)), ref y[i]);
        }));
    }

    /// <summary>A linear layer's data gradient dx = dy W at VitNet's token shapes (batch 128 x 49 tokens; qkv, proj, fc1,
    /// fc2): "gemmcore" is the packed GEMM BackwardData ran before, "kernel" LinearKernel.BackwardData as it is now.</summary>
    static unsafe void LinearDx(List<Lab.Case> cases)
    {
        const int N = 128 * 49;
        foreach (var (inF, outF) in new[] { (64, 192), (64, 64), (64, 128), (128, 64) })
        {
            var dy = Rand(N * outF, 6);
            var w = Rand(inF * outF, 7);
            var dx = new float[N * inF];
            double flops = 2.0 * N * inF * outF;
            cases.Add(new($"dx {inF}x{outF} gemmcore 1t", flops, () =>
            {
                fixed (float* pdy = dy, pw = w, pdx = dx)
                    GemmCore.Run(false, false, N, inF, outF, 1f, pdy, outF, pw, inF, 0f, pdx, inF, parallel: !WorkerPool.InsideJob);
            }));
            cases.Add(new($"dx {inF}x{outF} kernel 1t", flops, () =>
                LinearKernel.BackwardData(N, inF, outF, new View(dy, 0, outF), w, 0, new View(dx, 0, inF), false)));
        }
    }
}
