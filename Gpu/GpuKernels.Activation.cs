// Launchers of the kernels that are generic over an activation, one set per activation type:
// ILGPU compiles a separate specialised kernel for each TAct, with the functor inlined.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Lazily loaded launchers for one activation; each kernel compiles on its first launch.</summary>
    sealed class ActKernels<TAct>(Accelerator accelerator) where TAct : struct, IActivation
    {
        Action<Index1D, Conv2dShape, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>? _conv;
        Action<Index1D, LinearDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>? _linear;
        Action<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>? _bnApply;
        Action<Index1D, ChannelDims, int, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _bnBackwardPartials;
        Action<Index1D, ChannelDims, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView, int>? _bnBackwardData;
        Action<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, GView>? _affine;

        public Action<Index1D, Conv2dShape, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView> Conv2dForward =>
            _conv ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, Conv2dShape, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>(
                Conv2dForwardKernel<TAct>);

        public Action<Index1D, LinearDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView> LinearForward =>
            _linear ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>(
                LinearForwardKernel<TAct>);

        public Action<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView> BatchNormApply =>
            _bnApply ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>(
                BatchNormApplyKernel<TAct>);

        public Action<Index1D, ChannelDims, int, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> BatchNormBackwardPartials =>
            _bnBackwardPartials ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
                BatchNormBackwardPartialsKernel<TAct>);

        public Action<Index1D, ChannelDims, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView, int> BatchNormBackwardData =>
            _bnBackwardData ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView, int>(
                BatchNormBackwardDataKernel<TAct>);

        public Action<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, GView> Affine =>
            _affine ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, GView>(
                AffineKernel<TAct>);
    }
}
