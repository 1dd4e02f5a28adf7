// The deploy pass for binary layers: each BinaryConv2d / BinaryLinear of the evaluation graph becomes a packed
// XNOR-popcount node (Ops/PackedBinary.cs) whose 1-bit weights live in the deploy model's BitStore:
//   Sign / RSign            -> BinaryPack (bit = x < threshold, RSign's threshold -b), unless the value is written as
//                              bits by the binary layer before it (below); a sign also read as floats stays as well;
//   binary layer [+ BN] [+ residual Add] [+ activation]
//                           -> one PackedBinaryConv2d / PackedBinaryLinear: XNOR-Net's scale, the bias and the BatchNorm
//                              folded into the epilogue's scale/shift (ToDeploy runs Runtime BinaryDeployFold), the
//                              Bi-Real shortcut added in the same epilogue, then the activation its op says it can run
//                              there (OpDef.PackedEpilogue: RPReLU with its per-channel vectors, functor activations);
//   ... feeding the next binary layers' sign
//                           -> the same node writing that sign's bits (threshold "{layer}.out_threshold"): when nothing
//                              else reads the value, as its only output (no float tensor between the two layers);
//                              otherwise (a Bi-Real / ReActNet block: the next shortcut reads the floats) next to the
//                              floats, the bits being a PackedSignBits node: no BinaryPack pass over the tensor.
// A binary layer the kernels cannot run packed (leading time axes) stays the float binarised layer; MDL0024 says so.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

/// <summary>A binary layer packed for deployment: its training-graph nodes and the deploy tensors they fill.</summary>
internal sealed record PackedLayer(Node Host, Node? Bn, Node? OutSign, string Layer);

/// <summary>RSign's bias turned into the packing threshold "{Sign.Layer}.threshold" (or a packed layer's out_threshold).</summary>
internal sealed record PackThreshold(Node Sign, string Name);

internal sealed partial class Deploy
{
    /// <summary>One binary layer's chain in the training graph: host, optional BatchNorm and residual Add; Root is the
    /// last of them (the value the packed node computes); OutSign the sign it writes as bits, if any.</summary>
    sealed class BinaryChain
    {
        public BinaryChain(Node host, Node sign)
        {
            Host = host;
            Sign = sign;
            Root = host;
        }

        public Node Host { get; }
        public Node Sign { get; }
        public Node? Bn { get; set; }
        public Node? Add { get; set; }
        public int Residual { get; set; } = -1;
        /// <summary>The activation run in the epilogue (after the shortcut) and how.</summary>
        public Node? Act { get; set; }
        public PackedEpilogueAct? ActForm { get; set; }
        /// <summary>The value is read as floats too: the epilogue writes floats and OutSign's bits.</summary>
        public bool Dual { get; set; }
        public Node Root { get; set; }
        public Node? OutSign { get; set; }
    }

    static bool IsBinaryHost(Node n) => n.Op is OpKind.BinaryConv2d or OpKind.BinaryLinear;

    /// <summary>Why the deploy pass leaves binary layer <paramref name="host"/> in its float binarised form, or null when it
    /// packs it. Shared with the analyzer that reports it (MDL0024), so the two never disagree.</summary>
    public static string? WhyNotPacked(Node host, Node sign) =>
        sign.Leading != 1
            ? $"its input {OpRules.Format(sign.Shape.ToArray())} has leading axes, and the packed kernels take one (C, H, W) or (F) value per sample"
            : null;

    /// <summary>The chains of every packable binary layer, keyed by their root node.</summary>
    Dictionary<int, BinaryChain> BinaryChains()
    {
        var chains = new Dictionary<int, BinaryChain>();
        foreach (var n in _m.Nodes)
        {
            if (!IsBinaryHost(n)) continue;
            var sign = _m.Nodes[n.Inputs[0]];
            if (!SignOp.IsSign(sign)) continue; // AUT0016 stops such a model before it gets here
            if (WhyNotPacked(n, sign) is not null) continue; // stays float binarised; MDL0024 reports it
            var c = new BinaryChain(n, sign);
            if (Absorbable(n.Id) && _m.Nodes[_consumers[n.Id][0]] is { Op: OpKind.BatchNorm } bn)
            {
                c.Bn = bn;
                c.Root = bn;
            }
            if (Absorbable(c.Root.Id) && _m.Nodes[_consumers[c.Root.Id][0]] is { Op: OpKind.Add } add && add.Inputs[0] != add.Inputs[1])
            {
                int other = add.Inputs[0] == c.Root.Id ? add.Inputs[1] : add.Inputs[0];
                if (OpRules.Same(_m.Nodes[other].Shape, c.Root.Shape) && OpRules.Same(add.Shape, c.Root.Shape))
                {
                    c.Add = add;
                    c.Residual = other;
                    c.Root = add;
                }
            }
            int cout = n.Op == OpKind.BinaryConv2d ? new ConvAttrs(n).Cout : n.Ints[1];
            if (Absorbable(c.Root.Id) && _m.Nodes[_consumers[c.Root.Id][0]] is var act && act.Inputs.Count == 1 && OpRules.Same(act.Shape, c.Root.Shape)
                && act.Def.PackedEpilogue(act) is { } form && (form.Channels == 0 || form.Channels == cout))
            {
                c.Act = act;
                c.ActForm = form;
                c.Root = act;
            }
            chains[c.Root.Id] = c;
        }
        var hosts = new HashSet<int>(chains.Values.Select(c => c.Host.Id));
        // Bits straight out of the epilogue: the chain's value feeds a sign that feeds only packed layers; the floats are
        // written as well when anything else reads the value.
        foreach (var c in chains.Values)
        {
            if (c.Root.Id == _m.Output) continue;
            var next = _consumers[c.Root.Id].Select(i => _m.Nodes[i]).FirstOrDefault(s =>
                SignOp.IsSign(s) && s.Id != _m.Output && _consumers[s.Id].Count > 0 && _consumers[s.Id].All(hosts.Contains));
            if (next is null) continue;
            c.OutSign = next;
            c.Dual = _consumers[c.Root.Id].Count > 1;
        }
        return chains;
    }

    /// <summary>Nodes a chain replaces (host, BatchNorm, Add) and signs written as bits by a chain.</summary>
    static HashSet<int> BinaryCovered(Dictionary<int, BinaryChain> chains)
    {
        var covered = new HashSet<int>();
        foreach (var c in chains.Values)
        {
            covered.Add(c.Host.Id);
            if (c.Bn is not null) covered.Add(c.Bn.Id);
            if (c.Add is not null) covered.Add(c.Add.Id);
            if (c.Act is not null) covered.Add(c.Act.Id);
            if (c.OutSign is not null) covered.Add(c.OutSign.Id);
        }
        return covered;
    }

    /// <summary>Adds the packed node of <paramref name="c"/> (reading <paramref name="bits"/> and the mapped residual) and
    /// its tensors, and with a dual output the PackedSignBits node after it; returns the packed node's id and the id of
    /// the node whose value is OutSign's bits (-1 without).</summary>
    (int Id, int Bits) AddPacked(BinaryChain c, int bits, int[] map, List<Node> nodes, List<DeployParam> dparams, List<BitParamSpec> bitParams,
        List<PackedLayer> packed, List<PackThreshold> thresholds)
    {
        var h = c.Host;
        bool conv = h.Op == OpKind.BinaryConv2d;
        int cout = conv ? new ConvAttrs(h).Cout : h.Ints[1];
        bool packedOut = c.OutSign is not null;
        bool outThreshold = packedOut && c.OutSign!.Op == OpKind.RSign;
        int output = !packedOut ? 0 : c.Dual ? 2 : 1;
        var inputs = c.Residual >= 0 ? new[] { bits, map[c.Residual] } : new[] { bits };
        var epilogue = PackedLayerOpBase.EpilogueInts(output, c.Residual >= 0, outThreshold, c.ActForm?.Functor ?? ActKind.Identity,
            c.ActForm?.ChannelParams is not null, output == 2 ? nodes.Count + 1 : -1);
        var ints = (conv ? h.Ints.Take(12) : new[] { h.Ints[0], h.Ints[1] }).Concat(epilogue).ToArray();
        var node = new Node(nodes.Count, conv ? OpKind.PackedBinaryConv2d : OpKind.PackedBinaryLinear, inputs.ToEquatableArray(),
            c.Root.Shape, ints.ToEquatableArray(), 0, 0, h.Layer, null);
        nodes.Add(node);
        int bitsNode = output == 1 ? node.Id : -1;
        if (output == 2)
        {
            var sh = c.OutSign!.Shape;
            var dims = sh.Count == 3 ? new[] { sh[0], sh[1], sh[2] } : new[] { c.OutSign.Size, 1, 1 };
            bitsNode = nodes.Count;
            nodes.Add(new Node(nodes.Count, OpKind.PackedSignBits, new[] { node.Id }.ToEquatableArray(), sh,
                new[] { dims[0], dims[1], dims[2], outThreshold ? 1 : 0 }.ToEquatableArray(), 0, 0, h.Layer, null));
        }
        var a = conv ? new ConvAttrs(h) : default;
        // BitPack's layout: [Cout / 16 rounded up, taps, words of Cin, 16] (a linear layer has one tap).
        var shape = conv
            ? new[] { (cout + 15) / 16, a.Kh * a.Kw, (a.Cin + 63) / 64, 16 }
            : new[] { (cout + 15) / 16, (h.Ints[0] + 63) / 64, 16 };
        bitParams.Add(new BitParamSpec(PackedNames.Bits(node), shape.ToEquatableArray()));
        var vector = new[] { cout }.ToEquatableArray();
        dparams.Add(new DeployParam(new ParamSpec(PackedNames.Scale(node), vector, "NormWeight", "Ones", 0, 0), null));
        dparams.Add(new DeployParam(new ParamSpec(PackedNames.Shift(node), vector, "NormBias", "Zeros", 0, 0), null));
        if (outThreshold)
        {
            dparams.Add(new DeployParam(new ParamSpec(PackedNames.OutThreshold(node), new[] { c.OutSign!.Ints[1] }.ToEquatableArray(), "Bias", "Zeros", 0, 0), null));
            thresholds.Add(new PackThreshold(c.OutSign, PackedNames.OutThreshold(node)));
        }
        if (c.ActForm?.ChannelParams is { } actParams)
        {
            // The activation's per-channel vectors, copied under the packed layer's name.
            var byName = _m.Params.ToDictionary(p => p.Name, System.StringComparer.Ordinal);
            for (int i = 0; i < actParams.Length; i++)
                dparams.Add(new DeployParam(byName[actParams[i]] with { Name = PackedNames.Act(h.Layer, i) }, actParams[i]));
        }
        packed.Add(new PackedLayer(h, c.Bn, c.OutSign, h.Layer));
        return (node.Id, bitsNode);
    }

    /// <summary>Adds the BinaryPack node of a sign (reading its mapped input) and its threshold tensor.</summary>
    int AddPack(Node sign, int[] map, List<Node> nodes, List<DeployParam> dparams, List<PackThreshold> thresholds)
    {
        var x = _m.Nodes[sign.Inputs[0]];
        bool rsign = sign.Op == OpKind.RSign;
        var dims = x.Shape.Count == 3 ? new[] { x.Shape[0], x.Shape[1], x.Shape[2] } : new[] { x.Size, 1, 1 };
        var node = new Node(nodes.Count, OpKind.BinaryPack, new[] { map[x.Id] }.ToEquatableArray(), sign.Shape,
            new[] { dims[0], dims[1], dims[2], rsign ? 1 : 0 }.ToEquatableArray(), 0, 0, rsign ? sign.Layer : "", null);
        nodes.Add(node);
        if (rsign)
        {
            string name = sign.Layer + ".threshold";
            dparams.Add(new DeployParam(new ParamSpec(name, new[] { sign.Ints[1] }.ToEquatableArray(), "Bias", "Zeros", 0, 0), null));
            thresholds.Add(new PackThreshold(sign, name));
        }
        return node.Id;
    }
}
