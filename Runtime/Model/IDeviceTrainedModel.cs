// A model whose parameters live on a device between calls (the generated ILGPU backend): the host store is
// brought up to date when read, and the optimizer may run on the device inside TrainStep, in which case a
// trainer must not step it on the host (Trainer checks DeviceOptimizer against the optimizer it was given).
using Authoring.Runtime.Optim;

namespace Authoring.Runtime;

/// <summary>An <see cref="IModel"/> that keeps its parameters on a device and may run its optimizer there.</summary>
public interface IDeviceTrainedModel : IModel
{
    /// <summary>The optimizer TrainStep runs on the device after the backward pass; null when a host optimizer steps
    /// <see cref="IModel.Parameters"/> (the gradients are then copied back when the host reads them).</summary>
    IOptimizer? DeviceOptimizer { get; }

    /// <summary>Copies newer device values and gradients into <see cref="IModel.Parameters"/> now (reading the store does
    /// it too; this makes the moment explicit, e.g. before handing the store to another thread).</summary>
    void SyncToHost();
}
