// Optimizer updates on the device, so a GPU training loop never moves parameters or gradients to the
// host: one thread per scalar of the whole parameter buffer, a per-scalar flag saying whether it is
// trained and whether weight decay applies (running statistics are skipped). Each update is the
// host optimizer's (Runtime/Optim/Sgd.cs, AdamW.cs) sequence of float operations in the same order,
// with fused multiply-adds exactly where the host's TensorPrimitives calls fuse (its Lerp is
// fma(x, 1 - a, y * a)), so on ILGPU's CPU accelerator the results are bitwise the host's. On CUDA,
// ptxas may contract a separate multiply and add into one fma, and sqrt/division may round
// differently; PyTorch's own CUDA and CPU optimizers differ the same way.
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Flag of a scalar the optimizer leaves alone (BatchNorm running statistics).</summary>
    public const int FrozenScalar = 0;
    /// <summary>Flag of a trained scalar without weight decay.</summary>
    public const int TrainedScalar = 1;
    /// <summary>Flag of a trained scalar with weight decay.</summary>
    public const int DecayedScalar = 2;

    /// <summary>Scalars of SGD's update, rounded to float on the host as PyTorch rounds Python floats.</summary>
    public readonly struct SgdCoefficients
    {
        /// <summary>Creates the coefficients of one step.</summary>
        public SgdCoefficients(float learningRate, float weightDecay, float momentum, float oneMinusDampening, bool nesterov, bool firstStep)
        {
            LearningRate = learningRate;
            WeightDecay = weightDecay;
            Momentum = momentum;
            OneMinusDampening = oneMinusDampening;
            Nesterov = nesterov ? 1 : 0;
            FirstStep = firstStep ? 1 : 0;
        }

        /// <summary>lr.</summary>
        public readonly float LearningRate;
        /// <summary>L2 coefficient added to the gradient (0: none).</summary>
        public readonly float WeightDecay;
        /// <summary>Momentum factor (0: no buffer).</summary>
        public readonly float Momentum;
        /// <summary>1 - dampening.</summary>
        public readonly float OneMinusDampening;
        /// <summary>1 for Nesterov momentum.</summary>
        public readonly int Nesterov;
        /// <summary>1 on the first step: the buffer takes the gradient as it is.</summary>
        public readonly int FirstStep;
    }

    /// <summary>Scalars of AdamW's update (see <c>Authoring.Runtime.Optim.AdamW</c>).</summary>
    public readonly struct AdamWCoefficients
    {
        /// <summary>Creates the coefficients of one step.</summary>
        public AdamWCoefficients(float decay, float stepSize, float bc2Sqrt, float oneMinusBeta1, float beta2, float oneMinusBeta2, float eps, bool decayOn)
        {
            Decay = decay;
            StepSize = stepSize;
            Bc2Sqrt = bc2Sqrt;
            OneMinusBeta1 = oneMinusBeta1;
            Beta2 = beta2;
            OneMinusBeta2 = oneMinusBeta2;
            Eps = eps;
            DecayOn = decayOn ? 1 : 0;
        }

        /// <summary>1 - lr * weight_decay.</summary>
        public readonly float Decay;
        /// <summary>lr / (1 - beta1^t).</summary>
        public readonly float StepSize;
        /// <summary>sqrt(1 - beta2^t).</summary>
        public readonly float Bc2Sqrt;
        /// <summary>1 - beta1 (the lerp weight of the new gradient).</summary>
        public readonly float OneMinusBeta1;
        /// <summary>beta2.</summary>
        public readonly float Beta2;
        /// <summary>1 - beta2.</summary>
        public readonly float OneMinusBeta2;
        /// <summary>eps, added after the bias correction.</summary>
        public readonly float Eps;
        /// <summary>1 when weight decay is on (weight_decay != 0).</summary>
        public readonly int DecayOn;
    }

    /// <summary>One SGD step over every scalar whose flag is not <see cref="FrozenScalar"/>; <paramref name="momentumBuffer"/>
    /// (as long as the values) is read and written only when momentum is nonzero.</summary>
    public void SgdStep(ArrayView<float> values, ArrayView<float> grads, ArrayView<int> flags, ArrayView<float> momentumBuffer, in SgdCoefficients k)
    {
        if (values.Length == 0) return;
        (_sgd ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, SgdCoefficients>(
            SgdKernel))((int)values.Length, values, grads, flags, momentumBuffer, k);
    }

    /// <summary>One AdamW step over every scalar whose flag is not <see cref="FrozenScalar"/>; <paramref name="m"/> and
    /// <paramref name="v"/> are the moment buffers, as long as the values.</summary>
    public void AdamWStep(ArrayView<float> values, ArrayView<float> grads, ArrayView<int> flags, ArrayView<float> m, ArrayView<float> v, in AdamWCoefficients k)
    {
        if (values.Length == 0) return;
        (_adamW ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, AdamWCoefficients>(
            AdamWKernel))((int)values.Length, values, grads, flags, m, v, k);
    }

    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, SgdCoefficients>? _sgd;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, AdamWCoefficients>? _adamW;

    /// <summary>d = g (+ wd p); buf = d on the first step, else mu buf + (1 - dampening) d; d = nesterov ? d + mu buf : buf;
    /// p -= lr d. The host's order: every operation rounded where its TensorPrimitives call rounds.</summary>
    internal static void SgdKernel(Index1D index, ArrayView<float> values, ArrayView<float> grads, ArrayView<int> flags,
        ArrayView<float> buffer, SgdCoefficients k)
    {
        int i = index;
        int flag = flags[i];
        if (flag == FrozenScalar) return;
        float p = values[i];
        float d = grads[i];
        if (flag == DecayedScalar && k.WeightDecay != 0f) d = MathF.FusedMultiplyAdd(p, k.WeightDecay, d);
        if (k.Momentum != 0f)
        {
            float b;
            if (k.FirstStep != 0) b = d;
            else
            {
                b = buffer[i] * k.Momentum;
                b = MathF.FusedMultiplyAdd(d, k.OneMinusDampening, b);
            }
            buffer[i] = b;
            d = k.Nesterov != 0 ? MathF.FusedMultiplyAdd(b, k.Momentum, d) : b;
        }
        values[i] = MathF.FusedMultiplyAdd(d, -k.LearningRate, p);
    }

    /// <summary>p *= 1 - lr wd; m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2;
    /// p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), in the host's order of float operations.</summary>
    internal static void AdamWKernel(Index1D index, ArrayView<float> values, ArrayView<float> grads, ArrayView<int> flags,
        ArrayView<float> m, ArrayView<float> v, AdamWCoefficients k)
    {
        int i = index;
        int flag = flags[i];
        if (flag == FrozenScalar) return;
        float p = values[i];
        float g = grads[i];
        if (flag == DecayedScalar && k.DecayOn != 0) p *= k.Decay;
        float mi = MathF.FusedMultiplyAdd(m[i], 1f - k.OneMinusBeta1, g * k.OneMinusBeta1);
        float vi = v[i] * k.Beta2;
        vi = MathF.FusedMultiplyAdd(g * g, k.OneMinusBeta2, vi);
        m[i] = mi;
        v[i] = vi;
        float denom = MathF.Sqrt(vi) / k.Bc2Sqrt + k.Eps;
        values[i] = MathF.FusedMultiplyAdd(mi / denom, -k.StepSize, p);
    }
}
