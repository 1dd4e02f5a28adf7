// The generated deploy model of binary networks (packed XNOR-popcount layers, Passes/Deploy.Binary.cs) against the
// latent model's evaluation forward (fp32 convs on alpha sign(w), then BatchNorm), on random weights over several
// seeds and shapes, on the CPU backend and ILGPU's CPU accelerator, and its deploy checkpoint with bits.
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;

namespace Authoring.Models.Tests;

public class PackedDeployTests
{
    const double U = 1.0 / (1 << 24); // float32 unit roundoff

    /// <summary>Random weights, BatchNorm statistics, and non-zero RSign / RPReLU shifts (their init is zero, which would
    /// leave every threshold at 0).</summary>
    internal static void Randomize(ParameterStore p, int seed)
    {
        GradientTests.Randomize(p, seed);
        var rng = new Random(seed + 7);
        for (int i = 0; i < p.Infos.Count; i++)
        {
            var info = p.Infos[i];
            if (info.Init != InitKind.Zeros || info.Role != ParameterRole.Bias) continue;
            var v = p.Value(i);
            for (int j = 0; j < v.Length; j++) v[j] = (float)(rng.NextDouble() - 0.5) * 0.6f;
        }
    }

    static float[] Run(IModel m, float[] x, int n)
    {
        var y = new float[n * m.OutputSize];
        m.Infer(x, n, y);
        return y;
    }

    // ---- The popcount part: an identity epilogue makes the packed model exact ------------------------------------

    // Unscaled, no bias, no BatchNorm: the latent conv sums ±1 products in fp32 (exact: integers below 2^24) and the
    // packed one counts them, with scale 1 and shift 0 in the epilogue. Equal to the bit, and integers.
    [Fact] public void ConvPopcountIsExact() => Exact(new PackedDotConv(), m => m.ToDeploy());

    [Fact] public void LinearPopcountIsExact() => Exact(new PackedDotLinear(), m => m.ToDeploy());

    static void Exact<TTrain, TDeploy>(TTrain model, Func<TTrain, TDeploy> toDeploy) where TTrain : IModel where TDeploy : IModel
    {
        for (int seed = 0; seed < 4; seed++)
        {
            Randomize(model.Parameters, 300 + seed);
            var deploy = toDeploy(model);
            int n = 1 + seed;
            var x = GradientTests.RandomInput(n * model.InputSize, 400 + seed);
            var expected = Run(model, x, n);
            var actual = Run(deploy, x, n);
            Assert.All(expected, v => Assert.Equal(Math.Round(v), v));
            Assert.Equal(expected, actual);
        }
    }

    // ---- One packed layer with scale, BatchNorm and shortcut: a derived bound ------------------------------------

    /// <summary>Per element y = bn(conv(sign(x))) + x. Latent: K = Cin Kh Kw products ±alpha summed in fp32 (error at most
    /// gamma_K K alpha, gamma_K = K u / (1 - K u)), then the folded BatchNorm (y = acc s + t) and the shortcut: a few
    /// roundings of |acc s|, |t|, |x|, |y|. Packed: exact dot, scale = alpha g and shift rounded once each, then
    /// scale dot + shift + x: three roundings. So |packed - latent| &lt;= gamma_K K |alpha g| + 8 u (K |alpha g| + |t| + |x| + |y|),
    /// with 8 counting every rounding of both sides at most twice.</summary>
    [Fact]
    public void ResidualBlockWithinDerivedBound()
    {
        var model = new PackedResidual();
        const int c = 70, hw = 36, k = c * 9;
        double gamma = k * U / (1 - k * U);
        for (int seed = 0; seed < 4; seed++)
        {
            Randomize(model.Parameters, 500 + seed);
            var deploy = model.ToDeploy();
            const int n = 3;
            var x = GradientTests.RandomInput(n * model.InputSize, 600 + seed);
            var expected = Run(model, x, n);
            var actual = Run(deploy, x, n);
            var p = model.Parameters;
            var w = p.Value("conv.weight").ToArray();
            var (g, b, mean, v) = (p.Value("bn.weight").ToArray(), p.Value("bn.bias").ToArray(), p.Value("bn.running_mean").ToArray(), p.Value("bn.running_var").ToArray());
            for (int i = 0; i < expected.Length; i++)
            {
                int ch = i % (c * hw) / hw;
                double alpha = w.Skip(ch * k).Take(k).Average(t => Math.Abs((double)t));
                double s = g[ch] / Math.Sqrt(v[ch] + 1e-5), t = b[ch] - mean[ch] * s;
                double bound = gamma * k * Math.Abs(alpha * s) + 8 * U * (k * Math.Abs(alpha * s) + Math.Abs(t) + Math.Abs(x[i]) + Math.Abs(expected[i]));
                Assert.True(Math.Abs(actual[i] - expected[i]) <= bound, $"seed {seed} y[{i}]: packed {actual[i]:R}, latent {expected[i]:R}, bound {bound:E2}");
            }
        }
    }

    // ---- Whole binary networks -----------------------------------------------------------------------------------

    // Several packed layers and real ones between them: each packed layer's output carries the bound above (about
    // (K + 8) K u of its scale, K <= 630 here: under 3e-2 of |alpha g| in the worst case, ~1e-5 of the layer's scale in
    // practice where errors do not all align), and the real layers after it (RPReLU, pooling, a linear head) are
    // contractions or small gains at these sizes. 1e-4 of the output's scale covers it; a wrong bit, threshold, scale
    // or shortcut moves outputs by O(alpha g), i.e. O(1e-1) of the scale. The predictions must agree exactly.
    const double NetworkTol = 1e-4;

    [Fact] public void BiRealBlockModel() => Close(new BiRealBlock(), m => m.ToDeploy());
    [Fact] public void BinaryMlpModel() => Close(new BinaryMlp(), m => m.ToDeploy());
    [Fact] public void ChainWithPackedOutput() => Close(new PackedChain(), m => m.ToDeploy());
    [Fact] public void WideConvAndLinearChain() => Close(new PackedWide(), m => m.ToDeploy());
    // Bi-Real blocks in a row: RPReLU and ReLU in the epilogue, floats and bits written together between blocks.
    [Fact] public void ChainedBiRealBlocks() => Close(new BiRealChain(), m => m.ToDeploy());
    [Fact] public void ChainedBiRealLinearBlocks() => Close(new BiRealMlp(), m => m.ToDeploy());

    internal static void Close<TTrain, TDeploy>(TTrain model, Func<TTrain, TDeploy> toDeploy, Func<TDeploy, IModel>? run = null)
        where TTrain : IModel where TDeploy : IModel
    {
        for (int seed = 0; seed < 4; seed++)
        {
            Randomize(model.Parameters, 700 + seed);
            var deploy = toDeploy(model);
            var runner = run is null ? deploy : run(deploy);
            const int n = 5;
            var x = GradientTests.RandomInput(n * model.InputSize, 800 + seed);
            var expected = Run(model, x, n);
            var actual = Run(runner, x, n);
            try
            {
                double scale = Math.Max(1e-3, expected.Max(v => Math.Abs((double)v)));
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(actual[i] - expected[i]) <= NetworkTol * scale,
                        $"{model.Name} seed {seed} output[{i}]: packed {actual[i]:R}, latent {expected[i]:R} (scale {scale:G4})");
                int classes = model.OutputSize;
                for (int b = 0; b < n; b++)
                    Assert.Equal(ArgMax(expected.AsSpan(b * classes, classes)), ArgMax(actual.AsSpan(b * classes, classes)));
            }
            finally
            {
                (runner as IDisposable)?.Dispose();
            }
        }
    }

    static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    // ---- What the pass produced ------------------------------------------------------------------------------------

    [Fact]
    public void BinaryLayersBecomeBitTensorsWithAFloatEpilogue()
    {
        // c1's BatchNorm output feeds only s2, which feeds only c2: c1's epilogue writes s2's bits (its out_threshold);
        // s1 becomes a packing with its threshold; no latent binary weight and no BatchNorm of a binary layer remains.
        var names = PackedChainDeploy.ParameterInfos.Select(i => i.Name).ToArray();
        Assert.Equal(new[] { "stem.weight", "stem.bias", "s1.threshold", "c1.scale", "c1.shift", "c1.out_threshold", "c2.scale", "c2.shift", "head.weight", "head.bias" }, names);
        Assert.Equal(new[] { "c1.weight_bits", "c2.weight_bits" }, PackedChainDeploy.BitParameterInfos.Select(i => i.Name));
        // [Cout / 16 rounded up, taps, words of Cin, 16]
        Assert.Equal(new[] { 5, 9, 2, 16 }, PackedChainDeploy.BitParameterInfos[0].Shape);
        Assert.Equal(new[] { 3, 9, 2, 16 }, PackedChainDeploy.BitParameterInfos[1].Shape);
    }

    [Fact]
    public void BiRealBlocksLeaveNoPackingOrActivationBetweenThem()
    {
        // A BinaryPack of an RSign keeps "{sign}.threshold" and an RPReLU of its own keeps "{layer}.move1.bias" etc.: only s1
        // (read from the real stem) is packed on its own; c1 and c2 write their RPReLU's floats and the next RSign's bits
        // (out_threshold) in one epilogue, c3 (shortcut, no activation) writes s4's bits alone, c4 runs its ReLU inside.
        var names = BiRealChainDeploy.ParameterInfos.Select(i => i.Name).ToArray();
        string[] Block(string c, bool act) => act
            ? new[] { c + ".scale", c + ".shift", c + ".out_threshold", c + ".act.move1.bias", c + ".act.prelu.weight", c + ".act.move2.bias" }
            : new[] { c + ".scale", c + ".shift", c + ".out_threshold" };
        var expected = new[] { "stem.weight", "stem.bias", "s1.threshold" }.Concat(Block("c1", true)).Concat(Block("c2", true)).Concat(Block("c3", false))
            .Concat(new[] { "c4.scale", "c4.shift", "head.weight", "head.bias" });
        Assert.Equal(expected, names);
        Assert.Equal(new[] { "fc1.weight", "fc1.bias", "s1.threshold" }.Concat(Block("l1", true)).Concat(new[] { "l2.scale", "l2.shift" })
            .Concat(new[] { "l2.act.move1.bias", "l2.act.prelu.weight", "l2.act.move2.bias", "fc2.weight", "fc2.bias" }), BiRealMlpDeploy.ParameterInfos.Select(i => i.Name));

        var model = new BiRealChain();
        Randomize(model.Parameters, 3);
        var d = model.ToDeploy();
        Assert.Equal(model.Parameters.Value("a1.move1.bias").ToArray(), d.Parameters.Value("c1.act.move1.bias").ToArray());
        Assert.Equal(model.Parameters.Value("a2.prelu.weight").ToArray(), d.Parameters.Value("c2.act.prelu.weight").ToArray());
        Assert.Equal(model.Parameters.Value("s3.bias").ToArray().Select(b => -b), d.Parameters.Value("c2.out_threshold").ToArray());
        Assert.Equal(model.Parameters.Value("s4.bias").ToArray().Select(b => -b), d.Parameters.Value("c3.out_threshold").ToArray());
    }

    [Fact]
    public void ThresholdsAreTheNegatedRSignShifts()
    {
        var model = new PackedChain();
        Randomize(model.Parameters, 1);
        var d = model.ToDeploy();
        Assert.Equal(model.Parameters.Value("s1.bias").ToArray().Select(b => -b), d.Parameters.Value("s1.threshold").ToArray());
        Assert.Equal(model.Parameters.Value("s2.bias").ToArray().Select(b => -b), d.Parameters.Value("c1.out_threshold").ToArray());
    }

    [Fact]
    public void DeployModelDoesNotTrain()
    {
        var d = new PackedDotLinear().ToDeploy();
        var e = Assert.Throws<NotSupportedException>(() => d.TrainStep(new float[100], new int[1], 1));
        Assert.Contains("train the latent model", e.Message);
    }

    // ---- The deploy checkpoint: bits as U64 -----------------------------------------------------------------------

    [Fact]
    public void CheckpointStoresBitsAndReloadsIdentically()
    {
        var model = new PackedWide();
        Randomize(model.Parameters, 9);
        var d = model.ToDeploy();
        string path = Path.Combine(Path.GetTempPath(), $"packed-{Guid.NewGuid():N}.safetensors");
        try
        {
            d.Save(path);
            var (tensors, _) = PackedCheckpoint.Load(path);
            // Cin = 128 (two whole words), Cout = 64 (four whole blocks of 16): exactly 1 bit per weight.
            var bits = tensors["conv.weight_bits"];
            Assert.Equal("U64", bits.Dtype);
            Assert.Equal(4L * 128 * 64 * 9 / 32, bits.Bytes.Length);
            Assert.Equal("F32", tensors["conv.scale"].Dtype);
            Assert.Equal(4L * 1024 * 80 / 32, tensors["l1.weight_bits"].Bytes.Length);

            var again = new PackedWideDeploy();
            again.Load(path);
            Assert.Equal(d.Parameters.Bits!.Words, again.Parameters.Bits!.Words);
            const int n = 4;
            var x = GradientTests.RandomInput(n * model.InputSize, 3);
            Assert.Equal(Run(d, x, n), Run(again, x, n));

            // Truncated: the header promises more data than the file has.
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
            var e = Assert.Throws<InvalidDataException>(() => again.Load(path));
            Assert.Contains("truncated", e.Message);
            Assert.Equal(d.Parameters.Bits!.Words, again.Parameters.Bits!.Words); // nothing written

            // Another model's deploy checkpoint.
            new PackedChain().ToDeploy().Save(path);
            e = Assert.Throws<InvalidDataException>(() => again.Load(path));
            Assert.Contains("another model", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FloatCheckpointsRefuseBits()
    {
        var d = new PackedDotConv().ToDeploy();
        var e = Assert.Throws<InvalidOperationException>(() => Safetensors.Save(d.Parameters, new MemoryStream()));
        Assert.Contains("PackedCheckpoint", e.Message);
    }
}

/// <summary>The same deploy models on ILGPU's CPU accelerator (GpuKernels.Binary*), against the latent CPU model.</summary>
[Collection("gpu")]
public class PackedDeployGpuTests(GpuDeviceFixture fixture)
{
    [Fact]
    public void PopcountIsExactOnTheDevice()
    {
        var model = new PackedDotConv();
        for (int seed = 0; seed < 2; seed++)
        {
            PackedDeployTests.Randomize(model.Parameters, 310 + seed);
            var d = model.ToDeploy();
            using var gpu = new PackedDotConvDeploy.Gpu(fixture.Device, d.Parameters);
            const int n = 3;
            var x = GradientTests.RandomInput(n * model.InputSize, 410 + seed);
            var expected = new float[n * model.OutputSize];
            var actual = new float[n * model.OutputSize];
            model.Infer(x, n, expected);
            gpu.Infer(x, n, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Fact] public void BiRealBlockModel() => PackedDeployTests.Close(new BiRealBlock(), m => m.ToDeploy(), d => new BiRealBlockDeploy.Gpu(fixture.Device, d.Parameters));
    [Fact] public void BinaryMlpModel() => PackedDeployTests.Close(new BinaryMlp(), m => m.ToDeploy(), d => new BinaryMlpDeploy.Gpu(fixture.Device, d.Parameters));
    [Fact] public void ChainWithPackedOutput() => PackedDeployTests.Close(new PackedChain(), m => m.ToDeploy(), d => new PackedChainDeploy.Gpu(fixture.Device, d.Parameters));
    [Fact] public void WideConvAndLinearChain() => PackedDeployTests.Close(new PackedWide(), m => m.ToDeploy(), d => new PackedWideDeploy.Gpu(fixture.Device, d.Parameters));
    [Fact] public void ChainedBiRealBlocks() => PackedDeployTests.Close(new BiRealChain(), m => m.ToDeploy(), d => new BiRealChainDeploy.Gpu(fixture.Device, d.Parameters));
    [Fact] public void ChainedBiRealLinearBlocks() => PackedDeployTests.Close(new BiRealMlp(), m => m.ToDeploy(), d => new BiRealMlpDeploy.Gpu(fixture.Device, d.Parameters));

    [Fact]
    public void ReloadedBitsReachTheDevice()
    {
        // The device copy of the bits follows the host BitStore's version: a Load after the GPU model exists is used.
        var model = new PackedDotLinear();
        PackedDeployTests.Randomize(model.Parameters, 1);
        var d = model.ToDeploy();
        using var gpu = new PackedDotLinearDeploy.Gpu(fixture.Device, d.Parameters);
        const int n = 2;
        var x = GradientTests.RandomInput(n * model.InputSize, 2);
        var before = new float[n * model.OutputSize];
        gpu.Infer(x, n, before);
        PackedDeployTests.Randomize(model.Parameters, 2);
        var other = model.ToDeploy();
        other.Parameters.Bits!.Words.CopyTo(d.Parameters.Bits!.Words, 0);
        d.Parameters.Bits.MarkChanged();
        var expected = new float[n * model.OutputSize];
        var actual = new float[n * model.OutputSize];
        model.Infer(x, n, expected);
        gpu.Infer(x, n, actual);
        Assert.NotEqual(before, actual);
        Assert.Equal(expected, actual);
    }
}
