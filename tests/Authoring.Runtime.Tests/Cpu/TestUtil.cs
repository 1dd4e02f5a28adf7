// Helpers for kernel tests: seeded random data, views with gaps and offsets, double-precision
// reference activations, and element-wise comparison against per-element error bounds.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

internal static class TestUtil
{
    /// <summary>Unit roundoff of float32.</summary>
    public const double U = 1.0 / (1 << 24);

    /// <summary>Bound on float32 summation error of k terms whose absolute values sum to <paramref name="mag"/>:
    /// worst case grows like k*u*mag, random rounding like sqrt(k)*u*mag; 16*sqrt(k)*u sits well inside the
    /// former and comfortably above the latter, so it catches wrong terms without flaking on rounding.</summary>
    public static double SumTol(double mag, int k) => 16 * Math.Sqrt(Math.Max(k, 1)) * U * mag + 1e-30;

    public static float[] Random(Random rng, int len, float lo = -1f, float hi = 1f)
    {
        var a = new float[len];
        for (int i = 0; i < len; i++) a[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return a;
    }

    /// <summary>A batch of n samples of <paramref name="size"/> floats at an offset, with a gap after each
    /// sample (a channel slice of a larger buffer); everything outside the samples holds a sentinel.</summary>
    public static View Sliced(Random rng, int n, int size, int offset, int gap, bool fill = true)
    {
        int stride = size + gap;
        var data = new float[offset + Math.Max(n, 1) * stride + 3];
        Array.Fill(data, Sentinel);
        var v = new View(data, offset, stride);
        if (fill)
            for (int b = 0; b < n; b++)
                for (int i = 0; i < size; i++) data[v.At(b) + i] = (float)(rng.NextDouble() * 2 - 1);
        return v;
    }

    public const float Sentinel = 12345.678f;

    /// <summary>Sample b of a view as a flat array.</summary>
    public static float[] Gather(View v, int n, int size)
    {
        var r = new float[n * size];
        for (int b = 0; b < n; b++) Array.Copy(v.Data, v.At(b), r, b * size, size);
        return r;
    }

    /// <summary>Asserts that everything outside the n samples of the view still holds the sentinel.</summary>
    public static void AssertUntouchedOutside(View v, int n, int size)
    {
        var inside = new bool[v.Data.Length];
        for (int b = 0; b < n; b++) for (int i = 0; i < size; i++) inside[v.At(b) + i] = true;
        for (int i = 0; i < v.Data.Length; i++)
            if (!inside[i]) Assert.True(v.Data[i] == Sentinel, $"element {i} outside the view was written ({v.Data[i]})");
    }

    public static void AssertClose(ReadOnlySpan<float> got, double[] expected, double[] tol, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(got[i] - expected[i]);
            if (!(err <= tol[i]))
                Assert.Fail($"{what}: element {i} is {got[i]}, expected {expected[i]} (error {err:E3} > tolerance {tol[i]:E3})");
        }
    }

    public static readonly string[] Activations = ["Identity", "Relu", "Relu6", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh"];

    public static double Act(string name, double z) => name switch
    {
        "Identity" => z,
        "Relu" => Math.Max(z, 0),
        "Relu6" => Math.Min(Math.Max(z, 0), 6),
        "HardSigmoid" => Math.Min(Math.Max(z / 6 + 0.5, 0), 1),
        "HardSwish" => z * Math.Min(Math.Max(z + 3, 0), 6) / 6,
        "Sigmoid" => 1 / (1 + Math.Exp(-z)),
        "Tanh" => Math.Tanh(z),
        _ => throw new ArgumentException(name),
    };

    public static double ActDerivative(string name, double z) => name switch
    {
        "Identity" => 1,
        "Relu" => z > 0 ? 1 : 0,
        "Relu6" => z > 0 && z < 6 ? 1 : 0,
        "HardSigmoid" => z > -3 && z < 3 ? 1.0 / 6 : 0,
        "HardSwish" => z < -3 ? 0 : z > 3 ? 1 : (2 * z + 3) / 6,
        "Sigmoid" => Act("Sigmoid", z) * (1 - Act("Sigmoid", z)),
        "Tanh" => 1 - Math.Tanh(z) * Math.Tanh(z),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Largest |act'| of each activation: how much an error in z can grow through it.</summary>
    public const double MaxSlope = 1.5;

    /// <summary>Float32 evaluation error of the activation itself (the vector exp of Sigmoid/Tanh is
    /// accurate to a few ulp; piecewise-linear ones round once or twice).</summary>
    public static double ActTol(double y) => 8 * U * (Math.Abs(y) + 1);

    /// <summary>Calls a kernel generic over the activation named <paramref name="act"/> (theories take names).</summary>
    public static void CallGeneric(Type kernel, string method, string act, params object?[] args)
    {
        var type = typeof(Identity).Assembly.GetType("Authoring.Runtime.Cpu." + act, throwOnError: true)!;
        var m = kernel.GetMethod(method)!.MakeGenericMethod(type);
        try { m.Invoke(null, args); }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }
    }
}
