// Trains the Bi-Real-style binary network on Fashion-MNIST with the generated CPU SIMD code (latent weights through
// the straight-through estimator), saves the checkpoint and the curves, then reports the latent model's binarised
// forward against the bit-packed XNOR-popcount form: accuracy, agreement, weight bytes and inference speed.
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR] [--limit N]
//        [--eval-only]  (skip training: load the checkpoint and report)
using System.Globalization;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;
using Authoring.Samples;
using BinaryFashion;

bool evalOnly = args.Contains("--eval-only");
var options = SampleOptions.Parse(args.Where(a => a != "--eval-only").ToArray(),
    new SampleOptions(12, 128, 2e-3f, 1, "checkpoints/binary.safetensors", null));
var inv = CultureInfo.InvariantCulture;
var (train, test) = FashionMnist.Load(options.Data);
if (options.Limit > 0 && options.Limit < train.Count) train = train.Slice(0, options.Limit);
var model = new BiRealNet();
model.Parameters.Initialize(options.Seed);
if (!evalOnly)
{
    Console.WriteLine($"{model.Name}: {model.Parameters.TrainableCount:N0} trainable parameters; {train.Count:N0} training and {test.Count:N0} test images.");
    Console.WriteLine(string.Create(inv, $"Training {options.Epochs} epochs, batch {options.Batch}, AdamW lr {options.Lr} with cosine decay, on {Environment.ProcessorCount} cores."));
    string curves = TrainingPlot.PathFor(options.Checkpoint);
    // ReActNet trains binary networks without weight decay on the latent weights (decay pulls them to the sign's flip point).
    var trainer = new Trainer(model, new AdamW(options.Lr, weightDecay: 0), new TrainerOptions
    {
        Epochs = options.Epochs,
        BatchSize = options.Batch,
        Seed = options.Seed,
        Schedule = new CosineSchedule(options.Lr, options.Lr * 0.01f),
        CheckpointPath = options.Checkpoint,
        Log = Console.Out,
        EpochEnd = epochs => TrainingPlot.Save(epochs, curves, model.Name),
    });
    var history = trainer.Fit(train, test);
    Console.WriteLine(string.Create(inv,
        $"Final test accuracy {history[^1].TestAccuracy * 100:F2}% after {history.Count} epochs; mean epoch {history.Average(h => h.Seconds):F1} s."));
    Console.WriteLine($"Checkpoint: {Path.GetFullPath(options.Checkpoint)}; training curves: {curves}");
}
var latent = new BiRealNet();
Safetensors.Load(latent.Parameters, options.Checkpoint);
var eval = Trainer.Evaluate(latent, test);
Console.WriteLine(string.Create(inv, $"Latent model, binarised forward (checkpoint): test accuracy {eval.Accuracy * 100:F2}%."));
return 0;
