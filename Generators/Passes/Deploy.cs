// Structural re-parameterization: the evaluation-mode graph rewritten for deployment. Every maximal
// sub-graph that is an affine map of one source tensor and can be written as a single convolution
// (or linear layer) collapses into one: a conv or linear followed by BatchNorm (BN folding), and sums
// of parallel conv+BN, BN-only and identity branches over the same input (RepVGG, MobileOne, RepGhost).
// The rewrite runs on the IR, so a block written by hand in the DSL folds exactly like a library block.
// The weights are folded at run time by the generated ToDeploy method, which replays each FoldExpr.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal enum FoldKind
{
    /// <summary>A conv or linear node's weight (and bias, if it has one) placed at (Dy, Dx) in the merged kernel.</summary>
    Term,
    /// <summary>The source itself, as a kernel with a single 1 per channel at (Dy, Dx).</summary>
    Identity,
    /// <summary>Evaluation-mode BatchNorm applied to <see cref="FoldExpr.Kids"/>[0].</summary>
    Bn,
    /// <summary>Sum of the kids.</summary>
    Sum,
    /// <summary>Evaluation-mode PRepBN (RepBN: BN(x) + alpha x, a per-channel affine) applied to the input of the
    /// linear <see cref="FoldExpr.Kids"/>[0]; <see cref="FoldExpr.Node"/> is the PRepBNMix node.</summary>
    PreRepBn,
}

/// <summary>One node of a fold: how to compute a merged kernel from the training model's tensors.</summary>
internal sealed class FoldExpr
{
    public FoldExpr(FoldKind kind, Node? node, params FoldExpr[] kids)
    {
        Kind = kind;
        Node = node;
        Kids = kids;
    }

    public FoldKind Kind { get; }
    /// <summary>The conv/linear node of a Term, the BatchNorm node of a Bn, the PRepBNMix node of a PreRepBn.</summary>
    public Node? Node { get; }
    public FoldExpr[] Kids { get; }
    /// <summary>The BatchNorm node of a PreRepBn.</summary>
    public Node? Aux { get; set; }
    public int Dy { get; set; }
    public int Dx { get; set; }

    public IEnumerable<FoldExpr> Walk()
    {
        yield return this;
        foreach (var k in Kids)
            foreach (var e in k.Walk()) yield return e;
    }
}

/// <summary>A deployment tensor and where its values come from: a copy of a training tensor, or a fold.</summary>
internal sealed record DeployParam(ParamSpec Spec, string? CopyFrom);

/// <summary>A merged conv/linear of the deploy graph and the expression that computes its weight and bias.</summary>
internal sealed record DeployFold(string WeightName, string BiasName, int Cout, int CinPerGroup, int Kh, int Kw, FoldExpr Expr);

/// <summary>The deploy graph, its tensors and the folds that fill the merged ones; the binary layers it packs and the
/// thresholds their signs become.</summary>
internal sealed record DeployModel(ModelIr Ir, IReadOnlyList<DeployParam> Params, IReadOnlyList<DeployFold> Folds)
{
    public IReadOnlyList<PackedLayer> Packed { get; init; } = System.Array.Empty<PackedLayer>();
    public IReadOnlyList<PackThreshold> Thresholds { get; init; } = System.Array.Empty<PackThreshold>();
}

internal sealed partial class Deploy
{
    /// <summary>An affine map of <see cref="Source"/> the size of one convolution: its expression and geometry.</summary>
    sealed class Affine
    {
        public Affine(int source, FoldExpr expr)
        {
            Source = source;
            Expr = expr;
        }

        public int Source { get; }
        public FoldExpr Expr { get; }
        /// <summary>Nodes the merged kernel replaces (every node of the expression except the source).</summary>
        public List<int> Covered { get; } = new();
    }

    /// <summary>Geometry of the single conv a set of terms merges into.</summary>
    sealed record Geometry(bool Linear, int Cin, int Cout, int Kh, int Kw, int Sh, int Sw, int Ph, int Pw, int Dh, int Dw, int Groups);

    readonly ModelIr _m;
    readonly List<int>[] _consumers;
    readonly Affine?[] _affine;

    Deploy(ModelIr m)
    {
        _m = m;
        _consumers = new List<int>[m.Nodes.Count];
        for (int i = 0; i < _consumers.Length; i++) _consumers[i] = new List<int>();
        foreach (var n in m.Nodes)
            foreach (int i in n.Inputs)
                if (!_consumers[i].Contains(n.Id)) _consumers[i].Add(n.Id);
        _affine = new Affine?[m.Nodes.Count];
    }

    /// <summary>The deploy model, or null when no tensor folds (the deploy graph would equal the training one).</summary>
    public static DeployModel? Rewrite(ModelIr m) => m.IsValid ? new Deploy(m).Run() : null;

    // A value another node also reads must stay materialized, so only single-consumer values are absorbed.
    bool Absorbable(int v) => v != _m.Output && _consumers[v].Count == 1;

    DeployModel? Run()
    {
        foreach (var n in _m.Nodes) _affine[n.Id] = Analyse(n);
        var chains = BinaryChains();
        var binary = BinaryCovered(chains);

        // Roots: affine values worth folding that no consumer absorbed (and that no packed binary layer absorbed).
        var roots = new Dictionary<int, Affine>();
        var covered = new HashSet<int>();
        for (int i = _m.Nodes.Count - 1; i >= 0; i--)
        {
            var a = _affine[i];
            if (a is null || covered.Contains(i) || !WorthFolding(a) || a.Covered.Any(binary.Contains)) continue;
            roots[i] = a;
            foreach (int c in a.Covered) covered.Add(c);
        }
        if (roots.Count == 0 && chains.Count == 0) return null;
        return Build(roots, covered, chains, binary);
    }

    static bool WorthFolding(Affine a)
    {
        var nodes = a.Expr.Walk().ToList();
        int terms = nodes.Count(e => e.Kind == FoldKind.Term);
        return terms >= 1 && (nodes.Any(e => e.Kind is FoldKind.Bn or FoldKind.PreRepBn) || nodes.Count(e => e.Kind is FoldKind.Term or FoldKind.Identity) >= 2);
    }

    Affine? Analyse(Node n)
    {
        switch (n.Op)
        {
            case OpKind.Linear when PreRepBn(n) is { } pre:
                return pre;
            case OpKind.Conv2d:
            case OpKind.Linear:
                {
                    var a = new Affine(n.Inputs[0], new FoldExpr(FoldKind.Term, n));
                    a.Covered.Add(n.Id);
                    return GeometryOf(a) is null ? null : a;
                }
            case OpKind.BatchNorm:
                {
                    int u = n.Inputs[0];
                    var inner = _affine[u] is { } ua && Absorbable(u) ? ua : null;
                    var a = inner is null
                        ? new Affine(u, new FoldExpr(FoldKind.Bn, n, new FoldExpr(FoldKind.Identity, null)))
                        : new Affine(inner.Source, new FoldExpr(FoldKind.Bn, n, inner.Expr));
                    if (inner is not null) a.Covered.AddRange(inner.Covered);
                    a.Covered.Add(n.Id);
                    return a;
                }
            case OpKind.Add when OpRules.Same(_m.Nodes[n.Inputs[0]].Shape, _m.Nodes[n.Inputs[1]].Shape) && n.Inputs[0] != n.Inputs[1]:
                return Sum(n);
            default:
                return null;
        }
    }

    /// <summary>A linear layer reading only an evaluation-mode PRepBN: RepBN(x) = BN(x) + alpha x is
    /// diag(s + alpha) x + t per channel, so the linear of x is W diag(s + alpha) x + (b + W t). The fold covers the
    /// mix, its BatchNorm and its LayerNorm (unused in evaluation) when the linear is their only reader.</summary>
    Affine? PreRepBn(Node n)
    {
        int u = n.Inputs[0];
        var mix = _m.Nodes[u];
        if (mix.Op != OpKind.PRepBNMix || !Absorbable(u)) return null;
        int ln = mix.Inputs[0], bn = mix.Inputs[1], x = mix.Inputs[2];
        var lnNode = _m.Nodes[ln];
        var bnNode = _m.Nodes[bn];
        if (lnNode.Op != OpKind.LayerNorm || bnNode.Op != OpKind.BatchNorm || !Absorbable(ln) || !Absorbable(bn)
            || lnNode.Inputs[0] != x || bnNode.Inputs[0] != x)
            return null;
        var a = new Affine(x, new FoldExpr(FoldKind.PreRepBn, mix, new FoldExpr(FoldKind.Term, n)) { Aux = bnNode });
        a.Covered.AddRange(new[] { ln, bn, u, n.Id });
        return a;
    }

    /// <summary>An Add of two branches over one source: each side is an absorbable affine value or the source itself.</summary>
    Affine? Sum(Node n)
    {
        int x = n.Inputs[0], y = n.Inputs[1];
        var ax = _affine[x] is { } a1 && Absorbable(x) ? a1 : null;
        var ay = _affine[y] is { } a2 && Absorbable(y) ? a2 : null;
        int source;
        FoldExpr ex, ey;
        if (ax is not null && ay is not null && ax.Source == ay.Source) (source, ex, ey) = (ax.Source, ax.Expr, ay.Expr);
        else if (ax is not null && ax.Source == y) (source, ex, ey, ay) = (y, ax.Expr, new FoldExpr(FoldKind.Identity, null), null);
        else if (ay is not null && ay.Source == x) (source, ex, ey, ax) = (x, new FoldExpr(FoldKind.Identity, null), ay.Expr, null);
        else return null;
        var sum = new Affine(source, new FoldExpr(FoldKind.Sum, null, ex, ey));
        if (ax is not null) sum.Covered.AddRange(ax.Covered);
        if (ay is not null) sum.Covered.AddRange(ay.Covered);
        sum.Covered.Add(n.Id);
        return GeometryOf(sum) is null ? null : sum;
    }

    /// <summary>The merged conv for an affine value, placing each term in it; null when the terms cannot share one kernel.</summary>
    Geometry? GeometryOf(Affine a)
    {
        var src = _m.Nodes[a.Source].Shape;
        var leaves = a.Expr.Walk().Where(e => e.Kind is FoldKind.Term or FoldKind.Identity).ToList();
        var terms = leaves.Where(e => e.Kind == FoldKind.Term).Select(e => e.Node!).ToList();
        bool identity = leaves.Any(e => e.Kind == FoldKind.Identity);
        if (terms.Count == 0)
        {
            // BN-only values are folded only alongside a conv; their geometry is checked when they join one.
            return null;
        }
        if (terms.Any(t => t.Op == OpKind.Linear))
        {
            if (terms.Any(t => t.Op != OpKind.Linear)) return null;
            int inF = terms[0].Ints[0], outF = terms[0].Ints[1];
            if (identity && inF != outF) return null;
            foreach (var e in leaves) e.Dy = e.Dx = 0;
            return new Geometry(true, inF, outF, 1, 1, 1, 1, 0, 0, 1, 1, 1);
        }
        var c0 = new ConvAttrs(terms[0]);
        bool many = leaves.Count > 1;
        foreach (var t in terms)
        {
            var c = new ConvAttrs(t);
            if (c.Sh != c0.Sh || c.Sw != c0.Sw || c.Groups != c0.Groups || c.Cout != c0.Cout || c.Cin != c0.Cin) return null;
            // Dilated kernels interleave: only a lone one keeps its geometry.
            if (many && (c.Dh != 1 || c.Dw != 1)) return null;
        }
        if (identity && (c0.Cin != c0.Cout || c0.Sh != 1 || c0.Sw != 1)) return null;
        int ph = terms.Max(t => new ConvAttrs(t).Ph), pw = terms.Max(t => new ConvAttrs(t).Pw);
        int kh = 1, kw = 1;
        foreach (var e in leaves)
        {
            if (e.Kind == FoldKind.Identity)
            {
                // The identity reads the output position itself: row o sits at offset ph in the merged window.
                e.Dy = ph;
                e.Dx = pw;
                kh = System.Math.Max(kh, ph + 1);
                kw = System.Math.Max(kw, pw + 1);
                continue;
            }
            var c = new ConvAttrs(e.Node!);
            e.Dy = ph - c.Ph;
            e.Dx = pw - c.Pw;
            kh = System.Math.Max(kh, e.Dy + c.Kh);
            kw = System.Math.Max(kw, e.Dx + c.Kw);
        }
        var g = new Geometry(false, c0.Cin, c0.Cout, kh, kw, c0.Sh, c0.Sw, ph, pw, many ? 1 : c0.Dh, many ? 1 : c0.Dw, c0.Groups);
        // The merged window must produce the same output grid as every branch (symmetric padding).
        var shape = Conv2dOp.Shape(src.ToArray(), g.Cin, g.Cout, g.Kh, g.Kw, g.Sh, g.Sw, g.Ph, g.Pw, g.Dh, g.Dw, g.Groups).Shape;
        var expected = terms[0].Shape;
        return shape is not null && OpRules.Same(shape, expected) ? g : null;
    }

    DeployModel Build(Dictionary<int, Affine> roots, HashSet<int> covered, Dictionary<int, BinaryChain> chains, HashSet<int> binary)
    {
        var bitParams = new List<BitParamSpec>();
        var packed = new List<PackedLayer>();
        var thresholds = new List<PackThreshold>();
        var hosts = new HashSet<int>(chains.Values.Select(c => c.Host.Id));
        var packSigns = new HashSet<int>(chains.Values.Where(c => !binary.Contains(c.Sign.Id)).Select(c => c.Sign.Id));
        var packOf = new Dictionary<int, int>();
        var map = new int[_m.Nodes.Count];
        var nodes = new List<Node>();
        var layerNames = new HashSet<string>(_m.Nodes.Select(n => n.Layer).Where(l => l.Length > 0), System.StringComparer.Ordinal);
        var byName = _m.Params.ToDictionary(p => p.Name, System.StringComparer.Ordinal);
        var dparams = new List<DeployParam>();
        var folds = new List<DeployFold>();
        foreach (var n in _m.Nodes)
        {
            if (chains.TryGetValue(n.Id, out var chain))
            {
                int bits = packOf.TryGetValue(chain.Sign.Id, out int pk) ? pk : map[chain.Sign.Id];
                if (bits < 0) throw new System.InvalidOperationException($"the bits of sign #{chain.Sign.Id} were never packed");
                var (id, bitsOut) = AddPacked(chain, bits, map, nodes, dparams, bitParams, packed, thresholds);
                map[n.Id] = id;
                if (chain.OutSign is not null) map[chain.OutSign.Id] = bitsOut;
                continue;
            }
            if (binary.Contains(n.Id))
            {
                // A host, BatchNorm or Add inside a packed layer (or a sign it writes as bits: mapped above).
                if (!chains.Values.Any(c => c.OutSign?.Id == n.Id)) map[n.Id] = -1;
                continue;
            }
            if (packSigns.Contains(n.Id) && _consumers[n.Id].All(hosts.Contains) && n.Id != _m.Output)
            {
                // Read only as bits: the sign becomes its packing.
                map[n.Id] = packOf[n.Id] = AddPack(n, map, nodes, dparams, thresholds);
                continue;
            }
            map[n.Id] = -1;
            if (roots.TryGetValue(n.Id, out var a))
            {
                var g = GeometryOf(a)!;
                if (map[a.Source] < 0) throw new System.InvalidOperationException($"fold source #{a.Source} was itself folded away");
                string name = FoldName(a, layerNames);
                Node merged;
                if (g.Linear)
                {
                    merged = new Node(nodes.Count, OpKind.Linear, new[] { map[a.Source] }.ToEquatableArray(), n.Shape,
                        new[] { g.Cin, g.Cout, 1 }.ToEquatableArray(), 0, 0, name, null);
                    dparams.Add(new DeployParam(new ParamSpec(name + ".weight", new[] { g.Cout, g.Cin }.ToEquatableArray(), "Weight", "KaimingUniform", g.Cin, g.Cout), null));
                }
                else
                {
                    merged = new Node(nodes.Count, OpKind.Conv2d, new[] { map[a.Source] }.ToEquatableArray(), n.Shape,
                        new[] { g.Cin, g.Cout, g.Kh, g.Kw, g.Sh, g.Sw, g.Ph, g.Pw, g.Dh, g.Dw, g.Groups, 1 }.ToEquatableArray(), 0, 0, name, null);
                    int fanIn = g.Cin / g.Groups * g.Kh * g.Kw;
                    dparams.Add(new DeployParam(new ParamSpec(name + ".weight", new[] { g.Cout, g.Cin / g.Groups, g.Kh, g.Kw }.ToEquatableArray(), "Weight", "KaimingUniform", fanIn, g.Cout / g.Groups * g.Kh * g.Kw), null));
                }
                dparams.Add(new DeployParam(new ParamSpec(name + ".bias", new[] { g.Cout }.ToEquatableArray(), "Bias", "BiasUniform", g.Cin / g.Groups * g.Kh * g.Kw, g.Cout), null));
                folds.Add(new DeployFold(name + ".weight", name + ".bias", g.Cout, g.Cin / g.Groups, g.Kh, g.Kw, a.Expr));
                map[n.Id] = nodes.Count;
                nodes.Add(merged);
                continue;
            }
            if (covered.Contains(n.Id)) continue;
            var inputs = n.Inputs.Select(i => map[i]).ToArray();
            map[n.Id] = nodes.Count;
            nodes.Add(n with { Id = nodes.Count, Inputs = inputs.ToEquatableArray(), Location = null });
            if (n.Layer.Length > 0)
                foreach (var suffix in new[] { ".weight", ".bias", ".running_mean", ".running_var", ".w" }.Concat(RPReluOp.Suffixes).Concat(PRepBNMixOp.Suffixes))
                    if (byName.TryGetValue(n.Layer + suffix, out var spec) && !dparams.Any(p => p.Spec.Name == spec.Name))
                        dparams.Add(new DeployParam(spec, spec.Name));
            // A sign read both as floats and as bits: the float node stays, and its packing follows it.
            if (packSigns.Contains(n.Id)) packOf[n.Id] = AddPack(n, map, nodes, dparams, thresholds);
        }
        var ir = _m with
        {
            ClassName = _m.ClassName + "Deploy",
            Nodes = nodes.ToEquatableArray(),
            Output = map[_m.Output],
            Params = dparams.Select(p => p.Spec).ToEquatableArray(),
            BitParams = bitParams.ToEquatableArray(),
            DeclaresClass = true,
        };
        return new DeployModel(ir, dparams, folds) { Packed = packed, Thresholds = thresholds };
    }

    /// <summary>A lone conv keeps its name; a merged group takes its layers' common dotted prefix plus "reparam".</summary>
    static string FoldName(Affine a, HashSet<string> taken)
    {
        var terms = a.Expr.Walk().Where(e => e.Kind == FoldKind.Term).Select(e => e.Node!.Layer).ToList();
        if (terms.Count == 1) return terms[0];
        // Every layer of the fold, BatchNorms included: a MobileOne block's conv branches share
        // "pw.rbr_conv", but with its skip BatchNorm the block is "pw".
        var parts = a.Expr.Walk().Where(e => e.Node is not null).Select(e => e.Node!.Layer.Split('.')).ToList();
        var common = new List<string>();
        for (int i = 0; parts.All(p => p.Length > i + 1) && parts.All(p => p[i] == parts[0][i]); i++) common.Add(parts[0][i]);
        string baseName = common.Count > 0 ? string.Join(".", common) + ".reparam" : terms[0] + "_reparam";
        string name = baseName;
        for (int k = 2; taken.Contains(name); k++) name = baseName + k;
        taken.Add(name);
        return name;
    }
}
