// Double-precision references and comparison helpers. The activations are re-derived here from
// their definitions rather than taken from Runtime, so a wrong functor would show up as a mismatch.
using System.Reflection;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu.Tests;

static class Reference
{
    /// <summary>Every activation the runtime defines.</summary>
    public static readonly Type[] ActivationTypes =
    [
        typeof(Identity), typeof(Relu), typeof(Relu6), typeof(HardSigmoid), typeof(HardSwish), typeof(Sigmoid), typeof(Tanh),
    ];

    /// <summary><see cref="ActivationTypes"/> as theory data.</summary>
    public static TheoryData<Type> Activations => new(ActivationTypes);

    public static double Apply(Type act, double z) => act.Name switch
    {
        nameof(Identity) => z,
        nameof(Relu) => Math.Max(z, 0),
        nameof(Relu6) => Math.Clamp(z, 0, 6),
        nameof(HardSigmoid) => Math.Clamp(z / 6 + 0.5, 0, 1),
        nameof(HardSwish) => z * Math.Clamp(z + 3, 0, 6) / 6,
        nameof(Sigmoid) => 1 / (1 + Math.Exp(-z)),
        nameof(Tanh) => Math.Tanh(z),
        _ => throw new ArgumentException(act.Name),
    };

    public static double Derivative(Type act, double z) => act.Name switch
    {
        nameof(Identity) => 1,
        nameof(Relu) => z > 0 ? 1 : 0,
        nameof(Relu6) => z > 0 && z < 6 ? 1 : 0,
        nameof(HardSigmoid) => z > -3 && z < 3 ? 1.0 / 6 : 0,
        nameof(HardSwish) => z < -3 ? 0 : z > 3 ? 1 : (2 * z + 3) / 6,
        nameof(Sigmoid) => Apply(act, z) * (1 - Apply(act, z)),
        nameof(Tanh) => 1 - Math.Tanh(z) * Math.Tanh(z),
        _ => throw new ArgumentException(act.Name),
    };

    /// <summary>Calls generic test body <paramref name="method"/>&lt;act&gt; on <paramref name="target"/>, unwrapping reflection's exception.</summary>
    public static void Invoke(object target, string method, Type act)
    {
        var m = target.GetType().GetMethod(method, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!.MakeGenericMethod(act);
        try { m.Invoke(target, null); }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }
    }

    public static float[] Random(Random rng, int length, double scale = 1)
    {
        var r = new float[length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return r;
    }

    /// <summary>|actual - expected| &lt;= atol + rtol |expected| element-wise, naming the first failure.</summary>
    public static void Close(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: expected {e:R}, got {a:R} (|diff| {Math.Abs(a - e):G3} > {atol} + {rtol}*|e|)");
        }
    }

    public static double[] Plus(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        var r = new double[a.Count];
        for (int i = 0; i < r.Length; i++) r[i] = a[i] + b[i];
        return r;
    }

    public static double[] ToDouble(float[] a) => Array.ConvertAll(a, v => (double)v);
}
