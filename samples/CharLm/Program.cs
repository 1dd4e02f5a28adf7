// Trains the character-level linear-attention language model on Debian's fortunes: each step draws random windows
// of Context + 1 characters from the training text (inputs and next-character labels), AdamW with cosine decay.
// After each epoch it reports validation bits per character over every non-overlapping window of the validation
// text (each position predicts the next character from the window's earlier ones), against the unigram and bigram
// baselines; then it saves a checkpoint and the curves and prints a sampled text.
// Usage: dotnet run -c Release -- [--epochs N] [--steps N (per epoch)] [--batch N] [--lr X] [--seed N] [--checkpoint PATH]
using System.Diagnostics;
using System.Globalization;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;
using Authoring.Samples;
using CharLm;

var inv = CultureInfo.InvariantCulture;
int epochs = 8, steps = 250, batch = 32, seed = 1;
float lr = 2e-3f;
string checkpoint = "checkpoints/charlm.safetensors";
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--epochs": epochs = int.Parse(Next(), inv); break;
        case "--steps": steps = int.Parse(Next(), inv); break;
        case "--batch": batch = int.Parse(Next(), inv); break;
        case "--lr": lr = float.Parse(Next(), inv); break;
        case "--seed": seed = int.Parse(Next(), inv); break;
        case "--checkpoint": checkpoint = Next(); break;
        default:
            Console.Error.WriteLine($"Unknown option '{args[i]}'. Options: --epochs N --steps N --batch N --lr X --seed N --checkpoint PATH");
            return 2;
    }
}

const int N = CharModel.Context, V = CharModel.Vocabulary;
var corpus = Corpus.Load(Corpus.Directory, V);
var (uniBpc, biBpc) = corpus.BaselineBitsPerChar(V);
Console.WriteLine(string.Create(inv, $"Fortunes: {corpus.FortunesTrain:N0} training fortunes ({corpus.Train.Length:N0} chars), {corpus.FortunesValidation:N0} validation fortunes ({corpus.Validation.Length:N0} chars); vocabulary {V} (id 0: other)."));
Console.WriteLine(string.Create(inv, $"Baselines on validation: unigram {uniBpc:F3} bits/char, bigram (add-0.1) {biBpc:F3} bits/char."));

var model = new CharModel();
model.Parameters.Initialize(seed);
var optimizer = new AdamW(lr, weightDecay: 0.01);
var schedule = new CosineSchedule(lr, lr * 0.05f);
Console.WriteLine(string.Create(inv, $"{model.Name}: {model.Parameters.TrainableCount:N0} trainable parameters; context {N}; {epochs} epochs of {steps} steps of {batch} windows; AdamW lr {lr} cosine; {Environment.ProcessorCount} cores."));

var rng = new Random(seed);
var tokens = new int[batch * N];
var labels = new int[batch * N];
var history = new List<EpochStats>();
string curves = TrainingPlot.PathFor(checkpoint);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(checkpoint))!);
for (int epoch = 0; epoch < epochs; epoch++)
{
    var clock = Stopwatch.StartNew();
    double lossSum = 0;
    long correct = 0, total = 0;
    for (int step = 0; step < steps; step++)
    {
        optimizer.LearningRate = schedule.LearningRate(epoch, step, epochs, steps);
        for (int b = 0; b < batch; b++)
        {
            int start = rng.Next(corpus.Train.Length - N - 1);
            Array.Copy(corpus.Train, start, tokens, b * N, N);
            Array.Copy(corpus.Train, start + 1, labels, b * N, N);
        }
        var r = model.TrainStep(tokens, labels, batch);
        if (!float.IsFinite(r.Loss)) throw new InvalidOperationException($"loss {r.Loss} at epoch {epoch + 1} step {step + 1}");
        optimizer.Step(model.Parameters);
        lossSum += r.Loss;
        correct += r.Correct;
        total += r.Total;
    }
    double seconds = clock.Elapsed.TotalSeconds;
    var (valNats, valAcc) = Evaluate(model, corpus.Validation);
    double trainNats = lossSum / steps;
    history.Add(new EpochStats(epoch + 1, trainNats, total == 0 ? 0 : (double)correct / total, valNats, valAcc, optimizer.LearningRate, (double)steps * batch * N / seconds, seconds));
    Console.WriteLine(string.Create(inv,
        $"epoch {epoch + 1,2}/{epochs}  train {trainNats / Math.Log(2):F3} bits/char  validation {valNats / Math.Log(2):F3} bits/char (bigram {biBpc:F3})  next-char accuracy {valAcc * 100:F1}%  {(double)steps * batch * N / seconds:F0} chars/s  {seconds:F0} s"));
    Safetensors.Save(model.Parameters, checkpoint);
    try { TrainingPlot.Save(history, curves, "CharLm (loss in nats/char)"); }
    catch (Exception e) { Console.Error.WriteLine($"warning: could not draw the curves ({e.Message})."); }
}
double final = history[^1].TestLoss / Math.Log(2);
Console.WriteLine(string.Create(inv, $"Final validation {final:F3} bits/char vs bigram {biBpc:F3} and unigram {uniBpc:F3} ({(final < biBpc ? "below" : "NOT below")} the bigram baseline)."));
Console.WriteLine($"Checkpoint: {Path.GetFullPath(checkpoint)}; curves: {curves}");

// A sample: temperature 0.8, from the start of a fortune; the context slides once it is full.
var text = new List<int> { corpus.Chars.AsSpan().IndexOf('%'), corpus.Chars.AsSpan().IndexOf('\n') };
var window = new int[N];
var logits = new float[N * V];
var sampler = new Random(seed + 7);
for (int t = 0; t < 600; t++)
{
    int len = Math.Min(text.Count, N);
    text.CopyTo(text.Count - len, window, 0, len);
    model.Infer(window, 1, logits);
    int pos = len - 1;
    double max = double.NegativeInfinity;
    for (int c = 0; c < V; c++) max = Math.Max(max, logits[pos * V + c]);
    var p = new double[V];
    double sum = 0;
    for (int c = 1; c < V; c++) sum += p[c] = Math.Exp((logits[pos * V + c] - max) / 0.8);   // never "other"
    double u = sampler.NextDouble() * sum;
    int next = V - 1;
    for (int c = 1; c < V; c++) { u -= p[c]; if (u <= 0) { next = c; break; } }
    text.Add(next);
}
Console.WriteLine("Sample (temperature 0.8):");
Console.WriteLine(corpus.Decode(text.Skip(2)));
return 0;

// Mean cross-entropy (nats per character) and next-character accuracy over every full non-overlapping window
// of Context + 1 characters of the text, computed in double from the model's logits.
static (double Nats, double Accuracy) Evaluate(CharModel model, int[] text)
{
    const int N = CharModel.Context, V = CharModel.Vocabulary, Batch = 64;
    int windows = (text.Length - 1) / N;
    var ids = new int[Batch * N];
    var logits = new float[Batch * N * V];
    double nats = 0;
    long hits = 0, count = 0;
    for (int w0 = 0; w0 < windows; w0 += Batch)
    {
        int n = Math.Min(Batch, windows - w0);
        Array.Copy(text, w0 * N, ids, 0, n * N);
        model.Infer(ids.AsSpan(0, n * N), n, logits);
        for (int r = 0; r < n * N; r++)
        {
            int target = text[w0 * N + r + 1];
            var row = logits.AsSpan(r * V, V);
            double max = double.NegativeInfinity;
            int arg = 0;
            for (int c = 0; c < V; c++) if (row[c] > max) { max = row[c]; arg = c; }
            double z = 0;
            for (int c = 0; c < V; c++) z += Math.Exp(row[c] - max);
            nats += Math.Log(z) + max - row[target];
            if (arg == target) hits++;
            count++;
        }
    }
    return (nats / count, (double)hits / count);
}
