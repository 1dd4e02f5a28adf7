// PackedBinaryLinear (the deploy form of a binary linear layer) against the latent layer's binarised forward, on
// random weights and inputs with In and Out off the packing widths (64 bits, 16 output lanes):
//   - the popcount part bit for bit against a direct integer reference of sign(x) . sign(w);
//   - the scaled output (alpha, bias, BatchNorm1d, residual) against the same definition in double, within 1e-5 of the
//     largest magnitude: a few float roundings of values <= scale * In (~100x float round-off), while a wrong sign or
//     feature is an O(1) error (the tolerance of PackedBinaryConvTests, for the same epilogue);
//   - the deploy checkpoint round trip (U64 bits, F32 scale/shift) with exact equality, and 32x fewer weight bytes.
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public sealed class PackedBinaryLinearTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("packed-linear-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static float[] Uniform(Random rng, int count, float lo, float hi)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return a;
    }

    [Theory]
    [InlineData(3, 7, 5, 1)]
    [InlineData(2, 64, 16, 2)]
    [InlineData(4, 130, 33, 3)]
    [InlineData(1, 3136, 10, 4)]
    public void PackedEqualsLatentBinarisedForwardAndSurvivesTheCheckpoint(int n, int inF, int outF, int seed)
    {
        var rng = new Random(seed);
        var latent = Uniform(rng, inF * outF, -1.5f, 1.5f);
        var (bias, gamma, beta, mean, var) = (Uniform(rng, outF, -1f, 1f), Uniform(rng, outF, 0.5f, 1.5f), Uniform(rng, outF, -0.5f, 0.5f),
            Uniform(rng, outF, -3f, 3f), Uniform(rng, outF, 0.5f, 4f));
        const float eps = 1e-5f;
        var layer = PackedBinaryLinear.FromLatent(inF, outF, latent, true, bias, gamma, beta, mean, var, eps);

        var x = Uniform(rng, n * inF, -2f, 2f);
        int words = BitPack.Words(inF);
        var bits = new ulong[n * words];
        BitPack.PackFeatures(n, inF, new View(x, 0, inF), null, 0, new BitView(bits, 0, words));
        var dot = new float[n * outF];
        layer.Dot(n, new BitView(bits, 0, words), new View(dot, 0, outF));
        for (int b = 0; b < n; b++)
            for (int o = 0; o < outF; o++)
            {
                long acc = 0;
                for (int i = 0; i < inF; i++) acc += (x[b * inF + i] < 0 ? -1 : 1) * (latent[o * inF + i] < 0 ? -1 : 1);
                Assert.Equal(acc, (long)dot[b * outF + o]);
            }

        var residual = Uniform(rng, n * outF, -3f, 3f);
        var y = new float[n * outF];
        layer.Forward<Identity>(n, new BitView(bits, 0, words), new View(y, 0, outF), new View(residual, 0, outF));
        var expected = new double[y.Length];
        for (int o = 0; o < outF; o++)
        {
            double alpha = 0;
            for (int i = 0; i < inF; i++) alpha += Math.Abs((double)latent[o * inF + i]);
            alpha /= inF;
            double g = gamma[o] / Math.Sqrt(var[o] + (double)eps);
            for (int b = 0; b < n; b++)
                expected[b * outF + o] = g * (alpha * dot[b * outF + o] + bias[o] - mean[o]) + beta[o] + residual[b * outF + o];
        }
        double scale = Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 * scale, $"y[{i}]: packed {y[i]}, expected {expected[i]}");

        string path = Path.Combine(_dir, $"linear{seed}.safetensors");
        PackedCheckpoint.Save(path, layer.ToTensors("fc").ToList(), new Dictionary<string, string> { ["fc.linear"] = layer.ShapeMetadata });
        var (tensors, metadata) = PackedCheckpoint.Load(path);
        var loaded = PackedBinaryLinear.FromTensors(tensors, metadata, "fc");
        var y2 = new float[n * outF];
        loaded.Forward<Identity>(n, new BitView(bits, 0, words), new View(y2, 0, outF), new View(residual, 0, outF));
        Assert.Equal(y, y2);
        if (inF % 64 == 0 && outF % BitPack.Lanes == 0) Assert.Equal(4L * inF * outF, 32 * loaded.WeightBytes);
    }
}
