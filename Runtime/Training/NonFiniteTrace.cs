// What generated code calls while tracing a training step for its first non-finite value
// (IModel.TraceNonFinite): a finiteness check of one arena region, vectorised.
using System.ComponentModel;
using System.Numerics.Tensors;

namespace Authoring.Runtime.Training;

/// <summary>Checks generated models make while tracing a step for a non-finite value. Not for user code.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class NonFiniteTrace
{
    /// <summary>Whether <paramref name="length"/> floats of <paramref name="a"/> from <paramref name="start"/> are all finite.</summary>
    public static bool Finite(float[] a, long start, long length) =>
        TensorPrimitives.IsFiniteAll<float>(new ReadOnlySpan<float>(a, checked((int)start), checked((int)length)));
}
