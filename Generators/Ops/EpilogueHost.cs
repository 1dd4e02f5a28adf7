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

    /// <summary>In training, the kernel can take the per-channel sums of a following BatchNorm's batch statistics while
    /// writing its output (Plan: <see cref="Step.Statistics"/>); the BatchNorm then only applies them.</summary>
    public virtual bool TakesBatchStatistics(Node n) => false;

    /// <summary>Leading axes the kernel folds into the batch for input <paramref name="x"/>: a convolution keeps the
    /// trailing (C, H, W); a linear layer keeps only the last axis.</summary>
    protected virtual int Fold(Node x) => x.Leading;

    /// <summary>Adds the steps that compute the weights the kernels read, when they are not the stored parameter (binary
    /// layers binarise their latent weights); returns a value the kernels find in <see cref="Step.Arg"/> (-1: none).</summary>
    protected virtual int PrepareWeights(Lowering cx, Node n) => -1;

    public override void Lower(Lowering cx, Node n)
    {
        int fold = Fold(cx.Node(n.Inputs[0]));
        // With a prologue the kernel reads the BatchNorm's input; act(BatchNorm(x)) has no buffer.
        var prologue = cx.Prologue(n);
        int x = prologue is null ? n.Inputs[0] : prologue.Inputs[0];
        int outId = cx.KernelOut(n);
        var y = cx.Value(outId);
        // A folded kernel writes densely: an output placed inside a larger buffer (a concat part) goes through a dense
        // temporary. (Only values whose own shape hides the fold can be placed: a linear layer's (H, N, F).)
        var target = fold == 1 || cx.IsDense(y, outId) ? y : cx.NewBuffer(cx.Node(outId).Size, "dense " + Storage.Label(cx.Node(outId)));
        int weights = PrepareWeights(cx, n);
        var step = new Step(Forward, n, cx.Input(x, fold), target) { Act = cx.Act(n), Fold = fold, Owner = this, Arg = weights };
        if (prologue is not null)
        {
            step.Prologue = prologue;
            step.PrologueState = cx.StatisticsState(prologue);
            step.PrologueAct = cx.Act(prologue);
        }
        if (cx.Statistics(n) is { } stats)
        {
            step.Statistics = stats;
            step.State = cx.StatisticsState(stats);
        }
        if (cx.FoldedBn(n) is { } bn)
        {
            int st = cx.State(2 * bn.Channels);
            cx.Add(new Step(BatchNormOp.Fold, bn) { State = st, Bn = n });
            step.State = st;
            step.Bn = bn;
        }
        cx.Add(step);
        if (target != y) cx.Add(new Step(Utility.Copy, null, target, y) { Size = cx.Node(outId).Size });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int outId = cx.KernelOut(n);
        var dy = cx.Grad(outId);
        if (f.Fold > 1 && !cx.IsDense(dy, outId))
        {
            // The gradient of a placed output lives in the concat's gradient: the folded kernels read a dense copy.
            var dense = cx.NewBuffer(cx.Node(outId).Size, "dense grad " + Storage.Label(cx.Node(outId)));
            cx.Add(new Step(Utility.Copy, null, dy, dense) { Size = cx.Node(outId).Size });
            dy = dense;
        }
        if (HasBias(n)) cx.Add(new Step(BiasGrad, n, dy) { Fold = f.Fold });
        cx.Add(new Step(BackwardWeights, n, f.Io[0], dy)
        {
            Fold = f.Fold, Arg = f.Arg, Prologue = f.Prologue, PrologueState = f.PrologueState, PrologueAct = f.PrologueAct,
        });
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, f.Fold, dx => new Step(BackwardData, n, dy, dx) { Fold = f.Fold, Arg = f.Arg }, 1);
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

    /// <summary>"channels, positions" of the bias gradient: per folded sample, the output's channels each over its positions
    /// (H * W for a convolution, 1 for a linear layer).</summary>
    static string BiasDims(Step s)
    {
        var n = s.Node!;
        int cout = ((EpilogueHostOp)n.Def).OutChannels(n);
        return $"{cout}, {n.Size / s.Fold / cout}";
    }

    /// <summary>Io: dy. Sums dy over samples and positions into the bias gradient.</summary>
    static readonly Kernel BiasGrad = new("BiasGrad",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.ChannelKernel.BiasGrad({c.N}, {BiasDims(s)}, {c.V(s.Io[0])}, {c.Grad(s.Node!.Layer + ".bias")});"),
        (g, s) => g.Line($"__k.BiasGrad({g.N}, {BiasDims(s)}, {g.V(s.Io[0])}, {g.Grad(s.Node!.Layer + ".bias")});"));
}
