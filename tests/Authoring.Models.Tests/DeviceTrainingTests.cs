// Device-resident training of the generated ILGPU backend (parameters, gradients, running statistics and
// optimizer state kept on the device; the optimizer a kernel inside TrainStep) against the host path that
// the backend had before: the same GPU model computing gradients, copied back every step, stepped by the
// host optimizer, uploaded again. Both paths run the same forward and backward kernels on the same values,
// and the device optimizers are the host ones to the bit on ILGPU's CPU accelerator (Gpu.Tests/
// OptimizerTests), so on the CPU accelerator every loss, parameter and running statistic must be equal
// to the bit, step after step. On CUDA the optimizer kernels may fuse a multiply-add (a few roundings per
// step, Gpu.Tests) which the following steps carry through the network: there the comparison allows
// GpuParityTests' 1e-4 of each tensor's scale.
using Authoring.Gpu;
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Models.Tests;

[Collection("gpu")]
public sealed class DeviceTrainingTests(GpuDeviceFixture fixture) : IDisposable
{
    const int N = 5, Steps = 4;
    readonly string _dir = Directory.CreateTempSubdirectory("device-training-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static Sgd HostSgd() => new(0.05f, momentum: 0.9, weightDecay: 1e-2, decayFilter: DecayFilters.WeightsOnly);
    static AdamW HostAdamW() => new(1e-2f, weightDecay: 0.05);

    static IDeviceOptimizer OnDevice(IOptimizer host) => host switch
    {
        Sgd s => new DeviceSgd(s),
        AdamW a => new DeviceAdamW(a),
        _ => throw new ArgumentException(host.GetType().Name),
    };

    static ParameterStore Copy(ParameterStore s)
    {
        var c = new ParameterStore(s.Infos);
        c.CopyFrom(s);
        return c;
    }

    void Same(ReadOnlySpan<float> device, ReadOnlySpan<float> host, string what)
    {
        if (!fixture.Device.IsCuda)
        {
            for (int i = 0; i < host.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(device[i]) == BitConverter.SingleToInt32Bits(host[i]), $"{what}[{i}]: device {device[i]:R}, host {host[i]:R}");
            return;
        }
        float scale = 1e-3f;
        foreach (float v in host) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < host.Length; i++)
            Assert.True(Math.Abs(device[i] - host[i]) <= 1e-4f * scale, $"{what}[{i}]: device {device[i]:R}, host {host[i]:R}");
    }

    /// <summary>Steps of both paths, batch t drawn with seed 100 + t, the learning rate halved before step 2 (a schedule).</summary>
    void Parity<TGpu>(Func<ParameterStore?, TGpu> make, Func<IOptimizer> host) where TGpu : IModel, IDisposable
    {
        using var h = make(null);
        h.Parameters.Initialize(seed: 3);
        using var d = make(Copy(h.Parameters));
        var dm = (IDeviceTrainedModel)d;
        var ho = host();
        using var dopt = OnDevice(host());
        SetOptimizer(d, dopt);
        var dp = DeviceParametersOf(d);
        long up0 = dp.Uploads, down0 = dp.Downloads;
        for (int t = 0; t < Steps; t++)
        {
            if (t == 2) { ho.LearningRate *= 0.5f; dopt.LearningRate *= 0.5f; }
            var batch = LossTests.Batch(h, N, 100 + t);
            var rh = LossTests.Train(h, batch, N);
            ho.Step(h.Parameters);
            var rd = LossTests.Train(d, batch, N);
            Assert.Equal((rh.Correct, rh.Total), (rd.Correct, rd.Total));
            Same([rd.Loss], [rh.Loss], $"loss of step {t}");
        }
        // No parameter moved during the device steps: the one upload is the constructor's.
        Assert.Equal((up0, down0), (dp.Uploads, dp.Downloads));
        Assert.Equal(1, up0);
        Assert.Equal(Steps, dopt.StepCount);
        // Reading the store brings the device values back (once) before the host sees them.
        for (int i = 0; i < h.Parameters.Infos.Count; i++)
            Same(d.Parameters.Value(i), h.Parameters.Value(i), h.Parameters.Infos[i].Name);
        Assert.Equal(down0 + 1, dp.Downloads);
        Assert.Same(dopt, dm.DeviceOptimizer);
    }

    static void SetOptimizer(IModel m, IDeviceOptimizer? o)
    {
        switch (m)
        {
            case ResumeNet.Gpu g: g.Optimizer = o; break;
            case TinyLm.Gpu g: g.Optimizer = o; break;
            default: throw new ArgumentException(m.Name);
        }
    }

    static DeviceParameters DeviceParametersOf(IModel m) => m switch
    {
        ResumeNet.Gpu g => g.DeviceParameters,
        TinyLm.Gpu g => g.DeviceParameters,
        _ => throw new ArgumentException(m.Name),
    };

    // Conv (no bias), BatchNorm (running statistics), ReLU, pool, dropout (masks from the step counter), linear.
    [Fact] public void CnnWithBatchNormSgdMomentumDecay() => Parity(p => new ResumeNet.Gpu(fixture.Device, p), HostSgd);
    [Fact] public void CnnWithBatchNormAdamW() => Parity(p => new ResumeNet.Gpu(fixture.Device, p), HostAdamW);
    // Embedding, linear, GELU, residual, cross-entropy per position.
    [Fact] public void TokenModelSgdMomentumDecay() => Parity(p => new TinyLm.Gpu(fixture.Device, p), HostSgd);
    [Fact] public void TokenModelAdamW() => Parity(p => new TinyLm.Gpu(fixture.Device, p), HostAdamW);

    /// <summary>Two steps, a checkpoint (parameters from the host store, optimizer state, step counter) into fresh objects,
    /// two more: equal to the bit to four uninterrupted steps.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CheckpointMidTrainingContinuesIdentically(bool adamW)
    {
        IOptimizer Host() => adamW ? HostAdamW() : HostSgd();
        var start = new ParameterStore(ResumeNet.ParameterInfos, 3);
        using var straight = new ResumeNet.Gpu(fixture.Device, Copy(start));
        using var straightOpt = OnDevice(Host());
        straight.Optimizer = straightOpt;
        using var first = new ResumeNet.Gpu(fixture.Device, Copy(start));
        using var firstOpt = OnDevice(Host());
        first.Optimizer = firstOpt;
        for (int t = 0; t < 2; t++)
        {
            LossTests.Train(straight, LossTests.Batch(straight, N, 100 + t), N);
            LossTests.Train(first, LossTests.Batch(first, N, 100 + t), N);
        }
        var saved = Copy(first.Parameters);
        var state = firstOpt.GetState();
        ulong steps = first.TrainSteps;
        Assert.Equal(adamW ? 2 : 1, state.Buffers.Count);

        using var resumed = new ResumeNet.Gpu(fixture.Device, saved);
        using var resumedOpt = OnDevice(Host());
        resumed.Optimizer = resumedOpt;
        resumedOpt.SetState(resumed.Parameters, state);
        resumed.TrainSteps = steps;
        for (int t = 2; t < 4; t++)
        {
            var a = LossTests.Train(straight, LossTests.Batch(straight, N, 100 + t), N);
            var b = LossTests.Train(resumed, LossTests.Batch(resumed, N, 100 + t), N);
            Same([b.Loss], [a.Loss], $"loss of step {t}");
        }
        Same(resumed.Parameters.Values, straight.Parameters.Values, "values");
        Assert.Equal(straightOpt.StepCount, resumedOpt.StepCount);
    }

    /// <summary>A device optimizer's state is the host optimizer's format: a host run's state continues on the device as the host would.</summary>
    [Fact]
    public void HostStateContinuesOnTheDevice()
    {
        var start = new ParameterStore(ResumeNet.ParameterInfos, 3);
        using var h = new ResumeNet.Gpu(fixture.Device, Copy(start));
        var ho = HostAdamW();
        for (int t = 0; t < 2; t++)
        {
            LossTests.Train(h, LossTests.Batch(h, N, 100 + t), N);
            ho.Step(h.Parameters);
        }
        using var d = new ResumeNet.Gpu(fixture.Device, Copy(h.Parameters));
        using var dopt = OnDevice(HostAdamW());
        d.Optimizer = dopt;
        dopt.SetState(d.Parameters, ho.GetState());
        d.TrainSteps = h.TrainSteps;
        for (int t = 2; t < 4; t++)
        {
            LossTests.Train(h, LossTests.Batch(h, N, 100 + t), N);
            ho.Step(h.Parameters);
            LossTests.Train(d, LossTests.Batch(d, N, 100 + t), N);
        }
        Same(d.Parameters.Values, h.Parameters.Values, "values");
    }

    /// <summary>Stale host values cannot be read: any access of the store copies newer device values back first, and a
    /// host write reaches the device before its next call.</summary>
    [Fact]
    public void HostAccessSynchronisesBothWays()
    {
        using var d = new ResumeNet.Gpu(fixture.Device);
        using var opt = new DeviceSgd(0.1f);
        d.Optimizer = opt;
        var store = d.Parameters; // held across steps, as a caller might
        var before = store.Values.ToArray();
        var batch = LossTests.Batch(d, N, 1);
        LossTests.Train(d, batch, N);
        Assert.NotEqual(before, store.Values); // the step's update is visible through the old reference

        // A host write (a checkpoint loaded, weights reset) is uploaded by the next call, once.
        store.Initialize(seed: 9);
        var expected = store.Values.ToArray();
        long uploads = d.DeviceParameters.Uploads;
        var output = new float[N * d.OutputSize];
        d.Infer(batch.X, N, output);
        d.Infer(batch.X, N, output);
        Assert.Equal(uploads + 1, d.DeviceParameters.Uploads);
        var check = new ResumeNet.Gpu(fixture.Device, Copy(store));
        var output2 = new float[N * d.OutputSize];
        check.Infer(batch.X, N, output2);
        Assert.Equal(output2, output);
        Assert.Equal(expected, store.Values);
        check.Dispose();

        // Disposing the model leaves its newest values in the store.
        LossTests.Train(d, batch, N);
        var pending = new float[store.Infos.Sum(i => i.Length)];
        fixture.Device.CopyToHost(d.DeviceParameters.Values, pending);
        d.Dispose();
        Assert.Equal(pending, store.Values);
    }

    /// <summary>A model stepping its own optimizer refuses a trainer given another one (both would update the parameters).</summary>
    [Fact]
    public void TrainerRefusesASecondOptimizer()
    {
        using var d = new ResumeNet.Gpu(fixture.Device);
        using var opt = new DeviceSgd(0.1f);
        d.Optimizer = opt;
        Assert.Throws<ArgumentException>(() => new Trainer(d, new Sgd(0.1f)));
        Assert.Throws<InvalidOperationException>(() => opt.Step(d.Parameters));
    }

    /// <summary>Class k brightens row band k of a 6x6 image, plus noise (as TrainerResumeTests).</summary>
    static LabeledImages Data(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * 36];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.Next(3);
            for (int p = 0; p < 36; p++) x[i * 36 + p] = (float)((p / 12 == y[i] ? 1.0 : 0.0) + 0.5 * rng.NextDouble());
        }
        return new LabeledImages(x, y, 1, 6, 6, 3);
    }

    /// <summary>The Trainer on a device-trained model (schedule, evaluation, checkpoints, resume) gives the host path's
    /// run: the same epoch figures and final values; a run resumed from its training state after epoch 2 ends the same.</summary>
    [Fact]
    public void TrainerOnTheDeviceMatchesTheHostPathAndResumes()
    {
        var train = Data(96, 1);
        var test = Data(40, 2);
        TrainerOptions Options(string name, int epochs) => new()
        {
            Epochs = epochs, BatchSize = 16, Seed = 7, Log = TextWriter.Null, Progress = ProgressMode.None,
            Schedule = new CosineSchedule(0.02f, Warmup: 3), CheckpointPath = Path.Combine(_dir, name + ".safetensors"),
        };
        var start = new ParameterStore(ResumeNet.ParameterInfos, 1);

        using var host = new ResumeNet.Gpu(fixture.Device, Copy(start));
        var hostRun = new Trainer(host, new AdamW(0.02f, weightDecay: 1e-3), Options("host", 3)).Fit(train, test);

        using var device = new ResumeNet.Gpu(fixture.Device, Copy(start));
        using var deviceOpt = new DeviceAdamW(0.02f, weightDecay: 1e-3);
        device.Optimizer = deviceOpt;
        long uploads = device.DeviceParameters.Uploads, downloads = device.DeviceParameters.Downloads;
        var deviceRun = new Trainer(device, deviceOpt, Options("device", 3)).Fit(train, test);
        // Per epoch, none per step (6 steps an epoch): one copy back when the trainer reads the store (finiteness check,
        // checkpoint), and since a host read may have been a write, at most two uploads (before evaluation, before the
        // next epoch's first step).
        Assert.Equal(3, device.DeviceParameters.Downloads - downloads);
        Assert.InRange(device.DeviceParameters.Uploads - uploads, 1, 6);
        for (int e = 0; e < 3; e++)
        {
            Same([(float)deviceRun[e].TrainLoss], [(float)hostRun[e].TrainLoss], $"epoch {e + 1} train loss");
            Same([(float)deviceRun[e].TestLoss], [(float)hostRun[e].TestLoss], $"epoch {e + 1} test loss");
        }
        Same(device.Parameters.Values, host.Parameters.Values, "values after training");

        // Stopped after two epochs (the schedule must still be the three-epoch one), resumed in fresh objects.
        using var first = new ResumeNet.Gpu(fixture.Device, Copy(start));
        using var firstOpt = new DeviceAdamW(0.02f, weightDecay: 1e-3);
        first.Optimizer = firstOpt;
        Assert.Throws<IOException>(() => new Trainer(first, firstOpt, Options("resumed", 3) with
        {
            EpochEnd = h => { if (h.Count == 2) throw new IOException("stopped (simulated)"); },
        }).Fit(train, test));
        using var second = new ResumeNet.Gpu(fixture.Device);
        using var secondOpt = new DeviceAdamW(0.02f, weightDecay: 1e-3);
        second.Optimizer = secondOpt;
        var rest = new Trainer(second, secondOpt, Options("resumed", 3) with { Resume = true }).Fit(train, test);
        Assert.Single(rest);
        Same([(float)rest[0].TrainLoss], [(float)deviceRun[2].TrainLoss], "resumed epoch 3 train loss");
        Same(second.Parameters.Values, device.Parameters.Values, "values after the resumed run");
    }
}
