// Trains the linear-attention vision transformer on Fashion-MNIST, then folds the stem's BatchNorms (VitNetDeploy)
// and reports the deploy model's accuracy, agreement and inference speed.
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR] [--limit N]
using Authoring.Samples;
using VitFashion;

return SampleRunner.Run<VitNet, VitNetDeploy>(args, new SampleOptions(12, 128, 2e-3f, 1, "checkpoints/vit.safetensors", null), m => m.ToDeploy());
