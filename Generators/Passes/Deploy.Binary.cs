// The deploy pass for binary layers: each BinaryConv2d / BinaryLinear of the evaluation graph becomes a packed
// XNOR-popcount node (Ops/PackedBinary.cs) whose 1-bit weights live in the deploy model's BitStore:
//   Sign / RSign            -> BinaryPack (bit = x < threshold, RSign's threshold -b), unless the value is written as
//                              bits by the binary layer before it (below); a sign also read as floats stays as well;
//   binary layer [+ BN] [+ residual Add]
//                           -> one PackedBinaryConv2d / PackedBinaryLinear: XNOR-Net's scale, the bias and the BatchNorm
//                              folded into the epilogue's scale/shift (ToDeploy runs Runtime BinaryDeployFold), the
//                              Bi-Real shortcut added in the same epilogue;
//   ... feeding only the next binary layers' sign
//                           -> the same node writing that sign's bits (threshold "{layer}.out_threshold"): no float
//                              tensor between the two binary layers.
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
            chains[c.Root.Id] = c;
        }
        var hosts = new HashSet<int>(chains.Values.Select(c => c.Host.Id));
        // Bits straight out of the epilogue: the chain's value feeds only a sign that feeds only packed layers. (The packed-
        // output kernels add no shortcut, so a chain with one writes floats.)
        foreach (var c in chains.Values)
        {
            if (!Absorbable(c.Root.Id) || c.Residual >= 0) continue;
            var next = _m.Nodes[_consumers[c.Root.Id][0]];
            if (SignOp.IsSign(next) && next.Id != _m.Output && _consumers[next.Id].Count > 0 && _consumers[next.Id].All(hosts.Contains))
                c.OutSign = next;
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
            if (c.OutSign is not null) covered.Add(c.OutSign.Id);
        }
        return covered;
    }

    /// <summary>Adds the packed node of <paramref name="c"/> (reading <paramref name="bits"/> and the mapped residual) and
    /// its tensors; returns its id in the deploy graph.</summary>
    int AddPacked(BinaryChain c, int bits, int[] map, List<Node> nodes, List<DeployParam> dparams, List<BitParamSpec> bitParams,
        List<PackedLayer> packed, List<PackThreshold> thresholds)
    {
        var h = c.Host;
        bool conv = h.Op == OpKind.BinaryConv2d;
        int cout = conv ? new ConvAttrs(h).Cout : h.Ints[1];
        bool packedOut = c.OutSign is not null;
        bool outThreshold = packedOut && c.OutSign!.Op == OpKind.RSign;
        var inputs = c.Residual >= 0 ? new[] { bits, map[c.Residual] } : new[] { bits };
        var ints = conv
            ? h.Ints.Take(12).Concat(new[] { packedOut ? 1 : 0, c.Residual >= 0 ? 1 : 0, outThreshold ? 1 : 0 }).ToArray()
            : new[] { h.Ints[0], h.Ints[1], packedOut ? 1 : 0, c.Residual >= 0 ? 1 : 0, outThreshold ? 1 : 0 };
        var node = new Node(nodes.Count, conv ? OpKind.PackedBinaryConv2d : OpKind.PackedBinaryLinear, inputs.ToEquatableArray(),
            c.Root.Shape, ints.ToEquatableArray(), 0, 0, h.Layer, null);
        nodes.Add(node);
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
        packed.Add(new PackedLayer(h, c.Bn, c.OutSign, h.Layer));
        return node.Id;
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
