// Composite layers (Dsl/Blocks.cs): `field.Forward(x)` on a block expands into primitive layers and ops, as
// the block's reference PyTorch code builds it in training form. Each sub-layer is a synthesized LayerDecl
// named by the reference state_dict path under the field (g1.primary_conv.0, b.rbr_dense.bn...) and goes
// through CallLayer, so its validation, parameter specs and initialisation are the primitive layer's own.
// Hyper-parameters are checked here first, so a bad one is reported once, in the block's terms, at the argument
// it is about when that is written (else at the field), as the primitive layers do.
using System;
using System.Collections.Generic;
using System.Globalization;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Parsing;

internal sealed partial class ModelParser
{
    /// <summary>Expands a block layer (CallLayer's fallback for kinds that are not primitive layers).</summary>
    int CallBlock(LayerDecl block, int x, LocationInfo? loc)
    {
        string what = $"{block.Name} ({block.Kind})";
        switch (block.Kind)
        {
            case "GhostModule":
                {
                    int cin = block.Int("inChannels"), cout = block.Int("outChannels"), k = block.Int("kernel"), ratio = block.Int("ratio");
                    int dw = block.Int("dwSize"), stride = block.Int("stride");
                    bool relu = block.Bool("relu"), attention = block.Bool("attention");
                    var problem = Positive(("inChannels", cin), ("outChannels", cout), ("kernel", k), ("dwSize", dw), ("stride", stride))
                        ?? GhostHyper(ratio, dw);
                    if (problem is not null) return Invalid(block, what, problem);
                    if (!BlockInput(what, x, cin, loc)) return -1;
                    return Ghost(block, "", x, cin, cout, k, ratio, dw, stride, relu, attention, loc);
                }
            case "GhostBottleneck":
                {
                    int cin = block.Int("inChannels"), mid = block.Int("midChannels"), cout = block.Int("outChannels");
                    int k = block.Int("dwKernel"), stride = block.Int("stride");
                    float se = block.Float("seRatio");
                    bool attention = block.Bool("attention");
                    var problem = Positive(("inChannels", cin), ("midChannels", mid), ("outChannels", cout), ("dwKernel", k), ("stride", stride))
                        ?? (se >= 0 ? null : new Problem($"seRatio ({Show(se)}) must be 0 (no squeeze-excite) or positive", "seRatio"));
                    if (problem is not null) return Invalid(block, what, problem);
                    if (!BlockInput(what, x, cin, loc)) return -1;
                    int pad = (k - 1) / 2;
                    int h = Ghost(block, "ghost1.", x, cin, mid, 1, 2, 3, 1, relu: true, attention, loc);
                    if (h < 0) return -1;
                    if (stride > 1)
                    {
                        h = Conv(block, "conv_dw", h, mid, mid, k, stride, pad, mid, bias: false, loc);
                        if (h < 0 || (h = Norm(block, "bn_dw", h, mid, loc)) < 0) return -1;
                    }
                    if (se > 0)
                    {
                        // timm / GhostNet SqueezeExcite: conv_reduce and conv_expand are 1x1 convs with bias on the
                        // pooled (C, 1, 1) map; the gate is hard_sigmoid = relu6(x + 3) / 6.
                        int reduced = MakeDivisible(mid * ExactDecimal(se), 4);
                        int s = AddNode(OpKind.GlobalAvgPool, new[] { h }, new[] { mid }, Array.Empty<int>(), 0, 0, "", loc);
                        s = AddNode(OpKind.Reshape, new[] { s }, new[] { mid, 1, 1 }, Array.Empty<int>(), 0, 0, "", loc);
                        s = Conv(block, "se.conv_reduce", s, mid, reduced, 1, 1, 0, 1, bias: true, loc);
                        if (s < 0) return -1;
                        s = Conv(block, "se.conv_expand", Act(ActKind.Relu, s, loc), reduced, mid, 1, 1, 0, 1, bias: true, loc);
                        if (s < 0) return -1;
                        h = Sum(OpKind.Mul, block, what, h, Act(ActKind.HardSigmoid, s, loc), loc, "");
                        if (h < 0) return -1;
                    }
                    h = Ghost(block, "ghost2.", h, mid, cout, 1, 2, 3, 1, relu: false, attention: false, loc);
                    if (h < 0) return -1;
                    int shortcut = x;
                    if (cin != cout || stride != 1)
                    {
                        shortcut = Conv(block, "shortcut.0", x, cin, cin, k, stride, pad, cin, bias: false, loc);
                        if (shortcut < 0 || (shortcut = Norm(block, "shortcut.1", shortcut, cin, loc)) < 0) return -1;
                        shortcut = Conv(block, "shortcut.2", shortcut, cin, cout, 1, 1, 0, 1, bias: false, loc);
                        if (shortcut < 0 || (shortcut = Norm(block, "shortcut.3", shortcut, cout, loc)) < 0) return -1;
                    }
                    return Sum(OpKind.Add, block, what, h, shortcut, loc,
                        $"the residual path and the shortcut differ for input {OpRules.Format(ShapeOf(x))}: with an even dwKernel ({k}) the shortcut's depthwise conv changes the size");
                }
            case "TransformerBlock":
                return Transformer(block, what, x, loc);
            case "RepVggBlock":
                {
                    int cin = block.Int("inChannels"), cout = block.Int("outChannels"), stride = block.Int("stride"), groups = block.Int("groups");
                    var problem = ConvProblem(Conv2dOp.Hyper(cin, cout, 3, 0, stride, 1, -1, 1, groups));
                    if (problem is not null) return Invalid(block, what, problem);
                    if (!BlockInput(what, x, cin, loc)) return -1;
                    int dense = ConvBn(block, "rbr_dense.", false, x, cin, cout, 3, stride, 1, groups, loc);
                    if (dense < 0) return -1;
                    int one = ConvBn(block, "rbr_1x1.", false, x, cin, cout, 1, stride, 0, groups, loc);
                    if (one < 0) return -1;
                    int y = Sum(OpKind.Add, block, what, dense, one, loc, "");
                    if (y >= 0 && cin == cout && stride == 1)
                    {
                        int id = Norm(block, "rbr_identity", x, cin, loc);
                        y = id < 0 ? -1 : Sum(OpKind.Add, block, what, y, id, loc, "");
                    }
                    return y < 0 ? -1 : Act(ActKind.Relu, y, loc);
                }
            case "MobileOneBlock":
                {
                    int cin = block.Int("inChannels"), cout = block.Int("outChannels"), k = block.Int("kernel"), stride = block.Int("stride");
                    int pad = block.Int("padding"), groups = block.Int("groups"), branches = block.Int("branches");
                    var problem = ConvProblem(Conv2dOp.Hyper(cin, cout, k, 0, stride, pad, -1, 1, groups))
                        ?? (branches >= 1 ? null : new Problem($"branches ({branches}) must be at least 1", "branches"));
                    if (problem is not null) return Invalid(block, what, problem);
                    if (!BlockInput(what, x, cin, loc)) return -1;
                    // The reference sums scale_out + identity_out first, then adds each conv branch in turn.
                    var terms = new List<int>();
                    if (k > 1)
                    {
                        int scale = ConvBn(block, "rbr_scale.", false, x, cin, cout, 1, stride, 0, groups, loc);
                        if (scale < 0) return -1;
                        terms.Add(scale);
                    }
                    if (cin == cout && stride == 1)
                    {
                        int skip = Norm(block, "rbr_skip", x, cin, loc);
                        if (skip < 0) return -1;
                        terms.Add(skip);
                    }
                    for (int i = 0; i < branches; i++)
                    {
                        int conv = ConvBn(block, $"rbr_conv.{i}.", false, x, cin, cout, k, stride, pad, groups, loc);
                        if (conv < 0) return -1;
                        terms.Add(conv);
                    }
                    int y = terms[0];
                    for (int i = 1; i < terms.Count && y >= 0; i++)
                        y = Sum(OpKind.Add, block, what, y, terms[i], loc,
                            $"its branches differ for input {OpRules.Format(ShapeOf(x))}: with kernel {k}, padding must be (kernel - 1) / 2 = {(k - 1) / 2} so the kernel x kernel branches match the 1x1 scale branch and the skip");
                    return y < 0 ? -1 : Act(ActKind.Relu, y, loc);
                }
            case "RepGhostModule":
                {
                    int cin = block.Int("inChannels"), cout = block.Int("outChannels"), k = block.Int("kernel");
                    int dw = block.Int("dwSize"), stride = block.Int("stride");
                    bool relu = block.Bool("relu");
                    var problem = Positive(("inChannels", cin), ("outChannels", cout), ("kernel", k), ("dwSize", dw), ("stride", stride))
                        ?? (dw % 2 == 1 ? null : new Problem($"dwSize ({dw}) must be odd: the cheap operation (padding dwSize / 2) must keep the primary output's size", "dwSize"));
                    if (problem is not null) return Invalid(block, what, problem);
                    if (!BlockInput(what, x, cin, loc)) return -1;
                    int x1 = ConvBn(block, "primary_conv.", true, x, cin, cout, k, stride, k / 2, 1, loc);
                    if (x1 < 0) return -1;
                    if (relu) x1 = Act(ActKind.Relu, x1, loc);
                    int x2 = ConvBn(block, "cheap_operation.", true, x1, cout, cout, dw, 1, dw / 2, cout, loc);
                    if (x2 < 0) return -1;
                    int fusion = Norm(block, "fusion_bn.0", x1, cout, loc);
                    if (fusion < 0) return -1;
                    int y = Sum(OpKind.Add, block, what, x2, fusion, loc, "");
                    return y < 0 || !relu ? y : Act(ActKind.Relu, y, loc);
                }
            default:
                Report(DiagnosticDescriptors.UnknownCall, loc, block.Kind);
                return -1;
        }
    }

    /// <summary>GhostNet's module, v1 or (attention) GhostNetV2's 'attn' mode, under <paramref name="prefix"/>.</summary>
    int Ghost(LayerDecl block, string prefix, int x, int cin, int cout, int k, int ratio, int dw, int stride, bool relu, bool attention, LocationInfo? loc)
    {
        string what = $"{block.Name} ({block.Kind})";
        int init = (cout + ratio - 1) / ratio, extra = init * (ratio - 1);
        int res = -1;
        if (attention)
        {
            // GhostModuleV2 'attn': res = short_conv(F.avg_pool2d(x, 2, 2)), first, as the reference computes it.
            // short_conv: conv (kernel, stride) + BN, then DFC: depthwise 1x5 (padding 0, 2) + BN, 5x1 (2, 0) + BN.
            int pooled = Shaped(OpKind.AvgPool, what, new[] { x }, PoolOp.Shape(ShapeOf(x), 2, 2, 2, 2, 0, 0), new[] { 2, 2, 2, 2, 0, 0 }, 0, 0, "", loc);
            if (pooled < 0) return -1;
            res = Conv(block, prefix + "short_conv.0", pooled, cin, cout, k, stride, k / 2, 1, bias: false, loc);
            if (res < 0 || (res = Norm(block, prefix + "short_conv.1", res, cout, loc)) < 0) return -1;
            res = Conv(block, prefix + "short_conv.2", res, cout, cout, 1, 1, 0, cout, bias: false, loc, kernelWidth: 5, paddingWidth: 2);
            if (res < 0 || (res = Norm(block, prefix + "short_conv.3", res, cout, loc)) < 0) return -1;
            res = Conv(block, prefix + "short_conv.4", res, cout, cout, 5, 1, 2, cout, bias: false, loc, kernelWidth: 1, paddingWidth: 0);
            if (res < 0 || (res = Norm(block, prefix + "short_conv.5", res, cout, loc)) < 0) return -1;
        }
        int x1 = Conv(block, prefix + "primary_conv.0", x, cin, init, k, stride, k / 2, 1, bias: false, loc);
        if (x1 < 0 || (x1 = Norm(block, prefix + "primary_conv.1", x1, init, loc)) < 0) return -1;
        if (relu) x1 = Act(ActKind.Relu, x1, loc);
        int x2 = Conv(block, prefix + "cheap_operation.0", x1, init, extra, dw, 1, dw / 2, init, bias: false, loc);
        if (x2 < 0 || (x2 = Norm(block, prefix + "cheap_operation.1", x2, extra, loc)) < 0) return -1;
        if (relu) x2 = Act(ActKind.Relu, x2, loc);
        // cat([x1, x2])[:, :out]: the planner writes both parts into one buffer and the slice is a view of it.
        var (shape, error) = ConcatOp.Shape(new List<int[]> { ShapeOf(x1), ShapeOf(x2) });
        if (shape is null) return Invalid(block, what, new Problem(error!, null));
        int y = AddNode(OpKind.Concat, new[] { x1, x2 }, shape, Array.Empty<int>(), 0, 0, "", loc);
        if (init + extra != cout)
            y = AddNode(OpKind.Slice, new[] { y }, new[] { cout, shape[1], shape[2] }, new[] { 0, cout }, 0, 0, "", loc);
        if (!attention) return y;
        // out[:, :oup] * F.interpolate(sigmoid(res), size=(H, W), mode='nearest'): the gate, computed at half
        // resolution, resized back to the output's size (not always an exact 2x: 7x7 pools to 3x3).
        int gate = Act(ActKind.Sigmoid, res, loc);
        gate = Shaped(OpKind.UpsampleNearest, what, new[] { gate }, UpsampleNearestOp.Shape(ShapeOf(gate), shape[1], shape[2]),
            Array.Empty<int>(), 0, 0, "", loc);
        return gate < 0 ? -1 : Sum(OpKind.Mul, block, what, y, gate, loc, "");
    }

    static Problem? GhostHyper(int ratio, int dw)
    {
        if (ratio < 2) return new($"ratio ({ratio}) must be at least 2: the cheap operation makes init * (ratio - 1) channels", "ratio");
        if (dw % 2 == 0) return new($"dwSize ({dw}) must be odd: the cheap operation (padding dwSize / 2) must keep the primary output's size", "dwSize");
        return null;
    }

    /// <summary>timm's pre-norm ViT block: x + attn.proj(attention(attn.qkv(norm1(x)))), then
    /// x + mlp.fc2(gelu(mlp.fc1(norm2(x)))). The attention is fused linear (feature map elu / relu) or softmax; with
    /// dwcKernel &gt; 0 SLAB's simplified linear attention adds its depthwise conv of v over the square token grid
    /// (<c>attn.dwc</c>, shared by the heads) to the attention output before the projection.</summary>
    int Transformer(LayerDecl block, string what, int x, LocationInfo? loc)
    {
        int dim = block.Int("dim"), heads = block.Int("heads"), dwc = block.Int("dwcKernel");
        float ratio = block.Float("mlpRatio"), eps = block.Float("eps");
        string attention = block.Str("attention"), map = block.Str("featureMap");
        bool causal = block.Bool("causal"), qkvBias = block.Bool("qkvBias");
        string norm = block.Str("norm");
        int warm = block.Int("warmSteps"), total = block.Int("totalSteps");
        int hidden = (int)(dim * ratio);
        int mapIndex = map == "elu" ? 0 : map == "relu" ? 1 : -1;
        var problem = Positive(("dim", dim), ("heads", heads))
            ?? (dim % heads == 0 ? (Problem?)null : new Problem($"heads ({heads}) must divide dim ({dim})", "heads"))
            ?? (dim / heads <= Ops.Attention.MaxHeadSize ? (Problem?)null : new Problem($"a head of {dim / heads} features exceeds the kernels' limit of {Ops.Attention.MaxHeadSize}; use more heads", "heads"))
            ?? (ratio > 0 && hidden > 0 ? (Problem?)null : new Problem($"mlpRatio ({Show(ratio)}) must give at least one hidden feature", "mlpRatio"))
            ?? (eps > 0 && !float.IsInfinity(eps) ? (Problem?)null : new Problem($"eps ({Show(eps)}) must be positive and finite", "eps"))
            ?? (attention is "linear" or "softmax" ? (Problem?)null : new Problem($"attention must be \"linear\" or \"softmax\", got \"{attention}\"", "attention"))
            ?? (mapIndex >= 0 ? (Problem?)null : new Problem($"featureMap must be \"elu\" (elu(x) + 1) or \"relu\", got \"{map}\"", "featureMap"))
            ?? (dwc >= 0 && (dwc == 0 || dwc % 2 == 1) ? (Problem?)null : new Problem($"dwcKernel ({dwc}) must be 0 (none) or odd, so the depthwise conv keeps the grid", "dwcKernel"))
            ?? (dwc == 0 || attention == "linear" && !causal ? (Problem?)null : new Problem("dwcKernel (SLAB's depthwise conv of v) needs non-causal linear attention", "dwcKernel"))
            ?? (norm is "layernorm" or "prepbn" ? (Problem?)null : new Problem($"norm must be \"layernorm\" or \"prepbn\" (SLAB's progressive re-parameterized BatchNorm), got \"{norm}\"", "norm"))
            ?? (warm >= 0 ? (Problem?)null : new Problem($"warmSteps ({warm}) must be 0 or positive", "warmSteps"))
            ?? (total >= 1 ? (Problem?)null : new Problem($"totalSteps ({total}) must be at least 1: lambda = iter / totalSteps", "totalSteps"))
            // Counters are floats in the parameter store: exact up to 2^24 steps.
            ?? (warm <= 1 << 24 && total <= 1 << 24 ? (Problem?)null : new Problem("warmSteps and totalSteps must be at most 16777216 (counted exactly in float)", total > 1 << 24 ? "totalSteps" : "warmSteps"));
        if (problem is not null) return Invalid(block, what, problem);
        var s = ShapeOf(x);
        if (s.Length != 2 || s[1] != dim)
        {
            Report(DiagnosticDescriptors.ShapeMismatch, loc, what, $"expects (N, {dim}) tokens, got {OpRules.Format(s)}");
            return -1;
        }
        int seq = s[0], dh = dim / heads, grid = (int)Math.Round(Math.Sqrt(seq));
        if (dwc > 0 && grid * grid != seq)
        {
            Report(DiagnosticDescriptors.ShapeMismatch, loc, what, $"dwcKernel needs a square grid of tokens, got N = {seq}");
            return -1;
        }
        int h = NormSub(block, "norm1", x, dim, eps, norm, warm, total, loc);
        int qkv = h < 0 ? -1 : LinearSub(block, "attn.qkv", h, dim, 3 * dim, qkvBias, loc);
        if (qkv < 0) return -1;
        // timm splits qkv as (3, heads, dh) along the features: q, k, v are consecutive dim-wide slices.
        var part = new int[3];
        for (int i = 0; i < 3; i++)
            part[i] = AddNode(OpKind.Slice, new[] { qkv }, new[] { seq, dim }, new[] { i * dim, dim, 1 }, 0, 0, "", loc);
        int a = attention == "linear"
            ? AddNode(OpKind.LinearAttention, part, new[] { seq, dim }, new[] { seq, heads, dh, causal ? 1 : 0, mapIndex }, 0, 0, "", loc)
            : AddNode(OpKind.ScaledDotProductAttention, part, new[] { seq, dim }, new[] { seq, heads, dh, causal ? 1 : 0, 0 }, 0, 0, "", loc);
        if (dwc > 0)
        {
            // v (N, D) -> (D, N) -> (heads, dh, g, g): each head's channels on the grid; the conv folds the heads axis.
            int t = AddNode(OpKind.Transpose, new[] { part[2] }, new[] { dim, seq }, new[] { 0, 1 }, 0, 0, "", loc);
            t = AddNode(OpKind.Reshape, new[] { t }, new[] { heads, dh, grid, grid }, Array.Empty<int>(), 0, 0, "", loc);
            t = Conv(block, "attn.dwc", t, dh, dh, dwc, 1, dwc / 2, dh, bias: true, loc);
            if (t < 0) return -1;
            t = AddNode(OpKind.Reshape, new[] { t }, new[] { dim, seq }, Array.Empty<int>(), 0, 0, "", loc);
            t = AddNode(OpKind.Transpose, new[] { t }, new[] { seq, dim }, new[] { 0, 1 }, 0, 0, "", loc);
            a = Sum(OpKind.Add, block, what, a, t, loc, "");
            if (a < 0) return -1;
        }
        int proj = LinearSub(block, "attn.proj", a, dim, dim, true, loc);
        int r = proj < 0 ? -1 : Sum(OpKind.Add, block, what, x, proj, loc, "");
        if (r < 0) return -1;
        int m = NormSub(block, "norm2", r, dim, eps, norm, warm, total, loc);
        m = m < 0 ? -1 : LinearSub(block, "mlp.fc1", m, dim, hidden, true, loc);
        m = m < 0 ? -1 : LinearSub(block, "mlp.fc2", Act(ActKind.Gelu, m, loc), hidden, dim, true, loc);
        return m < 0 ? -1 : Sum(OpKind.Add, block, what, r, m, loc, "");
    }

    int LinearSub(LayerDecl block, string path, int x, int fin, int fout, bool bias, LocationInfo? loc) =>
        CallLayer(new LayerDecl(block.Name + "." + path, "Linear", new Dictionary<string, object>
        {
            ["inFeatures"] = fin, ["outFeatures"] = fout, ["bias"] = bias,
        }, block.Location, NoArgLocations), x, loc);

    /// <summary>The block's normX: a LayerNorm, or SLAB's PRepBN (LinearNorm): LayerNorm normX.norm1 and RepBN's
    /// BatchNorm1d normX.norm2.bn over the tokens (statistics over batch and tokens, as RepBN's BatchNorm1d on
    /// (B, C, N)), mixed by PRepBNMix with the annealing counters.</summary>
    int NormSub(LayerDecl block, string path, int x, int dim, float eps, string norm, int warm, int total, LocationInfo? loc)
    {
        if (norm == "layernorm") return LayerNormSub(block, path, x, dim, eps, loc);
        int ln = LayerNormSub(block, path + ".norm1", x, dim, eps, loc);
        if (ln < 0) return -1;
        // RepBN's BatchNorm1d keeps PyTorch's defaults (eps 1e-5, momentum 0.1).
        int bn = CallLayer(new LayerDecl(block.Name + "." + path + ".norm2.bn", "BatchNorm1d", new Dictionary<string, object>
        {
            ["features"] = dim, ["eps"] = 1e-5f, ["momentum"] = 0.1f,
        }, block.Location, NoArgLocations), x, loc);
        return bn < 0 ? -1 : PRepBNMixOp.Add(this, block.Name + "." + path, ln, bn, x, warm, total, loc);
    }

    int LayerNormSub(LayerDecl block, string path, int x, int dim, float eps, LocationInfo? loc) =>
        CallLayer(new LayerDecl(block.Name + "." + path, "LayerNorm", new Dictionary<string, object>
        {
            ["dim"] = dim, ["eps"] = eps, ["elementwiseAffine"] = true, ["bias"] = true,
        }, block.Location, NoArgLocations), x, loc);

    // ---- helpers: sub-layers under the block's field, reported at its declaration ----

    /// <summary>Sub-layers have no argument text of their own: their diagnostics point at the block's field.</summary>
    static readonly Dictionary<string, LocationInfo?> NoArgLocations = new();

    /// <summary>Conv2d sub-layer <c>{block}.{path}</c>; every constructor argument is given, defaults included.</summary>
    int Conv(LayerDecl block, string path, int x, int cin, int cout, int k, int stride, int pad, int groups, bool bias, LocationInfo? loc,
        int kernelWidth = 0, int paddingWidth = -1) =>
        CallLayer(new LayerDecl(block.Name + "." + path, "Conv2d", new Dictionary<string, object>
        {
            ["inChannels"] = cin, ["outChannels"] = cout, ["kernel"] = k, ["stride"] = stride, ["padding"] = pad, ["dilation"] = 1,
            ["groups"] = groups, ["bias"] = bias, ["kernelWidth"] = kernelWidth, ["paddingWidth"] = paddingWidth,
        }, block.Location, NoArgLocations), x, loc);

    /// <summary>BatchNorm2d sub-layer with PyTorch's defaults (eps 1e-5, momentum 0.1), as every reference block uses.</summary>
    int Norm(LayerDecl block, string path, int x, int channels, LocationInfo? loc) =>
        CallLayer(new LayerDecl(block.Name + "." + path, "BatchNorm2d", new Dictionary<string, object>
        {
            ["channels"] = channels, ["eps"] = 1e-5f, ["momentum"] = 0.1f,
        }, block.Location, NoArgLocations), x, loc);

    /// <summary>A conv without bias and its BatchNorm: the reference's conv_bn (<c>{path}conv</c>, <c>{path}bn</c>)
    /// or, when <paramref name="numbered"/>, an nn.Sequential's <c>{path}0</c>, <c>{path}1</c>.</summary>
    int ConvBn(LayerDecl block, string path, bool numbered, int x, int cin, int cout, int k, int stride, int pad, int groups, LocationInfo? loc)
    {
        int c = Conv(block, path + (numbered ? "0" : "conv"), x, cin, cout, k, stride, pad, groups, bias: false, loc);
        return c < 0 ? -1 : Norm(block, path + (numbered ? "1" : "bn"), c, cout, loc);
    }

    int Act(ActKind act, int x, LocationInfo? loc) => ActivationOp.Apply(this, act, x, loc);

    /// <summary>Add or Mul of two branches. Branches that disagree are the block's hyper-parameters' fault
    /// (the input itself was checked), so it is reported at the field with <paramref name="hint"/>.</summary>
    int Sum(string op, LayerDecl block, string what, int a, int b, LocationInfo? loc, string hint)
    {
        var (shape, error) = OpRules.Elementwise(ShapeOf(a), ShapeOf(b));
        if (shape is null) return Invalid(block, what, new Problem(hint.Length > 0 ? hint : error!, null));
        return AddNode(op, new[] { a, b }, shape, Array.Empty<int>(), 0, 0, "", loc);
    }

    /// <summary>The block's input must be (C, H, W) with its inChannels; a mismatch is the call's problem (AUT0008).</summary>
    bool BlockInput(string what, int x, int cin, LocationInfo? loc)
    {
        var s = ShapeOf(x);
        string? mismatch = s.Length != 3 ? $"expects a (C, H, W) input, got {OpRules.Format(s)}"
            : s[0] != cin ? $"expects {cin} input channels, got {s[0]} (input shape {OpRules.Format(s)})" : null;
        if (mismatch is not null) Report(DiagnosticDescriptors.ShapeMismatch, loc, what, mismatch);
        return mismatch is null;
    }

    /// <summary>A hyper-parameter problem and the one argument it is about (null: several, so the field).</summary>
    readonly record struct Problem(string Message, string? Parameter);

    /// <summary>Reported where the argument is written, else at the field (the convention of the primitive layers).</summary>
    int Invalid(LayerDecl block, string what, Problem? problem)
    {
        if (problem is { } p) Report(DiagnosticDescriptors.InvalidHyperParameter, block.LocationOf(p.Parameter), what, p.Message);
        return -1;
    }

    static Problem? Positive(params (string Name, int Value)[] args)
    {
        foreach (var (name, value) in args)
            if (value <= 0) return new Problem($"{name} ({value}) must be positive", name);
        return null;
    }

    /// <summary>OpRules.ConvHyper's answer; its parameter names (kernel, stride, padding) are the blocks' too.</summary>
    static Problem? ConvProblem((string? Error, string? Parameter) hyper) => hyper.Error is null ? null : new Problem(hyper.Error, hyper.Parameter);

    /// <summary>_make_divisible of the reference code (from TensorFlow's MobileNet): the nearest multiple of
    /// <paramref name="divisor"/>, at least the divisor, and not more than 10% below <paramref name="v"/>.</summary>
    internal static int MakeDivisible(double v, int divisor)
    {
        int rounded = Math.Max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * v ? rounded + divisor : rounded;
    }

    /// <summary>The decimal a float literal was written as (0.1f -> 0.1, not 0.100000001490116): the reference
    /// computes mid * se_ratio with Python's double 0.1, and a rounding boundary must fall the same way.</summary>
    static double ExactDecimal(float f) => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    static string Show(float f) => f.ToString("R", CultureInfo.InvariantCulture);
}
