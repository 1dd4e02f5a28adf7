// The device twin of Runtime's View: a batch inside a device buffer, so channel slices and concat
// parts stay windows on one arena. ILGPU passes it to kernels by value (a view plus two ints).
using ILGPU;

namespace Authoring.Gpu;

/// <summary>A batch of samples inside a device buffer: sample <c>b</c> begins at <c>Offset + b * BatchStride</c>.</summary>
public readonly struct GView(ArrayView<float> data, int offset, int batchStride)
{
    /// <summary>The backing device memory (an arena or a caller's buffer).</summary>
    public readonly ArrayView<float> Data = data;
    /// <summary>Start of sample 0.</summary>
    public readonly int Offset = offset;
    /// <summary>Distance between consecutive samples.</summary>
    public readonly int BatchStride = batchStride;

    /// <summary>Start index of sample <paramref name="b"/>.</summary>
    public int At(int b) => Offset + b * BatchStride;

    /// <summary>The same batch shifted by <paramref name="elements"/> within each sample (a channel slice).</summary>
    public GView Shift(int elements) => new(Data, Offset + elements, BatchStride);
}
