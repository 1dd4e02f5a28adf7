// The attributes a model class is written with. The generator reads them; they carry no logic.
namespace Authoring;

/// <summary>Marks a <c>partial class</c> as a model: the generator compiles its <c>Forward</c> method.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute
{
    /// <summary>What a training step minimises (default: cross-entropy against class labels). An output the loss
    /// cannot train (cross-entropy over one class, say) is a compile error.</summary>
    public Loss Loss { get; set; } = Loss.CrossEntropy;

    /// <summary>Label smoothing of the cross-entropy, in [0, 1) (PyTorch's <c>label_smoothing</c>).</summary>
    public float LabelSmoothing { get; set; }
}

/// <summary>The training loss of a model, as PyTorch defines each with mean reduction.</summary>
public enum Loss
{
    /// <summary>Softmax cross-entropy over the last axis of the output: (classes) with one integer label per sample,
    /// or (N, classes) with one label per position (language modelling); label -100 is ignored.</summary>
    CrossEntropy,
    /// <summary>Mean squared error against float targets of the output's shape.</summary>
    Mse,
    /// <summary>Mean absolute error against float targets of the output's shape.</summary>
    L1,
    /// <summary>Binary cross-entropy on logits (sigmoid inside) against float targets in [0, 1] of the output's shape:
    /// multi-label classification.</summary>
    BceWithLogits,
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
