// Trains the Bi-Real-style binary network on Fashion-MNIST with the generated CPU SIMD code (latent weights through
// the straight-through estimator), saves the checkpoint and the curves, then reports the latent model's binarised
// forward against its generated deploy model (ToDeploy: bit-packed XNOR-popcount layers): accuracy, agreement, the
// deploy checkpoint with bits, weight bytes and inference speed; then the same deploy model on ILGPU (CUDA when there is
// a GPU, ILGPU's CPU accelerator otherwise, or as AUTHORING_ACCELERATOR says) against the latent model.
// Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N] [--checkpoint PATH] [--data DIR] [--limit N]
//        [--eval-only]  (skip training: load the checkpoint and report)
//        [--device-images N]  (test images run on ILGPU: default all 10,000 on a GPU, 500 on ILGPU's CPU accelerator, which
//                              took 0.7 s per image on the loaded 2-core VM; 0 skips the device)
using System.Globalization;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;
using Authoring.Samples;
using BinaryFashion;

bool evalOnly = args.Contains("--eval-only");
int? deviceImages = null;
int di = Array.IndexOf(args, "--device-images");
if (di >= 0)
{
    if (di + 1 >= args.Length || !int.TryParse(args[di + 1], out int count) || count < 0)
    {
        Console.Error.WriteLine("--device-images takes a count (0 skips the device run).");
        return 2;
    }
    deviceImages = count;
    args = args.Where((_, i) => i != di && i != di + 1).ToArray();
}
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

// The generated deploy model (BiRealNet.ToDeploy: binary convs packed to 1 bit per weight, XNOR-popcount with the scale,
// BatchNorm and Bi-Real shortcut in the epilogue, RSigns as packing thresholds) against the latent model's binarised
// forward (evaluation mode), on the whole test set.
var packed = latent.ToDeploy();
const int batch = 250;
var ours = new float[batch * 10];
var reference = new float[batch * 10];

// Runs `model` over the first `count` test images against the latent model: correct predictions, predictions identical
// to the latent model's, the largest logit difference, the largest latent logit, and the seconds `model` took.
(int Correct, int Same, double MaxDiff, double LogitScale, double Seconds) Compare(IModel model, int count, bool progress = false)
{
    int correct = 0, same = 0;
    double maxDiff = 0, logitScale = 0, seconds = 0;
    for (int start = 0; start < count; start += batch)
    {
        int n = Math.Min(batch, count - start);
        var xs = test.Images.AsSpan(start * 784, n * 784);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        model.Infer(xs, n, ours);
        seconds += clock.Elapsed.TotalSeconds;
        if (progress) Console.WriteLine(string.Create(inv, $"  {start + n:N0} of {count:N0} images, {seconds:F1} s"));
        latent.Infer(xs, n, reference);
        for (int i = 0; i < n; i++)
        {
            int a = ArgMax(ours.AsSpan(i * 10, 10)), b = ArgMax(reference.AsSpan(i * 10, 10));
            if (a == test.Labels[start + i]) correct++;
            if (a == b) same++;
            for (int j = 0; j < 10; j++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(ours[i * 10 + j] - reference[i * 10 + j]));
                logitScale = Math.Max(logitScale, Math.Abs(reference[i * 10 + j]));
            }
        }
    }
    return (correct, same, maxDiff, logitScale, seconds);
}

var cpu = Compare(packed, test.Count);
Console.WriteLine(string.Create(inv,
    $"Generated deploy model {packed.Name} (XNOR-popcount, {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : "AVX2")}): test accuracy {cpu.Correct * 100.0 / test.Count:F2}%; {cpu.Same:N0} of {test.Count:N0} predictions identical to the latent model's; largest logit difference {cpu.MaxDiff:G3} (logit scale {cpu.LogitScale:G3})."));

// The same deploy model on ILGPU (GpuKernels.Binary*: one thread per output element, or per 64-channel word when it packs).
if (deviceImages != 0)
{
    using var device = new Authoring.Gpu.GpuDevice();
    bool simulated = device.Accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.CPU;
    int count = Math.Min(deviceImages ?? (simulated ? 500 : test.Count), test.Count);
    using var onDevice = new BiRealNetDeploy.Gpu(device, packed.Parameters);
    var dev = Compare(onDevice, count, progress: true);
    Console.WriteLine(string.Create(inv,
        $"Deploy model on ILGPU ({device.Description}), {(count < test.Count ? $"the first {count:N0} of {test.Count:N0}" : $"all {count:N0}")} test images: accuracy {dev.Correct * 100.0 / count:F2}%; {dev.Same:N0} of {count:N0} predictions identical to the latent model's; largest logit difference {dev.MaxDiff:G3} (logit scale {dev.LogitScale:G3}); {count / dev.Seconds:F1} images/s at batch {batch} ({dev.Seconds:F1} s)."));
}

// The deploy checkpoint: binary weights stored as U64 bits; loaded back, it must give the very same logits.
string deployPath = Path.ChangeExtension(options.Checkpoint, null) + "-deploy.safetensors";
packed.Save(deployPath);
var reloaded = new BiRealNetDeploy();
reloaded.Load(deployPath);
var again = new float[batch * 10];
bool identical = true;
for (int start = 0; start < test.Count && identical; start += batch)
{
    int n = Math.Min(batch, test.Count - start);
    var xs = test.Images.AsSpan(start * 784, n * 784);
    packed.Infer(xs, n, ours);
    reloaded.Infer(xs, n, again);
    identical = ours.AsSpan(0, n * 10).SequenceEqual(again.AsSpan(0, n * 10));
}
Console.WriteLine(string.Create(inv,
    $"Checkpoints on disk: float {new FileInfo(options.Checkpoint).Length / 1024.0:F1} KiB, deploy (binary weights as U64 bits) {new FileInfo(deployPath).Length / 1024.0:F1} KiB ({deployPath}); reloaded deploy model's logits {(identical ? "identical" : "DIFFERENT")} on the test set."));
if (!identical) return 1;

long floatBytes = 4L * latent.Parameters.Infos.Sum(i => (long)i.Length);
long packedBytes = 4L * packed.Parameters.Infos.Sum(i => (long)i.Length) + packed.Parameters.Bits!.Bytes;
long binaryFloat = 4L * latent.Parameters.Infos.Where(i => i.Name is "c1.weight" or "c2.weight" or "c3.weight").Sum(i => (long)i.Length);
long binaryBits = packed.Parameters.Bits.Bytes;
Console.WriteLine(string.Create(inv,
    $"Model size: float {floatBytes / 1024.0:F1} KiB (all tensors, fp32), packed {packedBytes / 1024.0:F1} KiB; binary conv weights {binaryFloat / 1024.0:F1} KiB fp32 -> {binaryBits / 1024.0:F1} KiB packed ({(double)binaryFloat / binaryBits:F0}x). The real first and last layers stay fp32."));
foreach (int b in new[] { 1, 64 })
{
    double a = Deployment.ImagesPerSecond(latent, test, b);
    double p = Deployment.ImagesPerSecond(packed, test, b);
    Console.WriteLine(string.Create(inv, $"Inference at batch {b}: latent fp32 model {a:F0} images/s, packed deploy model {p:F0} images/s ({p / a:F2}x)."));
}
return 0;

static int ArgMax(ReadOnlySpan<float> v)
{
    int best = 0;
    for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
    return best;
}
