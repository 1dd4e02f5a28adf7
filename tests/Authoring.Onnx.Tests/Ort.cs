// Runs a model written by OnnxGraphBuilder in ONNX Runtime (CPU provider, one thread: the machine has two cores
// and other tests run beside these), and the comparison helpers the tests share.
using Authoring.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Authoring.Onnx.Tests;

internal static class Ort
{
    /// <summary>Loads <paramref name="model"/> and runs it on one float32 input; returns the first output and its shape.</summary>
    public static float[] Run(byte[] model, string input, float[] x, long[] shape, out long[] outShape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(x, shape);
        return Run(model, input, value, out outShape);
    }

    /// <summary>As <see cref="Run(byte[], string, float[], long[], out long[])"/> for an int64 input (token ids).</summary>
    public static float[] Run(byte[] model, string input, long[] ids, long[] shape, out long[] outShape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(ids, shape);
        return Run(model, input, value, out outShape);
    }

    static float[] Run(byte[] model, string input, OrtValue value, out long[] outShape)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var run = new RunOptions();
        string output = session.OutputNames[0];
        using var results = session.Run(run, [input], [value], [output]);
        outShape = results[0].GetTensorTypeAndShape().Shape;
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Builds, saves and runs; the output must have shape (batch, <paramref name="sampleOut"/>...).</summary>
    public static float[] Run(OnnxGraphBuilder b, string input, float[] x, int batch, int[] sampleIn, int[] sampleOut)
    {
        var y = Run(b.ToBytes(), input, x, [batch, .. sampleIn.Select(d => (long)d)], out var shape);
        Assert.Equal([batch, .. sampleOut.Select(d => (long)d)], shape);
        return y;
    }

    public static float[] Random(int seed, int count, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = lo + (hi - lo) * rng.NextSingle();
        return a;
    }

    /// <summary>|got - want| &lt;= atol + rtol |want| element by element, with the first failure named.</summary>
    public static void Close(ReadOnlySpan<float> got, ReadOnlySpan<float> want, double atol, double rtol, string what)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
        {
            double tol = atol + rtol * Math.Abs(want[i]);
            Assert.True(Math.Abs((double)got[i] - want[i]) <= tol || (float.IsNaN(got[i]) && float.IsNaN(want[i])),
                $"{what}[{i}]: ONNX Runtime {got[i]:R}, ours {want[i]:R} (tolerance {tol:G3})");
        }
    }

    public static void Close(ReadOnlySpan<float> got, double[] want, double atol, double rtol, string what) =>
        Close(got, want.Select(v => (float)v).ToArray(), atol, rtol, what);
}
