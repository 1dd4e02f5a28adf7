// Generated binary models (tests/Authoring.Models.Tests/Models/BinaryModels.cs) against torch mirrors of the reference
// code's definitions, through ModelParityTests.Check (eval logits at batch 3 and 1, two training steps: loss, hits,
// every gradient, running statistics). The straight-through estimators are written as the papers' PyTorch code does,
// with the detach trick (BinaryParityTests checks the kernels one by one against the same definitions):
//   Sign (STE, clip c):   (sign(u) - clamp(u, -c, c)).detach() + clamp(u, -c, c)                 (Larq's ste_sign)
//   ApproxSign:           ReActNet's BinaryActivation (piecewise quadratic), detach trick
//   RSign:                the sign of x + b, b a leaf (ReActNet's LearnableBias)
//   RPReLU:               LearnableBias, nn.PReLU(C), LearnableBias
//   weights, Clip:        (alpha sign(w)).detach() - clamp(w).detach() + clamp(w)   (ReActNet's HardBinaryConv)
//            ScaledClip:  alpha.detach() * ste_sign(w)                               (Larq's magnitude_aware_sign)
//            Full:        alpha * ste_sign(w), alpha = mean |w| per output channel   (XNOR-Net, through alpha)
// sign(0) = +1 on both sides (torch.sign would give 0). The torch side runs in float64 (see ModelParityTests).
// Tolerance: ModelParityTests' 1e-4 of each tensor's scale. A sign that flips between our float32 and the float64
// reference would be an O(1) difference; the inputs of each Sign here are O(1) values computed by a few float32
// roundings (~1e-7), so a flip needs one within ~1e-7 of 0 or of the clip, not the case for these seeds (a failure
// naming a single element would show it).
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

public class BinaryModelParityTests
{
    static TorchTensor SignPm(TorchTensor u) => torch.where(u.lt(0), torch.full_like(u, -1), torch.ones_like(u));

    static TorchTensor Ste(TorchTensor u, double clip = 1)
    {
        var c = u.clamp(-clip, clip);
        return (SignPm(u) - c).detach() + c;
    }

    /// <summary>ReActNet's BinaryActivation (training branch), with sign(0) = +1.</summary>
    static TorchTensor ApproxSign(TorchTensor x)
    {
        var m1 = x.lt(-1).to(x.dtype);
        var m2 = x.lt(0).to(x.dtype);
        var m3 = x.lt(1).to(x.dtype);
        var out1 = -1 * m1 + (x * x + 2 * x) * (1 - m1);
        var out2 = out1 * m2 + (-x * x + 2 * x) * (1 - m2);
        var out3 = out2 * m3 + 1 * (1 - m3);
        return SignPm(x).detach() - out3.detach() + out3;
    }

    /// <summary>The binarised weights of layer <paramref name="name"/> as the definition <paramref name="mode"/> says.</summary>
    static TorchTensor Wb(TorchModel m, string name, BinaryWeightGradient mode, bool scaled)
    {
        var w = m[name + ".weight"];
        long[] dims = Enumerable.Range(1, (int)w.dim() - 1).Select(i => (long)i).ToArray();
        var alpha = scaled ? w.abs().mean(dims, keepdim: true) : torch.ones_like(w.abs().mean(dims, keepdim: true));
        switch (mode)
        {
            case BinaryWeightGradient.Clip:
                {
                    var clipped = torch.clamp(w, -1, 1);
                    return (alpha.detach() * SignPm(w)).detach() - clipped.detach() + clipped;
                }
            case BinaryWeightGradient.ScaledClip: return alpha.detach() * Ste(w);
            default: return alpha * Ste(w);
        }
    }

    static TorchTensor Rsign(TorchModel m, string name, TorchTensor x) => ApproxSign(AddChannel(x, m[name + ".bias"]));

    static TorchTensor RPRelu(TorchModel m, string name, TorchTensor x) =>
        AddChannel(F.prelu(AddChannel(x, m[name + ".move1.bias"]), m[name + ".prelu.weight"]), m[name + ".move2.bias"]);

    /// <summary>Shifts that start at 0 get values, so that their gradients and their effect on the signs are tested.</summary>
    static void Shifts(ParameterStore store)
    {
        var rng = new Random(5);
        for (int i = 0; i < store.Infos.Count; i++)
        {
            string name = store.Infos[i].Name;
            if (!name.StartsWith("rsign.", StringComparison.Ordinal) && !name.Contains(".move", StringComparison.Ordinal)) continue;
            var v = store.Value(i);
            for (int j = 0; j < v.Length; j++) v[j] = (float)(rng.NextDouble() - 0.5) * 0.6f;
        }
    }

    [Fact]
    public void BiRealBlockRSignApproxSignRPReluStridedXnorFull() => ModelParityTests.Check(new BiRealBlock { DropoutSeed = 1 }, (m, x) =>
    {
        var h = m.BatchNorm("bn0", m.Conv("stem", x, padding: 1));
        var b = TorchOracle.Conv2d(Rsign(m, "rsign", h), Wb(m, "bconv", BinaryWeightGradient.Clip, true), null, 1, 1, 1, 1);
        var y = RPRelu(m, "act", Add(m.BatchNorm("bn1", b), h));
        var d = TorchOracle.Conv2d(Ste(y), Wb(m, "down", BinaryWeightGradient.Full, true), m["down.bias"], 2, 0, 1, 1);
        return m.Linear("fc", TorchModel.GlobalAvgPool(d));
    }, adjust: Shifts);

    [Fact]
    public void BinaryMlpScaledClipShortcutUnscaledBiasWideClip() => ModelParityTests.Check(new BinaryMlp { DropoutSeed = 1 }, (m, x) =>
    {
        var h = m.Linear("fc1", x);
        var z = Add(m.BatchNorm("bn", TorchOracle.Linear(Ste(h), Wb(m, "b1", BinaryWeightGradient.ScaledClip, true), null)), h);
        var y = TorchOracle.Linear(Ste(z, 1.5), Wb(m, "b2", BinaryWeightGradient.Clip, false), m["b2.bias"]);
        return m.Linear("fc2", Relu(y));
    });
}
