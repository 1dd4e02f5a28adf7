// Bias gradients, copies, the loss, dropout, fills and the device parameter store.
using ILGPU;
using ILGPU.Runtime.Cuda;
using Authoring.Runtime;
using Authoring.Runtime.Cpu;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class MiscTests(GpuFixture fx)
{
    // Sums of at most ~20 floats of magnitude <= 3: float rounding stays near 1e-6.
    const double Atol = 1e-5, Rtol = 1e-5;

    [Fact]
    public void BiasGradAccumulates()
    {
        const int n = 2, c = 3, hw = 5;
        var rng = new Random(1);
        using var dy = fx.Batch(rng, n, c * hw, offset: 3, gap: 2);
        var db0 = Random(rng, c);
        using var db = fx.Array(db0);
        fx.Kernels.BiasGrad(n, c, hw, dy.View, db.View);
        var expected = ToDouble(db0);
        for (int i = 0; i < n * c * hw; i++) expected[i % (c * hw) / hw] += dy.Values[i];
        Close(expected, db.Read(), Atol, Rtol, "db");
    }

    [Fact]
    public void CopySetsOrAccumulates()
    {
        const int n = 2, size = 9;
        var rng = new Random(2);
        using var src = fx.Batch(rng, n, size, offset: 1, gap: 4);
        foreach (bool accumulate in new[] { false, true })
        {
            using var dst = fx.Batch(rng, n, size, offset: 5, gap: 1);
            fx.Kernels.Copy(n, size, src.View, dst.View, accumulate);
            Close(accumulate ? Plus(src.Values, dst.Values) : src.Values, dst.Read(), accumulate ? 1e-6 : 0, 0, "dst");
        }
    }

    [Fact]
    public void SoftmaxCrossEntropyMatchesDoubleAndWorksInPlace()
    {
        const int n = 4, classes = 5;
        var rng = new Random(3);
        using var logits = fx.Batch(rng, n, classes, offset: 2, gap: 3, scale: 3);
        var labels = new int[n];
        for (int b = 0; b < n; b++) labels[b] = rng.Next(classes);
        // Make two samples correct so the count is neither 0 nor n by accident.
        for (int b = 0; b < 2; b++)
        {
            int arg = 0;
            for (int j = 1; j < classes; j++) if (logits.Values[b * classes + j] > logits.Values[b * classes + arg]) arg = j;
            labels[b] = arg;
        }
        using var labelBuf = fx.Device.Upload(labels);
        using var result = fx.Array(new float[2]);
        using var dl = fx.Batch(rng, n, classes, offset: 1, gap: 2);

        double loss = 0;
        int correct = 0;
        var dRef = new double[n * classes];
        for (int b = 0; b < n; b++)
        {
            var row = logits.Values.AsSpan(b * classes, classes);
            double max = double.NegativeInfinity, sum = 0;
            int arg = 0;
            for (int j = 0; j < classes; j++) if (row[j] > max) { max = row[j]; arg = j; }
            for (int j = 0; j < classes; j++) sum += Math.Exp(row[j] - max);
            loss += Math.Log(sum) + max - row[labels[b]];
            if (arg == labels[b]) correct++;
            for (int j = 0; j < classes; j++) dRef[b * classes + j] = (Math.Exp(row[j] - max) / sum - (j == labels[b] ? 1 : 0)) / n;
        }
        fx.Kernels.SoftmaxCrossEntropy(n, classes, logits.View, labelBuf.View, dl.View, result.View);
        var r = fx.Kernels.ReadStepResult(result.View);
        Assert.Equal(correct, r.Correct);
        Assert.InRange(r.Correct, 2, n);
        Close([loss / n], [r.Loss], 1e-5, 1e-5, "loss");
        Close(dRef, dl.Read(), 1e-6, 1e-5, "dlogits");

        // dlogits may overwrite logits.
        fx.Kernels.SoftmaxCrossEntropy(n, classes, logits.View, labelBuf.View, logits.View, result.View);
        Close(dRef, logits.Read(), 1e-6, 1e-5, "dlogits in place");
        Assert.Equal(r, fx.Kernels.ReadStepResult(result.View));
    }

    [Fact]
    public void DropoutMasksMatchTheCpuGeneratorExactly()
    {
        const int n = 2, size = 37;
        const float p = 0.3f;
        const ulong seed = 0xDEADBEEF12345UL;
        var rng = new Random(4);
        using var x = fx.Batch(rng, n, size, offset: 1, gap: 2);
        using var mask = fx.Batch(rng, n, size, offset: 3, gap: 1);
        using var y = fx.Batch(rng, n, size, offset: 0, gap: 3);
        fx.Kernels.DropoutForward(n, size, p, seed, x.View, mask.View, y.View);
        var m = mask.Read();
        var yv = y.Read();
        int kept = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < size; i++)
            {
                int k = b * size + i;
                float expect = DropoutRandom.Uniform(seed, (long)b * size + i) >= p ? 1f / (1f - p) : 0f;
                Assert.Equal(expect, m[k]);
                Assert.Equal((float)x.Values[k] * expect, yv[k]);
                if (expect != 0) kept++;
            }
        Assert.InRange(kept, 30, 70); // of 74 at keep rate 0.7: guards against an all-kept or all-dropped mask
    }

    [Fact]
    public void FillAndClear()
    {
        using var a = fx.Array(Random(new Random(5), 11));
        fx.Kernels.Fill(a.View, 2.5f);
        Assert.All(a.Read(), v => Assert.Equal(2.5f, v));
        fx.Kernels.Clear(a.View);
        Assert.All(a.Read(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void DeviceParametersRoundTripAndSlice()
    {
        var store = new ParameterStore(
        [
            new ParameterInfo("fc.weight", [3, 4], ParameterRole.Weight, InitKind.KaimingUniform, 4, 3),
            new ParameterInfo("fc.bias", [3], ParameterRole.Bias, InitKind.BiasUniform, 4, 3),
            new ParameterInfo("bn.running_var", [3], ParameterRole.RunningVar, InitKind.Ones, 0, 0),
        ], seed: 1);
        using var dev = new DeviceParameters(fx.Device.Accelerator, store);
        Assert.Equal(store.Values.Length, dev.Length);
        Assert.Equal(3, dev.Slice(1).Length);
        // A kernel writing through slices lands at the store's offsets.
        fx.Kernels.Fill(dev.Slice(2), 7f);
        fx.Kernels.Fill(dev.GradSlice(1), -1f);
        var copy = new ParameterStore(store.Infos, seed: 2);
        dev.Download(copy);
        Assert.Equal(store.Value(0).ToArray(), copy.Value(0).ToArray());
        Assert.Equal(store.Value(1).ToArray(), copy.Value(1).ToArray());
        Assert.All(copy.Value(2).ToArray(), v => Assert.Equal(7f, v));
        Assert.All(copy.Grad(1).ToArray(), v => Assert.Equal(-1f, v));
        Assert.All(copy.Grad(0).ToArray(), v => Assert.Equal(0f, v));
        dev.ClearGrads();
        dev.Download(copy);
        Assert.All(copy.Grads, v => Assert.Equal(0f, v));
        store.Value(0)[0] = 42f;
        dev.Upload(store);
        dev.Download(copy);
        Assert.Equal(42f, copy.Value(0)[0]);
        Assert.Throws<ArgumentException>(() => dev.Upload(new ParameterStore([store.Infos[0]])));
    }

    [Fact]
    public void AcceleratorChoiceParsesAndDescribes()
    {
        Assert.Equal(AcceleratorChoice.Auto, GpuDevice.ParseChoice(null));
        Assert.Equal(AcceleratorChoice.Auto, GpuDevice.ParseChoice(" AUTO "));
        Assert.Equal(AcceleratorChoice.Cuda, GpuDevice.ParseChoice("cuda"));
        Assert.Equal(AcceleratorChoice.Cpu, GpuDevice.ParseChoice("Cpu"));
        Assert.Throws<ArgumentException>(() => GpuDevice.ParseChoice("opencl"));
        Assert.False(string.IsNullOrWhiteSpace(fx.Device.Description));
        // The environment variable decides when no choice is passed.
        string? saved = Environment.GetEnvironmentVariable(GpuDevice.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(GpuDevice.EnvironmentVariable, "cpu");
            using var cpu = new GpuDevice();
            Assert.Equal(AcceleratorChoice.Cpu, cpu.Choice);
            Assert.False(cpu.IsCuda);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GpuDevice.EnvironmentVariable, saved);
        }
        if (!fx.Device.IsCuda)
        {
            // Without a CUDA device, asking for one must fail loudly rather than fall back silently.
            using var probe = Context.Create(b => b.Cuda());
            if (probe.Devices.Length == 0)
                Assert.Throws<InvalidOperationException>(() => new GpuDevice(AcceleratorChoice.Cuda));
        }
    }
}
