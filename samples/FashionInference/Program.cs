// Loads a SmallCnn checkpoint trained by samples/FashionCnn (scripts/train.sh), folds it into its deploy model and
// classifies Fashion-MNIST's test set; prints the first images' logits exactly (float bits in hex) so that a JIT run
// and the NativeAOT executable can be compared bit for bit, then the accuracy and the timings.
// Usage: FashionInference [--checkpoint PATH] [--data DIR] [--show N] [--count N]
using System.Diagnostics;
using System.Globalization;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using FashionCnn;

var inv = CultureInfo.InvariantCulture;
double startupMs = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
string checkpoint = "checkpoints/smallcnn.safetensors";
string? data = null;
int show = 8, count = int.MaxValue;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--checkpoint": checkpoint = Next(); break;
        case "--data": data = Next(); break;
        case "--show": show = int.Parse(Next(), inv); break;
        case "--count": count = int.Parse(Next(), inv); break;
        default:
            Console.Error.WriteLine($"Unknown option '{args[i]}'. Options: --checkpoint PATH --data DIR --show N --count N");
            return 2;
    }
}
if (!File.Exists(checkpoint))
{
    Console.Error.WriteLine($"No checkpoint at {checkpoint}: train one with scripts/train.sh (or pass --checkpoint PATH).");
    return 2;
}

// JitInfo counts methods the JIT compiled in this process: none under NativeAOT. (RuntimeFeature.IsDynamicCodeSupported
// would not tell: PublishAot switches it off for the JIT build too.)
Console.WriteLine(System.Runtime.JitInfo.GetCompiledMethodCount() > 0 ? "runtime: JIT" : "runtime: NativeAOT (no JIT)");
Console.WriteLine($"vectors: 512-bit {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}, 256-bit {System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}, " +
    $"FMA {System.Runtime.Intrinsics.X86.Fma.IsSupported}, Vector<float> {System.Numerics.Vector<float>.Count} lanes");
var clock = Stopwatch.StartNew();
var trained = new SmallCnn();
Safetensors.Load(trained.Parameters, checkpoint);
var model = trained.ToDeploy();
double modelMs = clock.Elapsed.TotalMilliseconds;
clock.Restart();
var test = FashionMnist.LoadTest(data);
if (count < test.Count) test = test.Slice(0, count);
double dataMs = clock.Elapsed.TotalMilliseconds;

var logits = new float[test.Count * model.OutputSize];
clock.Restart();
const int batch = 500;
for (int start = 0; start < test.Count; start += batch)
{
    int n = Math.Min(batch, test.Count - start);
    model.Infer(test.Images.AsSpan(start * model.InputSize, n * model.InputSize), n, logits.AsSpan(start * model.OutputSize, n * model.OutputSize));
}
double inferMs = clock.Elapsed.TotalMilliseconds;

int correct = 0;
for (int i = 0; i < test.Count; i++)
{
    var row = logits.AsSpan(i * model.OutputSize, model.OutputSize);
    int best = 0;
    for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
    if (best == test.Labels[i]) correct++;
    if (i < show)
    {
        var bits = new string[row.Length];
        for (int c = 0; c < row.Length; c++) bits[c] = BitConverter.SingleToInt32Bits(row[c]).ToString("x8", inv);
        Console.WriteLine($"logits {i}: {string.Join(' ', bits)}  label {FashionMnist.ClassNames[test.Labels[i]]}, predicted {FashionMnist.ClassNames[best]}");
    }
}
Console.WriteLine(string.Create(inv, $"test accuracy: {100.0 * correct / test.Count:F2}% ({correct} of {test.Count})"));
Console.WriteLine(string.Create(inv,
    $"timing: process start to Main {startupMs:F0} ms, checkpoint to deploy model {modelMs:F0} ms, test set {dataMs:F0} ms, {test.Count} images {inferMs:F0} ms ({test.Count / inferMs * 1000:F0} images/s)"));
return 0;
