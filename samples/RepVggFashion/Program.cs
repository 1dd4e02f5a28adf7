// Trains the RepVGG-style classifier on Fashion-MNIST, then re-parameterizes it (RepVggNetDeploy: one 3x3
// conv per block) and reports the deploy model's accuracy, agreement and inference speed.
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR]
using Authoring.Samples;
using RepVggFashion;

return SampleRunner.Run<RepVggNet, RepVggNetDeploy>(args, new SampleOptions(10, 128, 3e-3f, 1, "checkpoints/repvgg.safetensors", null), m => m.ToDeploy());
