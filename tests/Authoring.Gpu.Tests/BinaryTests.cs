// The ILGPU binary kernels against the CPU kernels (themselves checked against integer and TorchSharp
// references in the Runtime and Oracle tests). Packing, the popcount dot product and the epilogue are
// the same arithmetic on both sides (exact integers, then dot * scale + shift and + residual rounded
// one operation at a time), so float outputs with Identity or ReLU and all packed bits must match
// exactly on the CPU accelerator; on CUDA the compiler may fuse the multiply-add, so there the floats
// get 2 ulps of slack (bits are compared where the margin to the threshold exceeds that). Training
// kernels sum in another order than the CPU's: sums of <= 40 terms of magnitude <= 2 get 1e-5.
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Authoring.Runtime.Cpu;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class BinaryTests(GpuFixture fx)
{
    bool Exact => fx.Device.Accelerator.AcceleratorType == AcceleratorType.CPU;

    MemoryBuffer1D<ulong, Stride1D.Dense> Upload(ulong[] a) => fx.Device.Accelerator.Allocate1D(a);

    static float[] Values(Random rng, int len)
    {
        var a = Random(rng, len);
        for (int i = 0; i < len; i += 7) a[i] = i % 2 == 0 ? 0f : -0f;
        return a;
    }

    // Cin, H, W, Cout, Kh, Kw, Sh, Sw, Ph, Pw, Dh, Dw
    static readonly Conv2dShape[] Shapes =
    [
        new(3, 5, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),     // tiny, odd
        new(70, 5, 5, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1),   // two words, stride 2, 20 outputs
        new(65, 4, 3, 17, 1, 1, 1, 1, 0, 0, 1, 1, 1),   // 1 x 1
        new(9, 6, 5, 70, 3, 3, 1, 1, 2, 2, 2, 2, 1),    // dilation 2, padding 2, two output words
    ];

    public static TheoryData<int> Cases => new() { 0, 1, 2, 3 };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvMatchesCpu(int which)
    {
        var s = Shapes[which];
        int n = 2;
        var rng = new Random(which);
        var thrIn = Random(rng, s.Cin, 0.2);
        using var xf = fx.Batch(rng, n, s.InSize, offset: 2, gap: 3);
        var xHost = Array.ConvertAll(xf.Values, v => (float)v);
        int inWords = BitPack.ActivationWords(s.Cin, s.H, s.W);

        // Packing: identical words.
        var xcpu = new BitView(new ulong[n * inWords], 0, inWords);
        BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(xHost, 0, s.InSize), thrIn, 0, xcpu);
        using var thrInDev = fx.Array(thrIn);
        using var xbits = Upload(new ulong[n * inWords + 3]);
        var xg = new GBitView(xbits.View, 1, inWords);
        fx.Kernels.BinaryPackActivations(n, s.Cin, s.H, s.W, xf.View, thrInDev.View, xg);
        var packedDev = xbits.GetAsArray1D();
        Assert.Equal(xcpu.Data, packedDev[1..(1 + n * inWords)]);

        var w = Values(rng, s.WeightSize);
        var pw = new ulong[BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, w, 0, pw, 0);
        var sums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, pw, 0, sums, 0);
        using var wDev = Upload(pw);
        var scale = Random(rng, s.Cout, 0.1);
        var shift = Random(rng, s.Cout);
        var thr = Random(rng, s.Cout, 0.3);
        using var scDev = fx.Array(scale);
        using var shDev = fx.Array(shift);
        using var thDev = fx.Array(thr);
        using var res = fx.Batch(rng, n, s.OutSize, offset: 1, gap: 2);
        var resHost = Array.ConvertAll(res.Values, v => (float)v);

        // Float output with residual and ReLU.
        var cpuY = new float[n * s.OutSize];
        BinaryConvKernel.Forward<Relu>(s, n, xcpu, pw, 0, sums, 0, scale, 0, shift, 0, new View(cpuY, 0, s.OutSize), new View(resHost, 0, s.OutSize));
        using var y = fx.Batch(rng, n, s.OutSize, offset: 4, gap: 1);
        fx.Kernels.BinaryConvForward<Relu>(s, n, xg, wDev.View, scDev.View, shDev.View, y.View, res.View);
        var gpuY = y.Read();
        Close(ToDouble(cpuY), gpuY, 0, Exact ? 0 : 2.5e-7, "y");

        // Unscaled: the integers themselves.
        var cpuDot = new float[n * s.OutSize];
        BinaryConvKernel.Forward<Identity>(s, n, xcpu, pw, 0, sums, 0, null, 0, null, 0, new View(cpuDot, 0, s.OutSize));
        using var dot = fx.Batch(rng, n, s.OutSize, offset: 0, gap: 0);
        fx.Kernels.BinaryConvForward<Identity>(s, n, xg, wDev.View, default, default, dot.View, default);
        Assert.Equal(cpuDot, dot.Read());

        // Packed output.
        int outWords = BitPack.ActivationWords(s.Cout, s.Ho, s.Wo);
        var cpuBits = new BitView(new ulong[n * outWords], 0, outWords);
        BinaryConvKernel.ForwardPacked<Identity>(s, n, xcpu, pw, 0, sums, 0, scale, 0, shift, 0, thr, 0, cpuBits);
        using var ybits = Upload(new ulong[n * outWords + 2]);
        fx.Kernels.BinaryConvForwardPacked<Identity>(s, n, xg, wDev.View, scDev.View, shDev.View, thDev.View, new GBitView(ybits.View, 2, outWords));
        var gpuBits = ybits.GetAsArray1D()[2..];
        if (Exact) Assert.Equal(cpuBits.Data, gpuBits);
        else AssertBitsAgreeAwayFromThreshold(cpuBits.Data, gpuBits, cpuDot, s, n, scale, shift, thr);

        // The general epilogue of a Bi-Real block's output: residual, per-channel RPReLU, floats and bits in one pass, into
        // a bit buffer full of ones (the bits past Cout must come out 0). On CUDA only the floats are compared (the fused
        // multiply-adds move values near a threshold across it).
        var rp = Random(rng, 3 * s.Cout, 0.4);
        using var rpDev = fx.Array(rp);
        var cpuFy = new float[n * s.OutSize];
        var cpuFb = new BitView(new ulong[n * outWords], 0, outWords);
        BinaryConvKernel.ForwardFused<Identity>(s, n, xcpu, pw, 0, sums, 0, scale, 0, shift, 0, new View(resHost, 0, s.OutSize),
            new RPReluParams(rp, 0, s.Cout, 2 * s.Cout), new View(cpuFy, 0, s.OutSize), thr, 0, cpuFb);
        using var fy = fx.Batch(rng, n, s.OutSize, offset: 3, gap: 2);
        using var fbits = Upload(Enumerable.Repeat(ulong.MaxValue, n * outWords + 1).ToArray());
        var act = new GRPReluParams(rpDev.View.SubView(0, s.Cout), rpDev.View.SubView(s.Cout, s.Cout), rpDev.View.SubView(2 * s.Cout, s.Cout));
        fx.Kernels.BinaryConvForwardFused<Identity>(s, n, xg, wDev.View, scDev.View, shDev.View, res.View, act, fy.View, thDev.View, new GBitView(fbits.View, 1, outWords));
        Close(ToDouble(cpuFy), fy.Read(), 0, Exact ? 0 : 5e-7, "fused y");
        var fusedBits = fbits.GetAsArray1D();
        Assert.Equal(ulong.MaxValue, fusedBits[0]);
        if (Exact) Assert.Equal(cpuFb.Data, fusedBits[1..]);
    }

    /// <summary>A binary conv saved to the deploy checkpoint (weights as U64 bits) and loaded back runs on the device
    /// kernels as it is (BitPack's layout is the device's too) and matches the saved layer's CPU forward: exactly on
    /// ILGPU's CPU accelerator, within the 2-ulp fused multiply-add difference on CUDA (as ConvMatchesCpu).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void DeployCheckpointRunsOnTheDevice(int which)
    {
        var s = Shapes[which];
        int n = 2;
        var rng = new Random(100 + which);
        var latent = Values(rng, s.WeightSize);
        var bias = Random(rng, s.Cout);
        var saved = PackedBinaryConv.FromLatent(s, latent, true, bias, default, default, default, default, 0f);
        string dir = Directory.CreateTempSubdirectory("gpu-deploy-").FullName;
        try
        {
            string path = Path.Combine(dir, "deploy.safetensors");
            Authoring.Runtime.Checkpoints.PackedCheckpoint.Save(path, saved.ToTensors("c").ToList(), new Dictionary<string, string> { ["c.conv"] = saved.ShapeMetadata });
            var (tensors, metadata) = Authoring.Runtime.Checkpoints.PackedCheckpoint.Load(path);
            var loaded = PackedBinaryConv.FromTensors(tensors, metadata, "c");

            using var xf = fx.Batch(rng, n, s.InSize, offset: 2, gap: 3);
            var xHost = Array.ConvertAll(xf.Values, v => (float)v);
            int inWords = BitPack.ActivationWords(s.Cin, s.H, s.W);
            var xcpu = new BitView(new ulong[n * inWords], 0, inWords);
            BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(xHost, 0, s.InSize), null, 0, xcpu);
            using var res = fx.Batch(rng, n, s.OutSize, offset: 1, gap: 2);
            var resHost = Array.ConvertAll(res.Values, v => (float)v);
            var cpuY = new float[n * s.OutSize];
            saved.Forward<Relu>(n, xcpu, new View(cpuY, 0, s.OutSize), new View(resHost, 0, s.OutSize));

            using var xbits = Upload(xcpu.Data);
            using var wDev = Upload(loaded.Weights);
            using var scDev = fx.Array(loaded.Scale);
            using var shDev = fx.Array(loaded.Shift);
            using var y = fx.Batch(rng, n, s.OutSize, offset: 4, gap: 1);
            fx.Kernels.BinaryConvForward<Relu>(s, n, new GBitView(xbits.View, 0, inWords), wDev.View, scDev.View, shDev.View, y.View, res.View);
            Close(ToDouble(cpuY), y.Read(), 0, Exact ? 0 : 2.5e-7, "y");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Bits may differ only where the float z sits within 2 ulps of the threshold (a fused multiply-add on CUDA).</summary>
    static void AssertBitsAgreeAwayFromThreshold(ulong[] cpu, ulong[] gpu, float[] dot, Conv2dShape s, int n, float[] scale, float[] shift, float[] thr)
    {
        int hw = s.Ho * s.Wo, wc = BitPack.Words(s.Cout);
        for (int b = 0; b < n; b++)
            for (int p = 0; p < hw; p++)
                for (int co = 0; co < s.Cout; co++)
                {
                    int at = (b * hw + p) * wc + co / 64;
                    bool c = ((cpu[at] >> (co % 64)) & 1) != 0, g = ((gpu[at] >> (co % 64)) & 1) != 0;
                    double z = (double)dot[b * s.OutSize + co * hw + p] * scale[co] + shift[co];
                    if (c != g && Math.Abs(z - thr[co]) > 2.5e-7 * (Math.Abs(z) + 1)) Assert.Fail($"bit of sample {b} position {p} channel {co}");
                }
    }

    /// <summary>The popcount of a ulong becomes PTX's popc.b64 (one instruction per word), not a shift-and-mask sequence.</summary>
    [Fact]
    public void PopcountCompilesToThePtxInstruction()
    {
        using var backend = new PTXBackend(fx.Device.Context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        foreach (var name in new[] { "BinaryConvFloatKernel", "BinaryConvBitsKernel" })
        {
            var m = typeof(GpuKernels).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic)!.MakeGenericMethod(typeof(Identity));
            var ck = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(m), KernelSpecialization.Empty);
            Assert.Contains("popc.b64", ck.PTXAssembly);
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 65, 17)]
    [InlineData(2, 130, 70)]
    public void LinearMatchesCpu(int n, int inF, int outF)
    {
        var rng = new Random(inF);
        using var xf = fx.Batch(rng, n, inF, offset: 1, gap: 2);
        var xHost = Array.ConvertAll(xf.Values, v => (float)v);
        int words = BitPack.Words(inF);
        var xcpu = new BitView(new ulong[n * words], 0, words);
        BitPack.PackFeatures(n, inF, new View(xHost, 0, inF), null, 0, xcpu);
        using var xbits = Upload(new ulong[n * words]);
        var xg = new GBitView(xbits.View, 0, words);
        fx.Kernels.BinaryPackFeatures(n, inF, xf.View, default, xg);
        Assert.Equal(xcpu.Data, xbits.GetAsArray1D());

        var w = Values(rng, inF * outF);
        var pw = new ulong[BitPack.LinearWeightWords(inF, outF)];
        BitPack.PackLinearWeights(inF, outF, w, 0, pw, 0);
        using var wDev = Upload(pw);
        var scale = Random(rng, outF, 0.1);
        var shift = Random(rng, outF);
        using var scDev = fx.Array(scale);
        using var shDev = fx.Array(shift);
        var cpuY = new float[n * outF];
        BinaryConvKernel.LinearForward<Relu>(n, inF, outF, xcpu, pw, 0, scale, 0, shift, 0, new View(cpuY, 0, outF));
        using var y = fx.Batch(rng, n, outF, offset: 2, gap: 1);
        fx.Kernels.BinaryLinearForward<Relu>(n, inF, outF, xg, wDev.View, scDev.View, shDev.View, y.View, default);
        Close(ToDouble(cpuY), y.Read(), 0, Exact ? 0 : 2.5e-7, "y");

        int ow = BitPack.Words(outF);
        var cpuBits = new BitView(new ulong[n * ow], 0, ow);
        BinaryConvKernel.LinearForwardPacked<Relu>(n, inF, outF, xcpu, pw, 0, scale, 0, shift, 0, null, 0, cpuBits);
        using var ybits = Upload(new ulong[n * ow]);
        fx.Kernels.BinaryLinearForwardPacked<Relu>(n, inF, outF, xg, wDev.View, scDev.View, shDev.View, default, new GBitView(ybits.View, 0, ow));
        if (Exact) Assert.Equal(cpuBits.Data, ybits.GetAsArray1D());
    }

    /// <summary>A binary linear layer from the deploy checkpoint runs on the device kernels as stored (see
    /// DeployCheckpointRunsOnTheDevice).</summary>
    [Theory]
    [InlineData(3, 65, 17)]
    [InlineData(2, 128, 32)]
    public void DeployCheckpointLinearRunsOnTheDevice(int n, int inF, int outF)
    {
        var rng = new Random(inF + 1);
        var saved = PackedBinaryLinear.FromLatent(inF, outF, Values(rng, inF * outF), true, Random(rng, outF), default, default, default, default, 0f);
        string dir = Directory.CreateTempSubdirectory("gpu-deploy-linear-").FullName;
        try
        {
            string path = Path.Combine(dir, "deploy.safetensors");
            Authoring.Runtime.Checkpoints.PackedCheckpoint.Save(path, saved.ToTensors("fc").ToList(), new Dictionary<string, string> { ["fc.linear"] = saved.ShapeMetadata });
            var (tensors, metadata) = Authoring.Runtime.Checkpoints.PackedCheckpoint.Load(path);
            var loaded = PackedBinaryLinear.FromTensors(tensors, metadata, "fc");

            using var xf = fx.Batch(rng, n, inF, offset: 1, gap: 2);
            var xHost = Array.ConvertAll(xf.Values, v => (float)v);
            int words = BitPack.Words(inF);
            var xcpu = new BitView(new ulong[n * words], 0, words);
            BitPack.PackFeatures(n, inF, new View(xHost, 0, inF), null, 0, xcpu);
            var cpuY = new float[n * outF];
            saved.Forward<Relu>(n, xcpu, new View(cpuY, 0, outF));

            using var xbits = Upload(xcpu.Data);
            using var wDev = Upload(loaded.Weights);
            using var scDev = fx.Array(loaded.Scale);
            using var shDev = fx.Array(loaded.Shift);
            using var y = fx.Batch(rng, n, outF, offset: 2, gap: 1);
            fx.Kernels.BinaryLinearForward<Relu>(n, inF, outF, new GBitView(xbits.View, 0, words), wDev.View, scDev.View, shDev.View, y.View, default);
            Close(ToDouble(cpuY), y.Read(), 0, Exact ? 0 : 2.5e-7, "y");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SignAndRPReluMatchCpu()
    {
        const int n = 2, c = 3, hw = 10;
        var rng = new Random(5);
        using var x = fx.Batch(rng, n, c * hw, offset: 2, gap: 1, scale: 1.5);
        using var dy = fx.Batch(rng, n, c * hw, offset: 1, gap: 3);
        var xh = Array.ConvertAll(x.Values, v => (float)v);
        var dyh = Array.ConvertAll(dy.Values, v => (float)v);
        var bias = Random(rng, c, 0.5);
        using var biasDev = fx.Array(bias);
        var xv = new View(xh, 0, c * hw);

        var ycpu = new float[n * c * hw];
        BinaryActivationKernel.SignForward(n, c, hw, xv, bias, 0, new View(ycpu, 0, c * hw));
        using var y = fx.Batch(rng, n, c * hw);
        fx.Kernels.BinarySignForward(n, c, hw, x.View, biasDev.View, y.View);
        Assert.Equal(ycpu, y.Read());

        foreach (bool approx in new[] { false, true })
        {
            var dxcpu = new float[n * c * hw];
            var dbcpu = Random(rng, c);
            using var db = fx.Array((float[])dbcpu.Clone());
            using var dx = fx.Batch(rng, n, c * hw);
            var dxInit = Array.ConvertAll(dx.Values, v => (float)v);
            Array.Copy(dxInit, dxcpu, dxcpu.Length);
            if (approx)
            {
                BinaryActivationKernel.SignBackward(n, c, hw, new ApproxSign(), xv, bias, 0, new View(dyh, 0, c * hw), new View(dxcpu, 0, c * hw), true, dbcpu, 0);
                fx.Kernels.BinarySignBackward(n, c, hw, new ApproxSign(), x.View, biasDev.View, dy.View, dx.View, true, db.View);
            }
            else
            {
                BinaryActivationKernel.SignBackward(n, c, hw, new SteSign(1f), xv, bias, 0, new View(dyh, 0, c * hw), new View(dxcpu, 0, c * hw), true, dbcpu, 0);
                fx.Kernels.BinarySignBackward(n, c, hw, new SteSign(1f), x.View, biasDev.View, dy.View, dx.View, true, db.View);
            }
            Close(ToDouble(dxcpu), dx.Read(), 1e-6, 1e-6, "dx");
            Close(ToDouble(dbcpu), db.Read(), 1e-5, 1e-5, "dbias");
        }

        var b0 = Random(rng, c, 0.5); var sl = Random(rng, c, 0.3); var b1 = Random(rng, c, 0.5);
        var p = b0.Concat(sl).Concat(b1).ToArray();
        using var b0d = fx.Array(b0); using var sld = fx.Array(sl); using var b1d = fx.Array(b1);
        var rcpu = new float[n * c * hw];
        BinaryActivationKernel.RPReluForward(n, c, hw, xv, p, 0, c, 2 * c, new View(rcpu, 0, c * hw));
        using var r = fx.Batch(rng, n, c * hw);
        fx.Kernels.RPReluForward(n, c, hw, x.View, b0d.View, sld.View, b1d.View, r.View);
        Close(ToDouble(rcpu), r.Read(), 1e-6, 1e-6, "rprelu");
        var dxc = new float[n * c * hw];
        var g = new float[3 * c];
        BinaryActivationKernel.RPReluBackward(n, c, hw, xv, new View(dyh, 0, c * hw), p, 0, c, 2 * c, new View(dxc, 0, c * hw), false, g, 0, c, 2 * c);
        using var dxg = fx.Batch(rng, n, c * hw);
        using var g0 = fx.Array(new float[c]); using var g1 = fx.Array(new float[c]); using var g2 = fx.Array(new float[c]);
        fx.Kernels.RPReluBackward(n, c, hw, x.View, dy.View, b0d.View, sld.View, dxg.View, false, g0.View, g1.View, g2.View);
        Close(ToDouble(dxc), dxg.Read(), 1e-6, 1e-6, "rprelu dx");
        Close(ToDouble(g[..c]), g0.Read(), 1e-5, 1e-5, "db0");
        Close(ToDouble(g[c..(2 * c)]), g1.Read(), 1e-5, 1e-5, "dslope");
        Close(ToDouble(g[(2 * c)..]), g2.Read(), 1e-5, 1e-5, "db1");
    }

    [Theory]
    [InlineData(WeightGradient.Clip)]
    [InlineData(WeightGradient.ScaledClip)]
    [InlineData(WeightGradient.Full)]
    public void BinaryWeightsMatchCpu(WeightGradient mode)
    {
        const int cout = 4, k = 27;
        var rng = new Random((int)mode);
        var w = Random(rng, cout * k, 1.5);
        w[3] = 0f; w[5] = 1f; w[8] = -1f;
        var dwb = Random(rng, cout * k);
        var wb = new float[cout * k];
        var alpha = new float[cout];
        BinaryWeightKernel.Forward(cout, k, w, 0, wb, 0, alpha, 0);
        var dw = Random(rng, cout * k);
        using var dwDev = fx.Array((float[])dw.Clone());
        BinaryWeightKernel.Backward(cout, k, mode, 1f, w, 0, dwb, 0, alpha, 0, dw, 0);

        using var wDev = fx.Array(w);
        using var wbDev = fx.Array(new float[cout * k]);
        using var aDev = fx.Array(new float[cout]);
        using var dwbDev = fx.Array(dwb);
        fx.Kernels.BinaryWeightsForward(cout, k, wDev.View, wbDev.View, aDev.View);
        Close(ToDouble(alpha), aDev.Read(), 0, 1e-6, "alpha");
        Close(ToDouble(wb), wbDev.Read(), 0, 1e-6, "wb");
        fx.Kernels.BinaryWeightsBackward(cout, k, mode, 1f, wDev.View, dwbDev.View, aDev.View, dwDev.View);
        Close(ToDouble(dw), dwDev.Read(), 1e-6, 1e-5, "dw");
    }
}
