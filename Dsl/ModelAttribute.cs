// The attributes a model class is written with. The generator reads them; they carry no logic.
namespace Authoring;

/// <summary>Marks a <c>partial class</c> as a model: the generator compiles its <c>Forward</c> method.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute
{
}

/// <summary>Declares the static shape of one sample of a forward input (batch excluded), e.g. <c>[Shape(1, 28, 28)]</c>.</summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false)]
public sealed class ShapeAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="dims">Dimensions per sample: (features) or (channels, height, width).</param>
    public ShapeAttribute(params int[] dims) => Dims = dims;

    /// <summary>Dimensions per sample.</summary>
    public int[] Dims { get; }
}
