// The binary layers' deploy checkpoint (PackedCheckpoint, PackedBinaryConv.ToTensors / FromTensors): the weights are
// stored as bits (a U64 tensor, 1 bit per weight), the epilogue as F32 scale and shift, and a layer loaded back
// computes bit for bit what the saved one did (same words, same floats, tap sums recomputed from the bits), so the
// round trip is checked with exact equality, not a tolerance. Shapes include Cin and Cout that are not multiples of
// the packing widths (64 bits, 16 output lanes), stride 2 and the Bi-Real residual.
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public sealed class PackedCheckpointTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("packed-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static float[] Uniform(Random rng, int count, float lo, float hi)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return a;
    }

    static PackedBinaryConv Layer(Random rng, Conv2dShape s, bool batchNorm)
    {
        int cout = s.Cout;
        var latent = Uniform(rng, s.WeightSize, -1.5f, 1.5f);
        return batchNorm
            ? PackedBinaryConv.FromLatent(s, latent, true, Uniform(rng, cout, -1f, 1f), Uniform(rng, cout, 0.5f, 1.5f),
                Uniform(rng, cout, -0.5f, 0.5f), Uniform(rng, cout, -3f, 3f), Uniform(rng, cout, 0.5f, 4f), 1e-5f)
            : PackedBinaryConv.FromLatent(s, latent, true, default, default, default, default, default, 0f);
    }

    [Theory]
    [InlineData(2, 5, 7, 6, 3, 1, 1, 1)]
    [InlineData(1, 64, 64, 7, 3, 1, 1, 2)]
    [InlineData(3, 70, 17, 9, 3, 2, 1, 3)]
    [InlineData(2, 128, 32, 5, 1, 1, 0, 4)]
    public void LoadedLayerGivesIdenticalOutputs(int n, int cin, int cout, int hw, int k, int stride, int pad, int seed)
    {
        var rng = new Random(seed);
        var s = new Conv2dShape(cin, hw, hw, cout, k, k, stride, stride, pad, pad, 1, 1, 1);
        var a = Layer(rng, s, batchNorm: true);
        var b = Layer(rng, s with { H = hw + 1, W = hw + 1 }, batchNorm: false);
        string path = Path.Combine(_dir, $"deploy{seed}.safetensors");
        PackedCheckpoint.Save(path, a.ToTensors("blocks.0.conv").Concat(b.ToTensors("blocks.1.conv")).ToList(),
            new Dictionary<string, string> { ["blocks.0.conv.conv"] = a.ShapeMetadata, ["blocks.1.conv.conv"] = b.ShapeMetadata });

        var (tensors, metadata) = PackedCheckpoint.Load(path);
        var a2 = PackedBinaryConv.FromTensors(tensors, metadata, "blocks.0.conv");
        var b2 = PackedBinaryConv.FromTensors(tensors, metadata, "blocks.1.conv");
        Assert.Equal(a.Shape, a2.Shape);
        Assert.Equal(b.Shape, b2.Shape);
        Assert.Equal(a.Weights, a2.Weights);
        Assert.Equal(a.TapSums, a2.TapSums);

        var header = Safetensors.ReadHeader(path);
        Assert.Equal("U64", header.Tensors.Single(t => t.Name == "blocks.0.conv.weight_bits").Dtype);
        Assert.Equal("F32", header.Tensors.Single(t => t.Name == "blocks.0.conv.scale").Dtype);

        foreach (var (saved, loaded) in new[] { (a, a2), (b, b2) })
        {
            var sh = saved.Shape;
            int inSize = sh.Cin * sh.H * sh.W, outSize = sh.OutSize, words = BitPack.ActivationWords(sh.Cin, sh.H, sh.W);
            var x = Uniform(rng, n * inSize, -2f, 2f);
            var bits = new ulong[n * words];
            BitPack.PackActivations(n, sh.Cin, sh.H, sh.W, new View(x, 0, inSize), null, 0, new BitView(bits, 0, words));
            var residual = Uniform(rng, n * outSize, -3f, 3f);
            var y1 = new float[n * outSize];
            var y2 = new float[n * outSize];
            saved.Forward<Relu>(n, new BitView(bits, 0, words), new View(y1, 0, outSize), new View(residual, 0, outSize));
            loaded.Forward<Relu>(n, new BitView(bits, 0, words), new View(y2, 0, outSize), new View(residual, 0, outSize));
            Assert.Equal(y1, y2);
            Assert.Contains(y1, v => v > 0);
        }
    }

    [Theory]
    [InlineData(64, 64, 3)]
    [InlineData(128, 32, 3)]
    [InlineData(256, 16, 1)]
    public void BinaryWeightBytesAre32xSmallerThanFp32(int cin, int cout, int k)
    {
        var s = new Conv2dShape(cin, 7, 7, cout, k, k, 1, 1, k / 2, k / 2, 1, 1, 1);
        var layer = Layer(new Random(cin + cout), s, batchNorm: true);
        string path = Path.Combine(_dir, "size.safetensors");
        PackedCheckpoint.Save(path, layer.ToTensors("c").ToList(), new Dictionary<string, string> { ["c.conv"] = layer.ShapeMetadata });
        var bitsEntry = Safetensors.ReadHeader(path).Tensors.Single(t => t.Name == "c.weight_bits");
        long fp32 = 4L * s.WeightSize;
        Assert.Equal(fp32, 32 * (bitsEntry.End - bitsEntry.Begin));
        Assert.Equal(fp32, 32 * layer.WeightBytes);
    }

    [Fact]
    public void TruncatedFileAndWrongDtypeAreReported()
    {
        var s = new Conv2dShape(64, 5, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var layer = Layer(new Random(9), s, batchNorm: false);
        string path = Path.Combine(_dir, "cut.safetensors");
        PackedCheckpoint.Save(path, layer.ToTensors("c").ToList(), new Dictionary<string, string> { ["c.conv"] = layer.ShapeMetadata });
        var (tensors, _) = PackedCheckpoint.Load(path);
        Assert.Throws<InvalidDataException>(() => tensors["c.scale"].AsU64());
        Assert.Throws<InvalidDataException>(() => tensors["c.weight_bits"].AsF32());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);
        var e = Assert.Throws<InvalidDataException>(() => PackedCheckpoint.Load(path));
        Assert.Contains("c.shift", e.Message);
    }

    [Fact]
    public void MissingTensorOrShapeIsReported()
    {
        var s = new Conv2dShape(64, 5, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var layer = Layer(new Random(7), s, batchNorm: false);
        string path = Path.Combine(_dir, "partial.safetensors");
        PackedCheckpoint.Save(path, layer.ToTensors("c").Where(t => !t.Name.EndsWith(".shift", StringComparison.Ordinal)).ToList(),
            new Dictionary<string, string> { ["c.conv"] = layer.ShapeMetadata });
        var (tensors, metadata) = PackedCheckpoint.Load(path);
        var e = Assert.Throws<InvalidDataException>(() => PackedBinaryConv.FromTensors(tensors, metadata, "c"));
        Assert.Contains("c.shift", e.Message);
        e = Assert.Throws<InvalidDataException>(() => PackedBinaryConv.FromTensors(tensors, new Dictionary<string, string>(), "c"));
        Assert.Contains("c.conv", e.Message);
    }
}
