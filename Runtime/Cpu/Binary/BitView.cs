// A batch of bit-packed binary tensors inside a ulong array, the packed twin of View. The layout
// of one sample is documented on BitPack: channels (or features) are the bit dimension, 64 to a
// word, innermost; spatial positions outside it (NHWC order, "channels last").
namespace Authoring.Runtime.Cpu;

/// <summary>A batch of bit-packed samples inside a ulong array: sample <c>b</c> begins at <c>Offset + b * BatchStride</c>
/// (in words). See <see cref="BitPack"/> for the layout of a sample.</summary>
public readonly struct BitView(ulong[] data, int offset, int batchStride)
{
    /// <summary>The backing array.</summary>
    public readonly ulong[] Data = data;
    /// <summary>Start of sample 0, in words.</summary>
    public readonly int Offset = offset;
    /// <summary>Distance between consecutive samples, in words.</summary>
    public readonly int BatchStride = batchStride;

    /// <summary>Start index of sample <paramref name="b"/>.</summary>
    public int At(int b) => Offset + b * BatchStride;

    /// <summary>Throws unless samples [0, n) of <paramref name="size"/> words each lie inside the array.</summary>
    internal void Check(int n, int size, string name)
    {
        if (Data is null) throw new ArgumentNullException(name);
        if (n < 0 || size < 0) throw new ArgumentOutOfRangeException(name, "Batch and sample sizes must be non-negative.");
        if (n == 0 || size == 0) return;
        long last = (long)Offset + (long)(n - 1) * BatchStride;
        if (Offset < 0 || BatchStride < 0 || last + size > Data.Length || (n > 1 && BatchStride < size))
            throw new ArgumentException($"Bit view {name} (offset {Offset}, stride {BatchStride}) cannot hold {n} samples of {size} words in an array of {Data.Length}.", name);
    }
}
