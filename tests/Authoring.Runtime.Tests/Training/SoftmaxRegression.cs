// A tiny IModel written by hand for the trainer tests: multinomial logistic regression (logits = W x + b)
// with analytic gradients of the mean softmax cross-entropy, so the training loop is tested without the
// generated code or the CPU kernels. It records allocated bytes at every TrainStep entry, so a test can
// prove the loop around it allocates nothing per step.
using Authoring.Runtime;

namespace Authoring.Runtime.Tests.Training;

sealed class SoftmaxRegression : IModel
{
    readonly int _classes;
    readonly float[] _logits;
    readonly double[] _probs;
    long[] _allocated = new long[1024];

    public SoftmaxRegression(int[] inputShape, int classes, int maxBatch, int seed = 0)
    {
        InputShape = inputShape;
        InputSize = inputShape.Aggregate(1, (a, b) => a * b);
        _classes = classes;
        _logits = new float[maxBatch * classes];
        _probs = new double[classes];
        Parameters = new ParameterStore(
        [
            new ParameterInfo("fc.weight", [classes, InputSize], ParameterRole.Weight, InitKind.KaimingUniform, InputSize, classes),
            new ParameterInfo("fc.bias", [classes], ParameterRole.Bias, InitKind.BiasUniform, InputSize, classes),
        ], seed);
    }

    public string Name => nameof(SoftmaxRegression);
    public IReadOnlyList<int> InputShape { get; }
    public int InputSize { get; }
    public int OutputSize => _classes;
    public ParameterStore Parameters { get; }
    public ulong TrainSteps { get; set; }

    /// <summary>Allocated bytes of this thread at the start of each TrainStep, in call order.</summary>
    public ReadOnlySpan<long> AllocatedAtSteps => _allocated.AsSpan(0, Steps);
    public int Steps { get; private set; }

    public void Infer(ReadOnlySpan<float> input, int batch, Span<float> output)
    {
        var w = Parameters.Value(0);
        var bias = Parameters.Value(1);
        for (int b = 0; b < batch; b++)
        {
            var x = input.Slice(b * InputSize, InputSize);
            for (int c = 0; c < _classes; c++)
            {
                float z = bias[c];
                var row = w.Slice(c * InputSize, InputSize);
                for (int i = 0; i < InputSize; i++) z += row[i] * x[i];
                output[b * _classes + c] = z;
            }
        }
    }

    public StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch)
    {
        if (Steps < _allocated.Length) _allocated[Steps] = GC.GetAllocatedBytesForCurrentThread();
        Steps++;
        TrainSteps++;
        Infer(input, batch, _logits);
        var dw = Parameters.Grad(0);
        var db = Parameters.Grad(1);
        dw.Clear();
        db.Clear();
        double loss = 0;
        int correct = 0;
        for (int b = 0; b < batch; b++)
        {
            var z = _logits.AsSpan(b * _classes, _classes);
            int arg = 0;
            for (int c = 1; c < _classes; c++) if (z[c] > z[arg]) arg = c;
            double sum = 0;
            for (int c = 0; c < _classes; c++) sum += _probs[c] = Math.Exp(z[c] - z[arg]);
            loss -= Math.Log(_probs[labels[b]] / sum);
            if (arg == labels[b]) correct++;
            var x = input.Slice(b * InputSize, InputSize);
            for (int c = 0; c < _classes; c++)
            {
                // d(mean CE)/dz_c = (softmax_c - [c == label]) / batch.
                float g = (float)((_probs[c] / sum - (c == labels[b] ? 1 : 0)) / batch);
                db[c] += g;
                var row = dw.Slice(c * InputSize, InputSize);
                for (int i = 0; i < InputSize; i++) row[i] += g * x[i];
            }
        }
        return new StepResult((float)(loss / batch), correct);
    }
}
