// Spiking models end to end (Models/SpikingModels.cs): our float32 CPU code against the double-precision reference
// interpreter: spikes and outputs in evaluation and training mode, every gradient against central differences of the
// interpreter's frozen-spike forward (whose derivative is the surrogate gradient, see ReferenceInterpreter.Spiking.cs),
// BatchNorm's running statistics (with the static-input count), and the firing rates the model reports. Then the
// ILGPU backend against the CPU one, and a training step that allocates nothing.
using Authoring.Models.Tests.Models;
using Authoring.Models.Tests.Oracle;
using Authoring.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Models.Tests;

public class SpikingTests
{
    // As GradientTests: float32 kernels over short sums (relative error near 1e-6, BPTT over T <= 5 steps adds a few
    // roundings per step), against double. A wrong reset, surrogate, decay or time index is an O(1) error.
    const double ForwardTol = 1e-4;
    const double GradTol = 2e-4;
    // Central differences in double: truncation O(h^2 g''') ~ 1e-12 for the smooth surrogates, round-off ~1e-10.
    const double Step = 1e-6;
    // A membrane closer than this to its threshold could fire on one side of a float32 / double comparison and not on
    // the other (float32 error of h is ~1e-6 here): such inputs are skipped for the next seed, as the model oracle does
    // near ReLU kinks.
    const double MinMargin = 1e-4;

    [Fact] public void ConvLifStaticInputIfSoftReset() => Check(new SpikingConv(), staticBatchNorms: ["bn"]);
    [Fact] public void TimeMajorInputPlifDetachResetLifNegativeReset() => Check(new SpikingPlif());
    [Fact] public void PoissonRectSurrogateRepeatReadTwice() => Check(new SpikingEncoders());

    static Dictionary<string, double[]> AsDouble(ParameterStore s)
    {
        var d = new Dictionary<string, double[]>();
        for (int i = 0; i < s.Infos.Count; i++) d[s.Infos[i].Name] = s.Value(i).ToArray().Select(f => (double)f).ToArray();
        return d;
    }

    /// <summary>An input (and its seed) whose membranes all keep <see cref="MinMargin"/> from the threshold, in evaluation
    /// (first inference call) and training mode.</summary>
    internal static float[] Input(ReferenceInterpreter oracle, IModel model, int n, IReadOnlyDictionary<string, double[]> p, int seed)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            var x = GradientTests.RandomInput(n * model.InputSize, seed + 1000 * attempt);
            var xd = x.Select(f => (double)f).ToArray();
            oracle.Record = new();
            oracle.InferSeed = ReferenceInterpreter.InferenceSeed(1);
            oracle.Forward(xd, n, p, train: false);
            double eval = oracle.Margin();
            oracle.Forward(xd, n, p, train: true);
            double train = oracle.Margin();
            oracle.Record = null;
            if (Math.Min(eval, train) >= MinMargin) return x;
        }
        throw new InvalidOperationException("no input kept the membranes away from the threshold");
    }

    static void Check<T>(T model, string[]? staticBatchNorms = null) where T : IModel
    {
        var oracle = new ReferenceInterpreter(ModelSources.Ir<T>());
        GradientTests.Randomize(model.Parameters, 11);
        const int n = 3;
        var p = AsDouble(model.Parameters);
        var x = Input(oracle, model, n, p, 12);
        var xd = x.Select(f => (double)f).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => (i * 7 + 1) % model.OutputSize).ToArray();

        // Evaluation: the first inference call (its Poisson seed is the first of the evaluation counter).
        var logits = new float[n * model.OutputSize];
        model.Infer(x, n, logits);
        oracle.InferSeed = ReferenceInterpreter.InferenceSeed(1);
        GradientTests.AssertClose(logits, oracle.Forward(xd, n, p, train: false), ForwardTol, "eval logits");

        // Training step: the loss, and the firing rates the model counted (training and the inference above).
        model.ResetFiringRates();
        var result = model.TrainStep(x, labels, n);
        oracle.Record = new();
        double refLoss = ReferenceInterpreter.Loss(oracle.Forward(xd, n, p, train: true), n, model.OutputSize, labels);
        var recorded = oracle.Record;
        oracle.Record = null;
        Assert.True(Math.Abs(result.Loss - refLoss) <= 1e-5 * Math.Max(1, Math.Abs(refLoss)), $"loss {result.Loss} vs {refLoss}");
        var rates = model.FiringRates;
        var neurons = oracle.Ir.Nodes.Where(Generators.Ops.NeuronOp.IsNeuron).ToList();
        Assert.Equal(neurons.Select(m => m.Layer), rates.Select(r => r.Layer));
        for (int i = 0; i < neurons.Count; i++)
        {
            var h = recorded[neurons[i].Id].H;
            Assert.Equal((long)h.Sum(), rates[i].Spikes);
            Assert.Equal(h.Length, rates[i].Slots);
        }

        // Gradients: central differences of the frozen-spike forward around the recorded spikes.
        oracle.Frozen = recorded;
        oracle.FreezePools();
        var store = model.Parameters;
        for (int t = 0; t < store.Infos.Count; t++)
        {
            var info = store.Infos[t];
            if (!info.Trainable) continue;
            var fd = new double[info.Length];
            var tensor = p[info.Name];
            for (int j = 0; j < tensor.Length; j++)
            {
                double keep = tensor[j];
                tensor[j] = keep + Step;
                double up = ReferenceInterpreter.Loss(oracle.Forward(xd, n, p, train: true), n, model.OutputSize, labels);
                tensor[j] = keep - Step;
                double down = ReferenceInterpreter.Loss(oracle.Forward(xd, n, p, train: true), n, model.OutputSize, labels);
                tensor[j] = keep;
                fd[j] = (up - down) / (2 * Step);
            }
            GradientTests.AssertClose(store.Grad(t), fd, GradTol, "d loss / d " + info.Name);
        }
        oracle.Frozen = null;

        // Running statistics: a BatchNorm on the static-input path counts N * H * W samples, not N * T * H * W.
        var values = oracle.All(xd, n, p, train: true);
        foreach (var bn in oracle.Ir.Nodes.Where(v => v.Op == Generators.Ops.OpKind.BatchNorm))
        {
            var (mean, var) = oracle.BatchStats(bn, values[bn.Inputs[0]], n);
            double m = bn.F1;
            bool isStatic = staticBatchNorms?.Contains(bn.Layer) == true;
            int count = n * (isStatic ? 1 : bn.Leading) * bn.Spatial;
            var oldMean = p[bn.Layer + ".running_mean"];
            var oldVar = p[bn.Layer + ".running_var"];
            GradientTests.AssertClose(store.Value(bn.Layer + ".running_mean"), mean.Select((v, c) => (1 - m) * oldMean[c] + m * v).ToArray(), ForwardTol, bn.Layer + ".running_mean");
            GradientTests.AssertClose(store.Value(bn.Layer + ".running_var"), var.Select((v, c) => (1 - m) * oldVar[c] + m * v * count / (count - 1)).ToArray(), ForwardTol, bn.Layer + ".running_var");
        }
    }
}

/// <summary>The spiking models on ILGPU (its CPU accelerator here) against the CPU backend: spikes, outputs, loss,
/// gradients, running statistics and firing rates.</summary>
[Collection("gpu")]
public class SpikingGpuParityTests(GpuDeviceFixture fixture)
{
    // Neuron kernels run the same float operations on both backends (Runtime.Cpu.Spiking.Lanes), so spikes agree
    // exactly once their inputs do; the convolutions and linear layers feeding them sum in different orders (a few ulps),
    // which the input choice keeps far from any threshold (SpikingTests.Input). Then differences are round-off: 1e-4 of
    // each tensor's scale, as GpuParityTests.
    const float Tol = 1e-4f;

    [Fact] public void SpikingConv() => Check(new SpikingConv(), p => new SpikingConv.Gpu(fixture.Device, p));
    [Fact] public void SpikingPlif() => Check(new SpikingPlif(), p => new SpikingPlif.Gpu(fixture.Device, p));
    [Fact] public void SpikingEncoders() => Check(new SpikingEncoders(), p => new SpikingEncoders.Gpu(fixture.Device, p));

    static void Close(ReadOnlySpan<float> gpu, ReadOnlySpan<float> cpu, string what, float floor = 1e-3f)
    {
        float scale = floor;
        foreach (float v in cpu) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < cpu.Length; i++)
            Assert.True(Math.Abs(gpu[i] - cpu[i]) <= Tol * scale, $"{what}[{i}]: gpu {gpu[i]:R} cpu {cpu[i]:R} (scale {scale})");
    }

    static void Check<TCpu, TGpu>(TCpu cpu, Func<ParameterStore, TGpu> makeGpu) where TCpu : IModel where TGpu : IModel, IDisposable
    {
        GradientTests.Randomize(cpu.Parameters, 21);
        var copy = new ParameterStore(cpu.Parameters.Infos);
        copy.CopyFrom(cpu.Parameters);
        using var gpu = makeGpu(copy);
        const int n = 3;
        var p = new Dictionary<string, double[]>();
        for (int i = 0; i < cpu.Parameters.Infos.Count; i++) p[cpu.Parameters.Infos[i].Name] = cpu.Parameters.Value(i).ToArray().Select(f => (double)f).ToArray();
        var oracle = new ReferenceInterpreter(ModelSources.Ir<TCpu>());
        var x = SpikingTests.Input(oracle, cpu, n, p, 22);
        var labels = Enumerable.Range(0, n).Select(i => (i * 5 + 2) % cpu.OutputSize).ToArray();

        var a = new float[n * cpu.OutputSize];
        var b = new float[n * cpu.OutputSize];
        cpu.Infer(x, n, a);
        gpu.Infer(x, n, b);
        Close(b, a, "eval logits");

        var rc = cpu.TrainStep(x, labels, n);
        var rg = gpu.TrainStep(x, labels, n);
        Assert.Equal(rc.Correct, rg.Correct);
        Assert.True(Math.Abs(rc.Loss - rg.Loss) <= 1e-5f * Math.Max(1, rc.Loss), $"loss cpu {rc.Loss} gpu {rg.Loss}");
        float floor = Math.Max(1e-3f, 0.1f * cpu.Parameters.Grads.Max(Math.Abs));
        for (int t = 0; t < cpu.Parameters.Infos.Count; t++)
        {
            var info = cpu.Parameters.Infos[t];
            if (info.Trainable) Close(gpu.Parameters.Grad(t), cpu.Parameters.Grad(t), "grad " + info.Name, floor);
            else Close(gpu.Parameters.Value(t), cpu.Parameters.Value(t), info.Name);
        }
        // Spike counts are integers: equal spikes, equal counts (inference and training so far).
        Assert.Equal(cpu.FiringRates, gpu.FiringRates);
        gpu.ResetFiringRates();
        Assert.All(gpu.FiringRates, r => Assert.Equal((0L, 0L), (r.Spikes, r.Slots)));
    }
}

/// <summary>A spiking training step and inference reuse their arena and counters: nothing allocated after warm-up.</summary>
[Collection("allocation")]
public class SpikingAllocationTests
{
    [Fact]
    public void SpikingConvTrainStepAndInferAllocateNothingAfterWarmUp()
    {
        var model = new SpikingConv();
        model.Parameters.Initialize(1);
        const int n = 16;
        var x = GradientTests.RandomInput(n * model.InputSize, 3);
        var labels = Enumerable.Range(0, n).Select(i => i % model.OutputSize).ToArray();
        var logits = new float[n * model.OutputSize];
        for (int i = 0; i < 60; i++)
        {
            model.TrainStep(x, labels, n);
            model.Infer(x, n, logits);
        }
        long before = WorkerPool.AllocatedBytesOfPoolAndCaller();
        for (int i = 0; i < 5; i++)
        {
            model.TrainStep(x, labels, n);
            model.Infer(x, n, logits);
            model.TrainStep(x, labels, n / 2);
        }
        Assert.Equal(0, WorkerPool.AllocatedBytesOfPoolAndCaller() - before);
    }
}
