// A window on a float array holding a batch of samples: sample b starts at Offset + b * BatchStride.
// Channel slices and concat parts are Views on one buffer, so neither needs a copy.
namespace Authoring.Runtime.Cpu;

/// <summary>A batch of samples inside a float array: sample <c>b</c> begins at <c>Offset + b * BatchStride</c>.</summary>
public readonly struct View(float[] data, int offset, int batchStride)
{
    /// <summary>The backing array (an arena or a caller's buffer).</summary>
    public readonly float[] Data = data;
    /// <summary>Start of sample 0.</summary>
    public readonly int Offset = offset;
    /// <summary>Distance between consecutive samples.</summary>
    public readonly int BatchStride = batchStride;

    /// <summary>Start index of sample <paramref name="b"/>.</summary>
    public int At(int b) => Offset + b * BatchStride;

    /// <summary>The same batch shifted by <paramref name="elements"/> within each sample (a channel slice).</summary>
    public View Shift(int elements) => new(Data, Offset + elements, BatchStride);
}
