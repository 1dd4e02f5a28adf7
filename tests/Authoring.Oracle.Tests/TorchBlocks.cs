// The reference PyTorch definitions of the composite blocks, re-written in TorchSharp module by module, so that
// their state_dict names come from the same structure (nn.Sequential indices, attribute names) as the originals:
//   GhostModule, GhostBottleneck, SqueezeExcite, _make_divisible, hard_sigmoid: huawei-noah ghostnet_pytorch
//     (ghostnet.py); GhostModuleV2 'attn' mode: huawei-noah Efficient-AI-Backbones ghostnetv2_pytorch;
//   RepVGGBlock, conv_bn: DingXiaoH/RepVGG (repvgg.py), train-time form;
//   MobileOneBlock: apple/ml-mobileone (mobileone.py), train-time form, no SE;
//   RepGhostModule: ChengpengChen/RepGhost (model/repghost.py), reparam_bn=True, reparam_identity=False.
// Written from those definitions, not from our expansion, so a wrong expansion detail shows up as a mismatch.
// Their ReLUs run through TorchOracle's (nn.ReLU's own op, seen by a KinkPoints watch); no state_dict name changes.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

/// <summary>ghostnet_pytorch GhostModule; with <c>attn</c>, GhostModuleV2 in mode 'attn' (DFC attention).</summary>
public sealed class TorchGhostModule : Module<TorchTensor, TorchTensor>
{
    readonly long oup;
    readonly bool attn;
    readonly Module<TorchTensor, TorchTensor> primary_conv;
    readonly Module<TorchTensor, TorchTensor> cheap_operation;
    readonly Module<TorchTensor, TorchTensor>? short_conv;

    public TorchGhostModule(long inp, long oup, long kernel_size = 1, long ratio = 2, long dw_size = 3, long stride = 1, bool relu = true,
        bool attn = false) : base("GhostModule")
    {
        this.oup = oup;
        this.attn = attn;
        long init_channels = (long)Math.Ceiling(oup / (double)ratio);
        long new_channels = init_channels * (ratio - 1);
        primary_conv = Sequential(
            Conv2d(inp, init_channels, kernel_size, stride, kernel_size / 2, bias: false),
            BatchNorm2d(init_channels),
            TorchRelu.Make(relu));
        cheap_operation = Sequential(
            Conv2d(init_channels, new_channels, dw_size, 1, dw_size / 2, groups: init_channels, bias: false),
            BatchNorm2d(new_channels),
            TorchRelu.Make(relu));
        if (attn)
        {
            short_conv = Sequential(
                Conv2d(inp, oup, kernel_size, stride, kernel_size / 2, bias: false),
                BatchNorm2d(oup),
                Conv2d(oup, oup, kernel_size: (1, 5), stride: (1, 1), padding: (0, 2), groups: oup, bias: false),
                BatchNorm2d(oup),
                Conv2d(oup, oup, kernel_size: (5, 1), stride: (1, 1), padding: (2, 0), groups: oup, bias: false),
                BatchNorm2d(oup));
        }
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        TorchTensor? res = attn ? short_conv!.forward(F.avg_pool2d(x, kernel_size: 2, stride: 2)) : null;
        var x1 = primary_conv.forward(x);
        var x2 = cheap_operation.forward(x1);
        var @out = torch.cat(new[] { x1, x2 }, 1);
        var sliced = @out.narrow(1, 0, oup);   // out[:, :self.oup, :, :]
        if (!attn) return sliced;
        return sliced * F.interpolate(torch.sigmoid(res!), size: new[] { @out.shape[^2], @out.shape[^1] }, mode: torch.InterpolationMode.Nearest);
    }
}

/// <summary>ghostnet_pytorch SqueezeExcite with its defaults (ReLU, hard_sigmoid gate, divisor 4).</summary>
public sealed class TorchSqueezeExcite : Module<TorchTensor, TorchTensor>
{
    readonly Module<TorchTensor, TorchTensor> avg_pool;
    readonly Module<TorchTensor, TorchTensor> conv_reduce;
    readonly Module<TorchTensor, TorchTensor> act1;
    readonly Module<TorchTensor, TorchTensor> conv_expand;

    public TorchSqueezeExcite(long in_chs, double se_ratio = 0.25, long divisor = 4) : base("SqueezeExcite")
    {
        long reduced_chs = MakeDivisible(in_chs * se_ratio, divisor);
        avg_pool = AdaptiveAvgPool2d(1);
        conv_reduce = Conv2d(in_chs, reduced_chs, 1, bias: true);
        act1 = new TorchRelu();
        conv_expand = Conv2d(reduced_chs, in_chs, 1, bias: true);
        RegisterComponents();
    }

    /// <summary>_make_divisible(v, divisor) of the reference (min_value = divisor).</summary>
    public static long MakeDivisible(double v, long divisor)
    {
        long new_v = Math.Max(divisor, (long)(v + divisor / 2.0) / divisor * divisor);
        if (new_v < 0.9 * v) new_v += divisor;
        return new_v;
    }

    static TorchTensor HardSigmoid(TorchTensor x) => TorchActivations.Relu6(x + 3.0) / 6.0;

    public override TorchTensor forward(TorchTensor x)
    {
        var x_se = avg_pool.forward(x);
        x_se = conv_reduce.forward(x_se);
        x_se = act1.forward(x_se);
        x_se = conv_expand.forward(x_se);
        return x * HardSigmoid(x_se);
    }
}

/// <summary>ghostnet_pytorch GhostBottleneck (ReLU activation); <c>attn</c> gives ghost1 GhostModuleV2's 'attn' mode.</summary>
public sealed class TorchGhostBottleneck : Module<TorchTensor, TorchTensor>
{
    readonly long stride;
    readonly Module<TorchTensor, TorchTensor> ghost1;
    readonly Module<TorchTensor, TorchTensor>? conv_dw;
    readonly Module<TorchTensor, TorchTensor>? bn_dw;
    readonly Module<TorchTensor, TorchTensor>? se;
    readonly Module<TorchTensor, TorchTensor> ghost2;
    readonly Module<TorchTensor, TorchTensor> shortcut;

    public TorchGhostBottleneck(long in_chs, long mid_chs, long out_chs, long dw_kernel_size = 3, long stride = 1, double se_ratio = 0.0,
        bool attn = false) : base("GhostBottleneck")
    {
        bool has_se = se_ratio > 0.0;
        this.stride = stride;
        ghost1 = new TorchGhostModule(in_chs, mid_chs, relu: true, attn: attn);
        if (stride > 1)
        {
            conv_dw = Conv2d(mid_chs, mid_chs, dw_kernel_size, stride: stride, padding: (dw_kernel_size - 1) / 2, groups: mid_chs, bias: false);
            bn_dw = BatchNorm2d(mid_chs);
        }
        se = has_se ? new TorchSqueezeExcite(mid_chs, se_ratio: se_ratio) : null;
        ghost2 = new TorchGhostModule(mid_chs, out_chs, relu: false);
        shortcut = in_chs == out_chs && stride == 1
            ? Sequential()
            : Sequential(
                Conv2d(in_chs, in_chs, dw_kernel_size, stride: stride, padding: (dw_kernel_size - 1) / 2, groups: in_chs, bias: false),
                BatchNorm2d(in_chs),
                Conv2d(in_chs, out_chs, 1, stride: 1, padding: 0L, bias: false),
                BatchNorm2d(out_chs));
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        var residual = x;
        x = ghost1.forward(x);
        if (stride > 1)
        {
            x = conv_dw!.forward(x);
            x = bn_dw!.forward(x);
        }
        if (se is not null) x = se.forward(x);
        x = ghost2.forward(x);
        return x + shortcut.forward(residual);
    }
}

/// <summary>RepVGG's conv_bn: Sequential with named children 'conv' (no bias) and 'bn'.</summary>
static class TorchConvBn
{
    public static Module<TorchTensor, TorchTensor> Make(long in_channels, long out_channels, long kernel_size, long stride, long padding, long groups = 1) =>
        Sequential(
            ("conv", Conv2d(in_channels, out_channels, kernel_size, stride: stride, padding: padding, groups: groups, bias: false)),
            ("bn", BatchNorm2d(out_channels)));
}

/// <summary>RepVGGBlock(in, out, kernel_size=3, stride, padding=1, groups), train-time (deploy=False, no SE).</summary>
public sealed class TorchRepVggBlock : Module<TorchTensor, TorchTensor>
{
    readonly Module<TorchTensor, TorchTensor> nonlinearity;
    readonly Module<TorchTensor, TorchTensor>? rbr_identity;
    readonly Module<TorchTensor, TorchTensor> rbr_dense;
    readonly Module<TorchTensor, TorchTensor> rbr_1x1;

    public TorchRepVggBlock(long in_channels, long out_channels, long kernel_size = 3, long stride = 1, long padding = 1, long groups = 1)
        : base("RepVGGBlock")
    {
        long padding_11 = padding - kernel_size / 2;
        nonlinearity = new TorchRelu();
        rbr_identity = out_channels == in_channels && stride == 1 ? BatchNorm2d(in_channels) : null;
        rbr_dense = TorchConvBn.Make(in_channels, out_channels, kernel_size, stride, padding, groups);
        rbr_1x1 = TorchConvBn.Make(in_channels, out_channels, 1, stride, padding_11, groups);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor inputs)
    {
        var sum = rbr_dense.forward(inputs) + rbr_1x1.forward(inputs);
        if (rbr_identity is not null) sum = sum + rbr_identity.forward(inputs);   // id_out = 0 otherwise
        return nonlinearity.forward(sum);
    }
}

/// <summary>ml-mobileone MobileOneBlock, train-time (inference_mode=False, use_se=False).</summary>
public sealed class TorchMobileOneBlock : Module<TorchTensor, TorchTensor>
{
    readonly Module<TorchTensor, TorchTensor> activation;
    readonly Module<TorchTensor, TorchTensor>? rbr_skip;
    readonly ModuleList<Module<TorchTensor, TorchTensor>> rbr_conv;
    readonly Module<TorchTensor, TorchTensor>? rbr_scale;

    public TorchMobileOneBlock(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0, long groups = 1,
        int num_conv_branches = 1) : base("MobileOneBlock")
    {
        activation = new TorchRelu();
        rbr_skip = out_channels == in_channels && stride == 1 ? BatchNorm2d(in_channels) : null;
        var convs = new List<Module<TorchTensor, TorchTensor>>();
        for (int i = 0; i < num_conv_branches; i++) convs.Add(TorchConvBn.Make(in_channels, out_channels, kernel_size, stride, padding, groups));
        rbr_conv = ModuleList(convs.ToArray());
        rbr_scale = kernel_size > 1 ? TorchConvBn.Make(in_channels, out_channels, 1, stride, 0, groups) : null;
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        // out = scale_out + identity_out (each 0 when absent), then += each conv branch.
        TorchTensor? @out = null;
        if (rbr_scale is not null) @out = rbr_scale.forward(x);
        if (rbr_skip is not null) @out = @out is null ? rbr_skip.forward(x) : @out + rbr_skip.forward(x);
        foreach (var conv in rbr_conv) @out = @out is null ? conv.forward(x) : @out + conv.forward(x);
        return activation.forward(@out!);
    }
}

/// <summary>RepGhost RepGhostModule(inp, oup, kernel_size, dw_size, stride, relu), deploy=False, reparam_bn=True,
/// reparam_identity=False: fusion_conv = [Identity], fusion_bn = [BatchNorm2d(oup)].</summary>
public sealed class TorchRepGhostModule : Module<TorchTensor, TorchTensor>
{
    readonly Module<TorchTensor, TorchTensor> primary_conv;
    readonly Sequential fusion_conv;
    readonly Sequential fusion_bn;
    readonly Module<TorchTensor, TorchTensor> cheap_operation;
    readonly Module<TorchTensor, TorchTensor> relu;

    public TorchRepGhostModule(long inp, long oup, long kernel_size = 1, long dw_size = 3, long stride = 1, bool relu = true)
        : base("RepGhostModule")
    {
        long init_channels = oup, new_channels = oup;
        primary_conv = Sequential(
            Conv2d(inp, init_channels, kernel_size, stride, kernel_size / 2, bias: false),
            BatchNorm2d(init_channels),
            TorchRelu.Make(relu));
        fusion_conv = Sequential(Identity());
        fusion_bn = Sequential(BatchNorm2d(init_channels));
        cheap_operation = Sequential(
            Conv2d(init_channels, new_channels, dw_size, 1, dw_size / 2, groups: init_channels, bias: false),
            BatchNorm2d(new_channels));
        this.relu = TorchRelu.Make(relu);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        var x1 = primary_conv.forward(x);
        var x2 = cheap_operation.forward(x1);
        foreach (var (conv, bn) in fusion_conv.children().Zip(fusion_bn.children()))
            x2 = x2 + ((Module<TorchTensor, TorchTensor>)bn).forward(((Module<TorchTensor, TorchTensor>)conv).forward(x1));
        return relu.forward(x2);
    }
}

/// <summary>The piecewise activations of the block mirrors. Plain PyTorch ops by default (the benchmark project links
/// this file); the oracle tests route them through TorchOracle at load, so that a KinkPoints watch sees their corners.</summary>
public static class TorchActivations
{
    public static Func<TorchTensor, TorchTensor> Relu { get; set; } = x => F.relu(x);
    public static Func<TorchTensor, TorchTensor> Relu6 { get; set; } = x => F.relu6(x);
}

/// <summary>nn.ReLU through <see cref="TorchActivations.Relu"/>; like nn.ReLU it has no parameters or buffers, so the
/// state_dict names do not change.</summary>
sealed class TorchRelu : Module<TorchTensor, TorchTensor>
{
    public TorchRelu() : base("ReLU") { }

    public override TorchTensor forward(TorchTensor x) => TorchActivations.Relu(x);

    /// <summary>nn.ReLU() if relu else nn.Sequential(): the reference's placeholder when there is no activation.</summary>
    public static Module<TorchTensor, TorchTensor> Make(bool relu) => relu ? new TorchRelu() : Sequential();
}

/// <summary>The test models' frame: a bias-free 1x1 stem, the named blocks in order, global average pooling and a
/// linear head; children named as the model's fields, so state_dict names match the generated store's.</summary>
public static class TorchFrame
{
    public static Sequential Net(long inChannels, long stemChannels, long headIn, long classes, params (string Name, Module<TorchTensor, TorchTensor> Block)[] blocks)
    {
        var children = new List<(string, Module<TorchTensor, TorchTensor>)> { ("stem", Conv2d(inChannels, stemChannels, 1, bias: false)) };
        children.AddRange(blocks);
        children.Add(("pool", AdaptiveAvgPool2d(1)));
        children.Add(("flatten", Flatten()));
        children.Add(("fc", Linear(headIn, classes)));
        return Sequential(children.ToArray());
    }
}
