// Element-wise helpers the generated code calls where no fused tree applies (dropout's backward).
using System.Numerics.Tensors;

namespace Authoring.Runtime.Cpu;

/// <summary>Element-wise kernels over batches.</summary>
public static class ElementwiseKernel
{
    /// <summary>z (=, or += when <paramref name="accumulate"/>) x * y, <paramref name="size"/> floats per sample.</summary>
    public static void MultiplyInto(int n, int size, View x, View y, View z, bool accumulate)
    {
        for (int b = 0; b < n; b++)
        {
            var xs = new ReadOnlySpan<float>(x.Data, x.At(b), size);
            var ys = new ReadOnlySpan<float>(y.Data, y.At(b), size);
            var zs = new Span<float>(z.Data, z.At(b), size);
            if (accumulate) TensorPrimitives.MultiplyAdd(xs, ys, zs, zs);
            else TensorPrimitives.Multiply(xs, ys, zs);
        }
    }
}
