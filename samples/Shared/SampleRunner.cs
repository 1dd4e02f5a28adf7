// The flow every Fashion-MNIST sample shares: train a model with the generated CPU SIMD code, print
// per-epoch figures, save and reload a checkpoint, then fold it into its deploy twin and report the deploy
// model's accuracy, agreement and inference speed. Each sample's Program.cs names its model and defaults.
using System.Globalization;
using Authoring.Gpu;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Samples;

/// <summary>Command-line options of a sample: --epochs N --batch N --lr X --seed N --checkpoint PATH --data DIR --limit N --device cpu|gpu.</summary>
public sealed record SampleOptions(int Epochs, int Batch, float Lr, int Seed, string Checkpoint, string? Data)
{
    /// <summary>Train on the first N training images only (0: all): quick runs and smoke tests.</summary>
    public int Limit { get; init; }

    /// <summary>"cpu" (the generated SIMD code) or "gpu" (the generated ILGPU code, device-resident: parameters and AdamW's
    /// state stay on the device; CUDA when present, else ILGPU's CPU accelerator, which is slow and meant for tiny runs).</summary>
    public string Device { get; init; } = "cpu";

    public static SampleOptions Parse(string[] args, SampleOptions defaults)
    {
        var a = defaults;
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
                "--limit" => a with { Limit = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--device" => a with { Device = Next() switch { "cpu" => "cpu", "gpu" => "gpu", var d => throw new ArgumentException($"--device takes cpu or gpu, not '{d}'.") } },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --epochs N --batch N --lr X --seed N --checkpoint PATH --data DIR --limit N --device cpu|gpu"),
            };
        }
        return a;
    }
}

public static class SampleRunner
{
    /// <summary>Trains <typeparamref name="TModel"/>, checks its checkpoint, deploys it with <paramref name="toDeploy"/> and reports.</summary>
    /// <param name="onDevice">For --device gpu: the model's ILGPU twin on the device, sharing the CPU model's parameters and
    /// running the given optimizer (e.g. <c>(m, d, o) => new SmallCnn.Gpu(d, m.Parameters) { Optimizer = o }</c>).</param>
    public static int Run<TModel, TDeploy>(string[] args, SampleOptions defaults, Func<TModel, TDeploy> toDeploy,
        Func<TModel, GpuDevice, IDeviceOptimizer, IModel>? onDevice = null)
        where TModel : IModel, new() where TDeploy : IModel
    {
        SampleOptions options;
        try
        {
            options = SampleOptions.Parse(args, defaults);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        var inv = CultureInfo.InvariantCulture;
        var (train, test) = FashionMnist.Load(options.Data);
        if (options.Limit > 0 && options.Limit < train.Count) train = train.Slice(0, options.Limit);
        var model = new TModel();
        model.Parameters.Initialize(options.Seed);
        Console.WriteLine($"{model.Name}: {model.Parameters.TrainableCount:N0} trainable parameters; {train.Count:N0} training and {test.Count:N0} test images.");
        Console.WriteLine(string.Create(inv, $"Training {options.Epochs} epochs, batch {options.Batch}, AdamW lr {options.Lr} with cosine decay, on {Environment.ProcessorCount} cores."));

        string curves = TrainingPlot.PathFor(options.Checkpoint);
        var optimizer = new AdamW(options.Lr, weightDecay: 5e-4);
        IModel trained = model;
        IOptimizer trainedBy = optimizer;
        GpuDevice? device = null;
        IDeviceOptimizer? deviceOptimizer = null;
        if (options.Device == "gpu")
        {
            if (onDevice is null)
            {
                Console.Error.WriteLine($"{model.Name}'s sample has no GPU path; run it without --device gpu.");
                return 2;
            }
            device = new GpuDevice();
            deviceOptimizer = new DeviceAdamW(optimizer);
            trained = onDevice(model, device, deviceOptimizer);
            trainedBy = deviceOptimizer;
            Console.WriteLine($"Training on {device.Description}, device-resident (parameters and optimizer state stay on the device; the host copy is refreshed for checkpoints).");
        }
        var trainer = new Trainer(trained, trainedBy, new TrainerOptions
        {
            Epochs = options.Epochs,
            BatchSize = options.Batch,
            Seed = options.Seed,
            Schedule = new CosineSchedule(options.Lr, options.Lr * 0.01f),
            CheckpointPath = options.Checkpoint,
            Log = Console.Out,
            EpochEnd = epochs => DrawCurves(epochs, curves, model.Name),
        });
        var history = trainer.Fit(train, test);
        if (trained is IDisposable onGpu)
        {
            // The CPU model shares the store: disposing the device twin leaves its newest values there.
            onGpu.Dispose();
            deviceOptimizer!.Dispose();
            device!.Dispose();
        }
        var last = history[^1];
        Console.WriteLine(string.Create(inv,
            $"Final test accuracy {last.TestAccuracy * 100:F2}% after {history.Count} epochs; mean epoch {history.Average(h => h.Seconds):F1} s ({history.Average(h => h.ImagesPerSecond):F0} images/s)."));
        Console.WriteLine($"Checkpoint: {Path.GetFullPath(options.Checkpoint)} (safetensors; tensor names as in PyTorch's state_dict).");
        if (File.Exists(curves)) Console.WriteLine($"Training curves: {curves}");

        // The checkpoint must load back into a fresh model and give the same accuracy.
        var reloaded = new TModel();
        Safetensors.Load(reloaded.Parameters, options.Checkpoint);
        var check = Trainer.Evaluate(reloaded, test);
        Console.WriteLine(string.Create(inv, $"Reloaded checkpoint: test accuracy {check.Accuracy * 100:F2}%."));

        var deploy = toDeploy(model);
        var cmp = Deployment.Compare(model, deploy, test);
        Console.WriteLine(string.Create(inv,
            $"Deploy model {deploy.Name}: {deploy.Parameters.TrainableCount:N0} parameters; test accuracy {cmp.DeployAccuracy * 100:F2}% (trained model in evaluation mode {cmp.TrainedAccuracy * 100:F2}%); " +
            $"{cmp.SamePredictions:N0} of {cmp.Count:N0} predictions identical; largest logit difference {cmp.MaxLogitDifference:G3} (logit scale {cmp.LogitScale:G3})."));
        foreach (int batch in new[] { 1, 64 })
        {
            double a = Deployment.ImagesPerSecond(model, test, batch), b = Deployment.ImagesPerSecond(deploy, test, batch);
            Console.WriteLine(string.Create(inv, $"Inference at batch {batch}: trained model {a:F0} images/s, deploy model {b:F0} images/s ({b / a:F2}x)."));
        }
        if (cmp.SamePredictions == cmp.Count) return 0;
        Console.Error.WriteLine($"error: the deploy model changed {cmp.Count - cmp.SamePredictions} test predictions.");
        return 1;
    }

    /// <summary>Redraws the curves after each epoch, so a long run can be watched; a plotting failure (no usable
    /// font or native library on some system) is reported once and never stops the training.</summary>
    static void DrawCurves(IReadOnlyList<EpochStats> epochs, string path, string title)
    {
        if (_plotFailed) return;
        try
        {
            TrainingPlot.Save(epochs, path, title);
        }
        catch (Exception e)
        {
            _plotFailed = true;
            Console.Error.WriteLine($"warning: could not draw the training curves ({e.GetType().Name}: {e.Message}); training goes on.");
        }
    }

    static bool _plotFailed;
}
