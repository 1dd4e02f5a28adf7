// Trains BlockNet (every efficient block of the library in one network) on Fashion-MNIST, prints a few of its
// parameter names, which are the reference PyTorch state_dict names, then deploys it (BlockNetDeploy).
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR]
using Authoring.Samples;
using EfficientBlocks;

Console.WriteLine($"BlockNet's {BlockNet.ParameterInfos.Count} tensors include:");
foreach (var info in BlockNet.ParameterInfos.Where(i => i.Name.StartsWith("ghost.ghost1.", StringComparison.Ordinal)).Take(6))
    Console.WriteLine($"  {info.Name} [{string.Join(", ", info.Shape)}]");
return SampleRunner.Run<BlockNet, BlockNetDeploy>(args, new SampleOptions(1, 128, 3e-3f, 1, "checkpoints/blocknet.safetensors", null), m => m.ToDeploy());
