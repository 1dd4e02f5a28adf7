// The trained BiRealNet in its packed deploy form, assembled from the Runtime's kernels: each binary conv's latent
// weights packed to 1 bit per weight (PackedBinaryConv, XNOR-popcount with the scale, BatchNorm and the Bi-Real
// shortcut in its epilogue), its RSign as the packing threshold (bit = x < -b), and the real first and last layers
// (stem conv with its BatchNorm folded, the linear head) and RPReLUs in fp32. The generator's deploy pass does not
// emit this yet: this class is the sample's own wiring of the same steps, layer by layer as BiRealNet.Forward.
// Its deploy checkpoint (Save / Load) holds the binary weights as bits (U64, PackedBinaryConv.ToTensors) and the rest
// as F32, so the file is about as small as the model in memory.
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Cpu;

namespace BinaryFashion;

public sealed class PackedBiRealNet
{
    const int C = 64;
    static readonly Conv2dShape StemShape = new(1, 28, 28, C, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    static readonly Pool2dShape Pool28 = new(C, 28, 28, 2, 2, 2, 2, 0, 0);
    static readonly Pool2dShape Pool14 = new(C, 14, 14, 2, 2, 2, 2, 0, 0);

    readonly float[] _stemW, _stemScale, _stemShift, _headW, _headB;
    readonly (PackedBinaryConv Conv, float[] Threshold, float[] RPRelu, int Size)[] _blocks;
    float[] _x = [], _a = [], _b = [], _z = [];
    ulong[] _bits = [];

    PackedBiRealNet(float[] stemW, float[] stemScale, float[] stemShift, float[] headW, float[] headB,
        (PackedBinaryConv, float[], float[], int)[] blocks)
    {
        (_stemW, _stemScale, _stemShift, _headW, _headB, _blocks) = (stemW, stemScale, stemShift, headW, headB, blocks);
    }

    /// <summary>Writes the deploy checkpoint: binary weights as U64 bits, everything else F32.</summary>
    public void Save(string path)
    {
        var tensors = new List<RawTensor>
        {
            RawTensor.F32("stem.weight", [C, 1, 3, 3], _stemW),
            RawTensor.F32("stem.scale", [C], _stemScale),
            RawTensor.F32("stem.shift", [C], _stemShift),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "PackedBiRealNet" };
        for (int i = 0; i < _blocks.Length; i++)
        {
            var (conv, threshold, rprelu, _) = _blocks[i];
            tensors.AddRange(conv.ToTensors($"block{i}"));
            metadata[$"block{i}.conv"] = conv.ShapeMetadata;
            tensors.Add(RawTensor.F32($"block{i}.threshold", [C], threshold));
            tensors.Add(RawTensor.F32($"block{i}.rprelu", [3, C], rprelu));
        }
        tensors.Add(RawTensor.F32("head.weight", [10, C * 49], _headW));
        tensors.Add(RawTensor.F32("head.bias", [10], _headB));
        PackedCheckpoint.Save(path, tensors, metadata);
    }

    /// <summary>Reads a checkpoint <see cref="Save"/> wrote.</summary>
    public static PackedBiRealNet Load(string path)
    {
        var (t, metadata) = PackedCheckpoint.Load(path);
        float[] F(string name) => t.TryGetValue(name, out var r) ? r.AsF32() : throw new InvalidDataException($"{path}: no tensor '{name}'.");
        var blocks = new (PackedBinaryConv, float[], float[], int)[3];
        for (int i = 0; i < 3; i++)
        {
            var conv = PackedBinaryConv.FromTensors(t, metadata, $"block{i}");
            blocks[i] = (conv, F($"block{i}.threshold"), F($"block{i}.rprelu"), conv.Shape.H);
        }
        return new PackedBiRealNet(F("stem.weight"), F("stem.scale"), F("stem.shift"), F("head.weight"), F("head.bias"), blocks);
    }

    public PackedBiRealNet(ParameterStore p)
    {
        float[] V(string name) => p.Value(name).ToArray();
        const float eps = 1e-5f;
        _stemW = V("stem.weight");
        (_stemScale, _stemShift) = (new float[C], new float[C]);
        var (g, be, m, v) = (V("stemBn.weight"), V("stemBn.bias"), V("stemBn.running_mean"), V("stemBn.running_var"));
        for (int c = 0; c < C; c++)
        {
            _stemScale[c] = g[c] / MathF.Sqrt(v[c] + eps);
            _stemShift[c] = be[c] - m[c] * _stemScale[c];
        }
        _blocks = new (PackedBinaryConv, float[], float[], int)[3];
        for (int i = 0; i < 3; i++)
        {
            int size = i == 0 ? 14 : 7;
            var s = new Conv2dShape(C, size, size, C, 3, 3, 1, 1, 1, 1, 1, 1, 1);
            string bn = $"b{i + 1}", act = $"a{i + 1}";
            var conv = PackedBinaryConv.FromLatent(s, V($"c{i + 1}.weight"), true, default,
                V(bn + ".weight"), V(bn + ".bias"), V(bn + ".running_mean"), V(bn + ".running_var"), eps);
            var threshold = V($"s{i + 1}.bias").Select(b => -b).ToArray();
            var rprelu = V(act + ".move1.bias").Concat(V(act + ".prelu.weight")).Concat(V(act + ".move2.bias")).ToArray();
            _blocks[i] = (conv, threshold, rprelu, size);
        }
        _headW = V("head.weight");
        _headB = V("head.bias");
    }

    /// <summary>Bytes of what inference reads: packed binary weights with their epilogues, the real layers in fp32.</summary>
    public long Bytes => 4L * (_stemW.Length + 2 * C + _headW.Length + _headB.Length)
        + _blocks.Sum(b => b.Conv.Bytes + 4L * (b.Threshold.Length + b.RPRelu.Length));

    /// <summary>Bytes of the binary convs' packed weights alone.</summary>
    public long BinaryWeightBytes => _blocks.Sum(b => b.Conv.Weights.LongLength * sizeof(ulong));

    public void Infer(ReadOnlySpan<float> input, int n, Span<float> logits)
    {
        int big = C * 28 * 28, mid = C * 14 * 14, words = BitPack.ActivationWords(C, 14, 14);
        if (_x.Length < n * 784)
        {
            _x = new float[n * 784];
            _a = new float[n * big];
            _b = new float[n * mid];
            _z = new float[n * mid];
            _bits = new ulong[n * words];
        }
        input[..(n * 784)].CopyTo(_x);
        Conv2dKernel.Forward<Identity>(StemShape, n, new View(_x, 0, 784), _stemW, 0, _stemScale, 0, _stemShift, 0, new View(_a, 0, big));
        PoolKernel.MaxForward(Pool28, n, new View(_a, 0, big), new View(_b, 0, mid));
        var h = _b;
        var t = _z;
        for (int i = 0; i < _blocks.Length; i++)
        {
            var (conv, threshold, rprelu, size) = _blocks[i];
            if (i == 1)
            {
                PoolKernel.MaxForward(Pool14, n, new View(h, 0, mid), new View(t, 0, C * 49));
                (h, t) = (t, h);
            }
            int hw = size * size, per = C * hw, w = BitPack.ActivationWords(C, size, size);
            BitPack.PackActivations(n, C, size, size, new View(h, 0, per), threshold, 0, new BitView(_bits, 0, w));
            conv.Forward<Identity>(n, new BitView(_bits, 0, w), new View(t, 0, per), new View(h, 0, per));
            BinaryActivationKernel.RPReluForward(n, C, hw, new View(t, 0, per), rprelu, 0, C, 2 * C, new View(h, 0, per));
        }
        var y = new float[n * 10];
        LinearKernel.Forward<Identity>(n, C * 49, 10, new View(h, 0, C * 49), _headW, 0, null, 0, _headB, 0, new View(y, 0, 10));
        y.CopyTo(logits);
    }
}
