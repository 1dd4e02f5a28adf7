// The SpikingFashion sample's training step against the same network in TorchSharp, written as SpikingJelly's
// convolutional tutorial runs it (multi-step mode: the static conv + BN once, the input repeated over T, per-step
// layers on [T*N, ...] as SeqToANNContainer does, the LIF layers as a Python-style loop over T). Both sides train on
// the same Fashion-MNIST batches of 128 with AdamW(3e-3, weight decay 5e-4): forward, cross-entropy, backward,
// optimizer step. Steps run interleaved, round after round, so load from other jobs falls on both alike; the epoch
// time is the median step times 469 (60,000 images at batch 128), evaluation not included.
//
//   Authoring.Benchmarks --spiking-epoch [rounds [steps per round]]     (bench/run.sh --spiking-epoch)
using System.Diagnostics;
using System.Globalization;
using Authoring.Oracle.Tests;
using Authoring.Runtime.Cpu.Spiking;
using Authoring.Runtime.Data;
using SpikingFashion;
using TorchSharp;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TMaxPool2d = TorchSharp.Modules.MaxPool2d;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>SpikingCnn (samples/SpikingFashion) in TorchSharp: same layers, same parameter count.</summary>
public sealed class TorchSpikingCnn : Module<TorchTensor, TorchTensor>
{
    const int T = 4, C1 = 32, C2 = 64, Hidden = 128, Classes = 10;
    readonly TConv2d conv1 = Conv2d(1, C1, 3, padding: 1, bias: false);
    readonly TBatchNorm2d bn1 = BatchNorm2d(C1);
    readonly TorchNeuron lif1 = Lif();
    readonly TMaxPool2d pool = MaxPool2d(2);
    readonly TConv2d conv2 = Conv2d(C1, C2, 3, padding: 1, bias: false);
    readonly TBatchNorm2d bn2 = BatchNorm2d(C2);
    readonly TorchNeuron lif2 = Lif();
    readonly TLinear fc = Linear(C2 * 7 * 7, Hidden, hasBias: false);
    readonly TorchNeuron lif3 = Lif();
    readonly TLinear head = Linear(Hidden, Classes);

    /// <summary>LIFNode(tau=2, surrogate ATan(alpha=2), detach_reset=True), as the sample.</summary>
    static TorchNeuron Lif() => new(NeuronDynamics.Lif(detachReset: true), "ATan", 2);

    /// <summary>Registers the layers.</summary>
    public TorchSpikingCnn() : base(nameof(TorchSpikingCnn)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits (the head's mean over T).</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        long n = x.shape[0];
        var y = bn1.call(conv1.call(x));                                              // static: once per image
        var s = lif1.call(y.unsqueeze(0).repeat(T, 1, 1, 1, 1));                      // [T, N, C1, 28, 28]
        var z = bn2.call(conv2.call(pool.call(s.flatten(0, 1))));                     // [T*N, C2, 14, 14]
        s = lif2.call(z.view(T, n, C2, 14, 14));
        var f = fc.call(pool.call(s.flatten(0, 1)).flatten(1));                       // [T*N, Hidden]
        var h = lif3.call(f.view(T, n, Hidden));
        return head.call(h).mean(new long[] { 0 });
    }
}

/// <summary>Interleaved timing of the sample's training step, ours against TorchSharp's (see the file header).</summary>
public static class SpikingEpoch
{
    const int Batch = 128, StepsPerEpoch = 469;

    /// <summary>Runs <paramref name="args"/>[0] rounds (default 5) of <paramref name="args"/>[1] steps per side (default 10).</summary>
    public static int Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        int rounds = args.Length > 0 ? int.Parse(args[0], inv) : 5;
        int steps = args.Length > 1 ? int.Parse(args[1], inv) : 10;
        torch.set_num_threads(2);
        torch.random.manual_seed(1);
        var train = FashionMnist.Load().Train;

        var ours = new SpikingCnn();
        ours.Parameters.Initialize(1);
        var ourOpt = new Authoring.Runtime.Optim.AdamW(3e-3f, weightDecay: 5e-4);
        using var net = new TorchSpikingCnn();
        net.train();
        var torchOpt = torch.optim.AdamW(net.parameters(), lr: 3e-3, weight_decay: 5e-4);
        long torchCount = net.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
        Console.WriteLine($"SpikingCnn: {ours.Parameters.TrainableCount:N0} trainable parameters ours, {torchCount:N0} TorchSharp; batch {Batch}, " +
                          $"{rounds} rounds of {steps} steps per side; load average before: {LoadAverage()}");
        if (torchCount != ours.Parameters.TrainableCount)
        {
            Console.Error.WriteLine("error: the TorchSharp twin is not the same network (parameter counts differ).");
            return 1;
        }

        var x = new float[Batch * train.SampleSize];
        var labels = new int[Batch];
        var longLabels = new long[Batch];
        int cursor = 0;
        void NextBatch()
        {
            if (cursor + Batch > train.Count) cursor = 0;
            Array.Copy(train.Images, (long)cursor * train.SampleSize, x, 0, x.Length);
            Array.Copy(train.Labels, cursor, labels, 0, Batch);
            for (int i = 0; i < Batch; i++) longLabels[i] = labels[i];
            cursor += Batch;
        }
        float lastOurs = 0, lastTorch = 0;
        void OurStep()
        {
            NextBatch();
            lastOurs = ours.TrainStep(x, labels, Batch).Loss;
            ourOpt.Step(ours.Parameters);
        }
        void TorchStep()
        {
            NextBatch();
            using var scope = torch.NewDisposeScope();
            using var tx = torch.tensor(x, new long[] { Batch, 1, 28, 28 });
            using var ty = torch.tensor(longLabels, new long[] { Batch });
            torchOpt.zero_grad();
            var loss = functional.cross_entropy(net.call(tx), ty);
            loss.backward();
            torchOpt.step();
            lastTorch = loss.item<float>();
        }

        for (int w = 0; w < 3; w++) { OurStep(); TorchStep(); }   // JIT tiers, arenas, libtorch's allocator
        var oursMs = new List<double>();
        var torchMs = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            // Alternate which side goes first, so neither always follows the other's cache state.
            if (r % 2 == 0) { oursMs.Add(Time(OurStep, steps)); torchMs.Add(Time(TorchStep, steps)); }
            else { torchMs.Add(Time(TorchStep, steps)); oursMs.Add(Time(OurStep, steps)); }
        }
        double a = Median(oursMs), b = Median(torchMs);
        Console.WriteLine($"load average after: {LoadAverage()}; last losses: ours {lastOurs:F3}, TorchSharp {lastTorch:F3}");
        Console.WriteLine(string.Create(inv, $"{"side",-12} {"ms/step (median)",18} {"best",8} {"epoch s (x469)",16}"));
        Console.WriteLine(string.Create(inv, $"{"ours",-12} {a,18:F1} {oursMs.Min(),8:F1} {a * StepsPerEpoch / 1000,16:F1}"));
        Console.WriteLine(string.Create(inv, $"{"TorchSharp",-12} {b,18:F1} {torchMs.Min(),8:F1} {b * StepsPerEpoch / 1000,16:F1}"));
        Console.WriteLine(string.Create(inv, $"TorchSharp / ours: {b / a:F2}x (median), {torchMs.Min() / oursMs.Min():F2}x (best)"));
        return 0;
    }

    /// <summary>Milliseconds per step over <paramref name="steps"/> steps.</summary>
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

    static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Trim(); }
        catch (IOException) { return "?"; }
    }
}
