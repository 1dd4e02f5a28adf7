// Trains the GhostNet-style classifier on Fashion-MNIST, then folds its BatchNorms (GhostNetDeploy) and
// reports the deploy model's accuracy, agreement and inference speed.
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR]
using Authoring.Samples;
using GhostNetFashion;

return SampleRunner.Run<GhostNet, GhostNetDeploy>(args, new SampleOptions(10, 128, 3e-3f, 1, "checkpoints/ghostnet.safetensors", null), m => m.ToDeploy());
