// Trains the sample CNN on Fashion-MNIST with the generated CPU SIMD code, prints per-epoch figures,
// and saves a safetensors checkpoint. Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X]
//   [--seed N] [--checkpoint PATH] [--data DIR]
using System.Globalization;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;
using FashionCnn;

var options = Args.Parse(args);
var (train, test) = FashionMnist.Load(options.Data);
var model = new SmallCnn();
model.Parameters.Initialize(options.Seed);
Console.WriteLine($"SmallCnn: {model.Parameters.TrainableCount:N0} trainable parameters; {train.Count:N0} training and {test.Count:N0} test images.");
Console.WriteLine($"Training {options.Epochs} epochs, batch {options.Batch}, AdamW lr {options.Lr} with cosine decay, on {Environment.ProcessorCount} cores.");

var optimizer = new AdamW(options.Lr, weightDecay: 5e-4);
var trainer = new Trainer(model, optimizer, new TrainerOptions
{
    Epochs = options.Epochs,
    BatchSize = options.Batch,
    Seed = options.Seed,
    Schedule = new CosineSchedule(options.Lr, options.Lr * 0.01f),
    CheckpointPath = options.Checkpoint,
    Log = Console.Out,
});
var history = trainer.Fit(train, test);
var last = history[^1];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Final test accuracy {last.TestAccuracy * 100:F2}% after {history.Count} epochs; mean epoch {history.Average(h => h.Seconds):F1} s ({history.Average(h => h.ImagesPerSecond):F0} images/s)."));
Console.WriteLine($"Checkpoint: {Path.GetFullPath(options.Checkpoint)} (safetensors; tensor names as in PyTorch's state_dict).");

// Check the checkpoint loads back into a fresh model and gives the same accuracy.
var reloaded = new SmallCnn();
Safetensors.Load(reloaded.Parameters, options.Checkpoint);
var check = Trainer.Evaluate(reloaded, test);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Reloaded checkpoint: test accuracy {check.Accuracy * 100:F2}%."));

sealed record Args(int Epochs, int Batch, float Lr, int Seed, string Checkpoint, string? Data)
{
    public static Args Parse(string[] args)
    {
        var a = new Args(8, 128, 3e-3f, 1, "checkpoints/smallcnn.safetensors", null);
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            a = args[i] switch
            {
                "--epochs" => a with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--batch" => a with { Batch = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--lr" => a with { Lr = float.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => a with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--checkpoint" => a with { Checkpoint = Next() },
                "--data" => a with { Data = Next() },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --epochs N --batch N --lr X --seed N --checkpoint PATH --data DIR"),
            };
        }
        return a;
    }
}
