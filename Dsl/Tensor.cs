// The symbolic tensor a Forward method is written over. It never holds data: the generator reads the
// method, and the generated code runs the model. Calling these members at run time is a mistake.
namespace Authoring;

/// <summary>A symbolic tensor inside a model's <c>Forward</c> method. Shapes are static except the batch.</summary>
public readonly struct Tensor
{
    /// <summary>Element-wise sum, with PyTorch broadcasting (a (C) vector against (C, H, W) follows the channels).</summary>
    public static Tensor operator +(Tensor a, Tensor b) => throw Symbolic.Error();

    /// <summary>Element-wise difference, with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => throw Symbolic.Error();

    /// <summary>Element-wise product, with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => throw Symbolic.Error();

    /// <summary>Element-wise quotient, with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => throw Symbolic.Error();

    /// <summary>Every element times a constant.</summary>
    public static Tensor operator *(Tensor a, float s) => throw Symbolic.Error();

    /// <summary>Every element times a constant.</summary>
    public static Tensor operator *(float s, Tensor a) => throw Symbolic.Error();

    /// <summary>A constant added to every element.</summary>
    public static Tensor operator +(Tensor a, float s) => throw Symbolic.Error();

    /// <summary>A constant added to every element.</summary>
    public static Tensor operator +(float s, Tensor a) => throw Symbolic.Error();

    /// <summary>A constant subtracted from every element.</summary>
    public static Tensor operator -(Tensor a, float s) => throw Symbolic.Error();

    /// <summary>Every element subtracted from a constant.</summary>
    public static Tensor operator -(float s, Tensor a) => throw Symbolic.Error();

    /// <summary>Every element divided by a constant (a true division, as PyTorch's).</summary>
    public static Tensor operator /(Tensor a, float s) => throw Symbolic.Error();

    /// <summary>A constant divided by every element.</summary>
    public static Tensor operator /(float s, Tensor a) => throw Symbolic.Error();

    /// <summary>Every element negated.</summary>
    public static Tensor operator -(Tensor a) => throw Symbolic.Error();
}

internal static class Symbolic
{
    public static InvalidOperationException Error() =>
        new("Authoring models are symbolic: call the generated Infer/TrainStep methods, not Forward.");
}
