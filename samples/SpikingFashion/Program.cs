// Trains the convolutional spiking network on Fashion-MNIST with the generated CPU SIMD code: per-epoch accuracy,
// firing rate of every LIF layer and epoch time, a safetensors checkpoint and the curves PNG; then folds the
// BatchNorms (SpikingCnnDeploy) and reports the deploy model.
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR]
using Authoring.Samples;
using SpikingFashion;

return SampleRunner.Run<SpikingCnn, SpikingCnnDeploy>(args, new SampleOptions(8, 128, 3e-3f, 1, "checkpoints/spikingcnn.safetensors", null), m => m.ToDeploy());
