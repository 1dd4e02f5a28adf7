// The symbolic tensor a Forward method is written over. It never holds data: the generator reads the
// method, and the generated code runs the model. Calling these members at run time is a mistake.
namespace Authoring;

/// <summary>A symbolic tensor inside a model's <c>Forward</c> method. Shapes are static except the batch.</summary>
public readonly struct Tensor
{
    /// <summary>Element-wise sum (same shape, or the right side broadcast over channels).</summary>
    public static Tensor operator +(Tensor a, Tensor b) => throw Symbolic.Error();

    /// <summary>Element-wise product (same shape, or the right side broadcast over channels).</summary>
    public static Tensor operator *(Tensor a, Tensor b) => throw Symbolic.Error();
}

internal static class Symbolic
{
    public static InvalidOperationException Error() =>
        new("Authoring models are symbolic: call the generated Infer/TrainStep methods, not Forward.");
}
