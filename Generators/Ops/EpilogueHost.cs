// What convolutions and linear layers share: a kernel whose epilogue applies act(scale * acc + shift), so in
// evaluation a following BatchNorm (folded into per-channel scale/shift by a BnFold step) and activation cost
// nothing; without a BatchNorm the shift is the bias. Backward: bias, weight and data gradients.
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal abstract class EpilogueHostOp : OpDef
{
    public override OpTraits Traits => OpTraits.EpilogueHost | OpTraits.Parameters;

    protected abstract Kernel Forward { get; }
    protected abstract Kernel BackwardData { get; }
    protected abstract Kernel BackwardWeights { get; }

    /// <summary>Output channels (features) of the node.</summary>
    public abstract int OutChannels(Node n);

    public abstract bool HasBias(Node n);

    public override void Lower(Lowering cx, Node n)
    {
        int fold = cx.Node(n.Inputs[0]).Leading;
        var step = new Step(Forward, n, cx.Input(n.Inputs[0], fold), cx.Value(cx.KernelOut(n))) { Act = cx.Act(n), Fold = fold, Owner = this };
        if (cx.FoldedBn(n) is { } bn)
        {
            int st = cx.State(2 * bn.Channels);
            cx.Add(new Step(BatchNormOp.Fold, bn) { State = st, Bn = n });
            step.State = st;
            step.Bn = bn;
        }
        cx.Add(step);
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        var dy = cx.Grad(cx.KernelOut(n));
        if (HasBias(n)) cx.Add(new Step(BiasGrad, n, dy) { Fold = f.Fold });
        cx.Add(new Step(BackwardWeights, n, f.Io[0], dy) { Fold = f.Fold });
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, f.Fold, dx => new Step(BackwardData, n, dy, dx) { Fold = f.Fold }, 1);
    }

    /// <summary>The epilogue's (scale, shift) arguments on the CPU: folded BatchNorm state, the bias, or none.</summary>
    protected static string Epilogue(CpuContext c, Step s)
    {
        var n = s.Node!;
        var host = (EpilogueHostOp)n.Def;
        int cout = host.OutChannels(n);
        return s.Bn is not null ? $"S, {s.State}, S, {s.State + cout}"
            : host.HasBias(n) ? $"null, 0, {c.Param(n.Layer + ".bias")}" : "null, 0, null, 0";
    }

    protected static string Epilogue(GpuContext g, Step s)
    {
        var n = s.Node!;
        var host = (EpilogueHostOp)n.Def;
        int cout = host.OutChannels(n);
        return s.Bn is not null ? $"{GpuContext.State(s.State, cout)}, {GpuContext.State(s.State + cout, cout)}"
            : host.HasBias(n) ? $"default, {g.Param(n.Layer + ".bias")}" : "default, default";
    }

    /// <summary>Io: dy. Sums dy over samples and positions into the bias gradient.</summary>
    static readonly Kernel BiasGrad = new("BiasGrad",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.ChannelKernel.BiasGrad({c.N}, {s.Node!.Channels}, {s.Node.Spatial}, {c.V(s.Io[0])}, {c.Grad(s.Node.Layer + ".bias")});"),
        (g, s) => g.Line($"__k.BiasGrad({g.N}, {s.Node!.Channels}, {s.Node.Spatial}, {g.V(s.Io[0])}, {g.Grad(s.Node.Layer + ".bias")});"));
}
