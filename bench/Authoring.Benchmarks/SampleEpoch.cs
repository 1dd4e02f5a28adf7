// A sample's training step against the same network in TorchSharp (its "twin", one ISampleTwin class per sample in
// Twins/), timed in the same process. Both sides train on the same Fashion-MNIST batches with the sample's optimizer
// (SampleRunner: AdamW, weight decay 5e-4; the cosine schedule's per-epoch lr change costs nothing and is left out):
// forward, cross-entropy, backward, optimizer step. Steps run interleaved, round after round, so load from other jobs
// falls on both alike; the epoch time is the median step time times the steps of one epoch (60,000 images), evaluation
// not included.
//
// Before timing, a parity check shows the twin is the same network: our initial parameters are written with our
// Safetensors.Save and read by TorchSharp.PyBridge into the twin (state_dict names); every tensor must then be
// bit-identical, the eval-mode logits must agree, and after one training step on the same batch every BatchNorm running
// statistic (which only a train-mode forward through every layer produces) and, for twins without dropout, the loss
// must agree. Dropout masks cannot agree (ours come from a counter-based generator, torch's from its own RNG), so for
// the samples with dropout the first losses are printed, not compared; the running statistics lie before the dropout.
//
//   Authoring.Benchmarks --sample-epoch [NAME[,NAME...]|all [ROUNDS [STEPS]]]     (bench/run.sh --sample-epoch ...)
using System.Diagnostics;
using System.Globalization;
using Authoring.Runtime;
using Authoring.Runtime.Data;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch.nn;
using OurSafetensors = Authoring.Runtime.Checkpoints.Safetensors;
using TorchModule = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;

namespace Authoring.Benchmarks;

/// <summary>A sample's model and its TorchSharp twin; a class implementing this is found by <see cref="SampleEpoch"/>
/// by reflection, so adding a sample to the harness is adding a file.</summary>
public interface ISampleTwin
{
    /// <summary>The name on the command line (lower case, e.g. "smallcnn").</summary>
    string Name { get; }
    /// <summary>Our generated model, uninitialised.</summary>
    IModel CreateOurs();
    /// <summary>The same network in TorchSharp, children named as our fields so state_dict names match ours.</summary>
    TorchModule CreateTorch();
    /// <summary>Whether the network has dropout (then the first losses cannot be compared, see the file header).</summary>
    bool HasDropout { get; }
    /// <summary>The sample's batch size.</summary>
    int Batch => 128;
    /// <summary>The sample's AdamW learning rate.</summary>
    float Lr => 3e-3f;
    /// <summary>The sample's AdamW weight decay.</summary>
    double WeightDecay => 5e-4;
}

/// <summary>Parity check, then interleaved timing of each sample's training step, ours against its twin's.</summary>
public static class SampleEpoch
{
    const int TrainImages = 60_000;
    // Float32 through a dozen layers and one batch's statistics; the block parity tests use the same bound (25x the
    // worst round-off seen there). Scaled by the largest magnitude of the expected tensor, as ModelParityTests does.
    const double Tol = 1e-4;

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The twins in this assembly, by name.</summary>
    public static IReadOnlyList<ISampleTwin> Twins() =>
        typeof(ISampleTwin).Assembly.GetTypes()
            .Where(t => typeof(ISampleTwin).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (ISampleTwin)Activator.CreateInstance(t)!)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary><paramref name="args"/>: [NAME[,NAME...]|all [ROUNDS (default 5) [STEPS per round and side (default 10)]]].</summary>
    public static int Run(string[] args)
    {
        var twins = Twins();
        string which = args.Length > 0 ? args[0] : "all";
        int rounds = args.Length > 1 ? int.Parse(args[1], Inv) : 5;
        int steps = args.Length > 2 ? int.Parse(args[2], Inv) : 10;
        var names = which.Split(',');
        var chosen = which == "all" ? twins : twins.Where(t => names.Contains(t.Name)).ToList();
        if (chosen.Count != (which == "all" ? twins.Count : names.Length))
        {
            Console.Error.WriteLine($"error: no sample twin '{which}'; known: all, {string.Join(", ", twins.Select(t => t.Name))}");
            return 2;
        }
        torch.set_num_threads(2);
        var train = FashionMnist.Load().Train;
        var rows = new List<string>();
        int status = 0;
        foreach (var twin in chosen)
        {
            string? row = RunOne(twin, train, rounds, steps);
            if (row is null) status = 1;
            else rows.Add(row);
        }
        Console.WriteLine();
        Console.WriteLine("| sample | batch | ours ms/step (median, best) | TorchSharp ms/step (median, best) | ours epoch s | TorchSharp epoch s | ours / TorchSharp (median) | (best) | load average before, after |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in rows) Console.WriteLine(r);
        return status;
    }

    /// <summary>Parity check and timing of one twin; the table row, or null when the parity check failed.</summary>
    static string? RunOne(ISampleTwin twin, LabeledImages train, int rounds, int steps)
    {
        int batch = twin.Batch;
        var ours = twin.CreateOurs();
        ours.Parameters.Initialize(1);
        torch.random.manual_seed(1);
        using var net = twin.CreateTorch();
        long torchCount = net.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        Console.WriteLine($"== {twin.Name} ({ours.Name}): {ours.Parameters.TrainableCount:N0} trainable parameters ours, {torchCount:N0} TorchSharp; " +
                          $"batch {batch}, AdamW({twin.Lr.ToString(Inv)}, weight decay {twin.WeightDecay.ToString(Inv)}); {rounds} rounds of {steps} steps per side");
        if (torchCount != ours.Parameters.TrainableCount)
        {
            Console.Error.WriteLine($"error: {twin.Name}: the TorchSharp twin is not the same network (parameter counts differ).");
            return null;
        }

        int size = ours.InputSize;
        var x = new float[batch * size];
        var labels = new int[batch];
        var longLabels = new long[batch];
        int cursor = 0;
        void NextBatch()
        {
            if (cursor + batch > train.Count) cursor = 0;
            Array.Copy(train.Images, (long)cursor * train.SampleSize, x, 0, x.Length);
            Array.Copy(train.Labels, cursor, labels, 0, batch);
            for (int i = 0; i < batch; i++) longLabels[i] = labels[i];
            cursor += batch;
        }

        NextBatch();
        string? mismatch = Parity(twin, ours, net, x, labels, batch);
        if (mismatch is not null)
        {
            Console.Error.WriteLine($"error: {twin.Name}: the TorchSharp twin is not the same network: {mismatch}");
            return null;
        }

        var ourOpt = new Authoring.Runtime.Optim.AdamW(twin.Lr, weightDecay: twin.WeightDecay);
        net.train();
        var torchOpt = torch.optim.AdamW(net.parameters(), lr: twin.Lr, weight_decay: twin.WeightDecay);
        var shape = new long[] { batch }.Concat(ours.InputShape.Select(d => (long)d)).ToArray();
        float lastOurs = 0, lastTorch = 0;
        void OurStep()
        {
            NextBatch();
            lastOurs = ours.TrainStep(x, labels, batch).Loss;
            ourOpt.Step(ours.Parameters);
        }
        void TorchStep()
        {
            NextBatch();
            using var scope = torch.NewDisposeScope();
            using var tx = torch.tensor(x, shape);
            using var ty = torch.tensor(longLabels, new long[] { batch });
            torchOpt.zero_grad();
            var loss = functional.cross_entropy(net.call(tx), ty);
            loss.backward();
            torchOpt.step();
            lastTorch = loss.item<float>();
        }

        for (int w = 0; w < 3; w++) { OurStep(); TorchStep(); }   // JIT tiers, arenas, libtorch's allocator
        string loadBefore = LoadAverage();
        var oursMs = new List<double>();
        var torchMs = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            // Alternate which side goes first, so neither always follows the other's cache state.
            if (r % 2 == 0) { oursMs.Add(Time(OurStep, steps)); torchMs.Add(Time(TorchStep, steps)); }
            else { torchMs.Add(Time(TorchStep, steps)); oursMs.Add(Time(OurStep, steps)); }
        }
        double a = Median(oursMs), b = Median(torchMs);
        double stepsPerEpoch = Math.Ceiling((double)TrainImages / batch);
        Console.WriteLine($"load average before: {loadBefore}; after: {LoadAverage()}; last losses: ours {lastOurs.ToString("F3", Inv)}, TorchSharp {lastTorch.ToString("F3", Inv)}");
        Console.WriteLine(string.Create(Inv, $"ours {a:F1} ms/step (best {oursMs.Min():F1}), TorchSharp {b:F1} (best {torchMs.Min():F1}): ours / TorchSharp {a / b:F2} (median), {oursMs.Min() / torchMs.Min():F2} (best)"));
        return string.Create(Inv,
            $"| {twin.Name} | {batch} | {a:F1}, {oursMs.Min():F1} | {b:F1}, {torchMs.Min():F1} | {a * stepsPerEpoch / 1000:F1} | {b * stepsPerEpoch / 1000:F1} | {a / b:F2} | {oursMs.Min() / torchMs.Min():F2} | {Short(loadBefore)}, {Short(LoadAverage())} |");
    }

    /// <summary>The parity check of the file header on one batch (<paramref name="ours"/> freshly initialised, the twin as
    /// created); null when it holds, else what differs. Takes one training step on each side.</summary>
    public static string? Parity(ISampleTwin twin, IModel ours, TorchModule net, float[] x, int[] labels, int batch)
    {
        var longLabels = labels.Select(l => (long)l).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"authoring-twin-{Environment.ProcessId}-{twin.Name}.safetensors");
        try
        {
            OurSafetensors.Save(ours.Parameters, path);
            // Not strict: our file has no num_batches_tracked counters (we keep none); every tensor we do have is
            // compared below, so a name the twin lacks or spells differently is caught there.
            net.load_safetensors(path, strict: false);
        }
        finally
        {
            File.Delete(path);
        }
        var state = net.state_dict();
        foreach (var info in ours.Parameters.Infos)
        {
            if (!state.TryGetValue(info.Name, out var t)) return $"the twin has no tensor '{info.Name}'";
            if (!ours.Parameters.Value(info.Name).SequenceEqual(ToArray(t))) return $"tensor '{info.Name}' differs after loading";
        }

        var shape = new long[] { batch }.Concat(ours.InputShape.Select(d => (long)d)).ToArray();
        using (var scope = torch.NewDisposeScope())
        {
            net.eval();
            var ourLogits = new float[batch * ours.OutputSize];
            ours.Infer(x, batch, ourLogits);
            using var noGrad = torch.no_grad();
            var logits = ToArray(net.call(torch.tensor(x, shape)));
            if (Mismatch(ourLogits, logits) is string m) return "eval logits: " + m;
            Console.WriteLine("parity: every tensor loaded bit-identical; eval logits agree (" + MaxError(ourLogits, logits) + ")");
        }

        using (var scope = torch.NewDisposeScope())
        {
            net.train();
            float ourLoss = ours.TrainStep(x, labels, batch).Loss;
            var loss = functional.cross_entropy(net.call(torch.tensor(x, shape)), torch.tensor(longLabels, new long[] { batch }));
            float torchLoss = loss.item<float>();
            int stats = 0;
            double worst = 0;
            foreach (var info in ours.Parameters.Infos.Where(i => !i.Trainable))
            {
                var expected = ToArray(state[info.Name]);
                if (Mismatch(ours.Parameters.Value(info.Name), expected) is string m) return $"'{info.Name}' after one training step: {m}";
                worst = Math.Max(worst, ScaledError(ours.Parameters.Value(info.Name), expected));
                stats++;
            }
            if (!twin.HasDropout && Math.Abs(ourLoss - torchLoss) > Tol * Math.Max(1, Math.Abs(torchLoss)))
                return string.Create(Inv, $"first training loss {ourLoss:R}, TorchSharp {torchLoss:R}");
            string compared = twin.HasDropout ? "dropout masks differ: not compared" : "agree";
            Console.WriteLine(string.Create(Inv,
                $"parity: after one training step {stats} running statistics agree (worst scaled error {worst:E1}); first loss ours {ourLoss:F5}, TorchSharp {torchLoss:F5} ({compared})"));
        }
        return null;
    }

    static float[] ToArray(torch.Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    static double ScaledError(ReadOnlySpan<float> actual, float[] expected)
    {
        double scale = 1e-3, worst = 0;
        foreach (float e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]) / scale);
        return worst;
    }

    static string MaxError(ReadOnlySpan<float> actual, float[] expected) =>
        string.Create(Inv, $"worst scaled error {ScaledError(actual, expected):E1}");

    static string? Mismatch(ReadOnlySpan<float> actual, float[] expected)
    {
        if (actual.Length != expected.Length) return $"{actual.Length} values, expected {expected.Length}";
        double e = ScaledError(actual, expected);
        return e <= Tol ? null : string.Create(Inv, $"worst scaled error {e:E2} > {Tol:E0}");
    }

    static double Time(Action step, int steps)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) step();
        return sw.Elapsed.TotalMilliseconds / steps;
    }

    static double Median(List<double> l)
    {
        var t = l.OrderBy(v => v).ToArray();
        return t[t.Length / 2];
    }

    /// <summary>The 1/5/15-minute figures of a /proc/loadavg line.</summary>
    static string Short(string load) => string.Join(' ', load.Split(' ').Take(3));

    static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Trim(); }
        catch (IOException) { return "?"; }
    }
}
