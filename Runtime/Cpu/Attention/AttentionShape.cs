// The shape of a multi-head attention problem. Per sample a token sequence is an (N, D) row-major
// matrix with D = heads * headSize and the heads interleaved within a row (head h owns columns
// [h * headSize, (h + 1) * headSize)), which is how a Linear projection writes q, k and v; the batch is
// the View's stride. Sizes are run-time ints (the generator passes constants).
namespace Authoring.Runtime.Cpu;

/// <summary>Multi-head attention over samples of <see cref="SeqLen"/> tokens of <see cref="Dim"/> = heads x headSize
/// features, heads interleaved within each token's row. q, k, v, the output and their gradients all have this layout.</summary>
/// <param name="SeqLen">Tokens per sample (N).</param>
/// <param name="Heads">Attention heads (H).</param>
/// <param name="HeadSize">Features per head (Dh), for queries, keys and values alike.</param>
public readonly record struct AttentionShape(int SeqLen, int Heads, int HeadSize)
{
    /// <summary>Features per token, Heads x HeadSize.</summary>
    public int Dim => Heads * HeadSize;

    /// <summary>Floats per sample, SeqLen x Dim.</summary>
    public int SampleSize => SeqLen * Dim;

    /// <summary>Throws unless the sizes are usable (all positive, the sample fits an int).</summary>
    public void Validate()
    {
        if (SeqLen <= 0 || Heads <= 0 || HeadSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(SeqLen), $"Attention needs positive sizes, got N = {SeqLen}, heads = {Heads}, head size = {HeadSize}.");
        if ((long)SeqLen * Heads * HeadSize > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(SeqLen), $"An attention sample of {SeqLen} x {Heads} x {HeadSize} floats does not fit one array.");
    }
}
