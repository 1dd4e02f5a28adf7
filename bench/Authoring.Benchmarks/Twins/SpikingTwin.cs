// SpikingFashion's SpikingCnn against TorchSpikingCnn (SpikingEpoch.cs) for SampleEpoch.
using Authoring.Runtime;
using SpikingFashion;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>The SpikingFashion sample (batch 128, AdamW 3e-3, weight decay 5e-4).</summary>
public sealed class SpikingTwin : ISampleTwin
{
    public string Name => "spiking";
    public IModel CreateOurs() => new SpikingCnn();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchSpikingCnn();
    public bool HasDropout => false;
}
