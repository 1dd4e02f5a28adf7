// Trains BlockNet on Fashion-MNIST with the generated CPU SIMD code and prints a few of its parameter names,
// which are the reference PyTorch state_dict names. Usage: dotnet run -c Release -- [--epochs N] [--data DIR]
using System.Globalization;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;
using EfficientBlocks;

int epochs = 1;
string? data = null;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--data": data = Next(); break;
        default: throw new ArgumentException($"Unknown option '{args[i]}'. Options: --epochs N --data DIR");
    }
}

var model = new BlockNet();
model.Parameters.Initialize(seed: 1);
Console.WriteLine($"BlockNet: {model.Parameters.TrainableCount:N0} trainable parameters in {model.Parameters.Infos.Count} tensors, e.g.");
foreach (var info in model.Parameters.Infos.Where(i => i.Name.StartsWith("ghost.ghost1.", StringComparison.Ordinal)).Take(6))
    Console.WriteLine($"  {info.Name} [{string.Join(", ", info.Shape)}]");

var (train, test) = FashionMnist.Load(data);
var trainer = new Trainer(model, new AdamW(3e-3f), new TrainerOptions { Epochs = epochs, BatchSize = 128, Seed = 1, Log = Console.Out });
var last = trainer.Fit(train, test)[^1];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Test accuracy {last.TestAccuracy * 100:F2}% after {epochs} epoch(s)."));
