// Fashion-MNIST (Xiao et al. 2017) from the IDX .gz files of Debian's dataset-fashion-mnist package:
// 60000 training and 10000 test 28x28 greyscale images in 10 balanced classes. Pixels are scaled to
// [0, 1] and standardised with the training set's mean and std (0.2860, 0.3530), the usual torchvision
// Normalize for this dataset, so numbers match PyTorch recipes.
using System.Numerics.Tensors;

namespace Authoring.Runtime.Data;

/// <summary>Loads Fashion-MNIST.</summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist/";
    /// <summary>Training-set pixel mean after scaling to [0, 1].</summary>
    public const float Mean = 0.2860f;
    /// <summary>Training-set pixel standard deviation after scaling to [0, 1].</summary>
    public const float Std = 0.3530f;
    /// <summary>Image side in pixels.</summary>
    public const int Size = 28;
    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>Class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads the training and test sets from <paramref name="directory"/> (default <see cref="DefaultDirectory"/>).</summary>
    /// <returns>Images of shape (1, 28, 28), normalised; labels 0..9.</returns>
    /// <exception cref="FileNotFoundException">A file is missing; the message says how to install the dataset.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt or image and label counts disagree.</exception>
    public static (LabeledImages Train, LabeledImages Test) Load(string? directory = null)
    {
        string dir = directory ?? DefaultDirectory;
        var train = LoadSplit(dir, "train");
        var test = LoadSplit(dir, "t10k");
        return (train, test);
    }

    /// <summary>Loads the test set only (10,000 images): what inference needs, without decoding the training set.</summary>
    /// <returns>Images of shape (1, 28, 28), normalised as <see cref="Load"/> does; labels 0..9.</returns>
    /// <exception cref="FileNotFoundException">A file is missing; the message says how to install the dataset.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt or image and label counts disagree.</exception>
    public static LabeledImages LoadTest(string? directory = null) => LoadSplit(directory ?? DefaultDirectory, "t10k");

    /// <summary>Loads one split, <paramref name="prefix"/> "train" or "t10k". Counts are not pinned to 60000/10000 so a
    /// directory holding a subset in the same format loads too; images and labels must agree.</summary>
    static LabeledImages LoadSplit(string dir, string prefix)
    {
        string imagesPath = Path.Combine(dir, prefix + "-images-idx3-ubyte.gz");
        string labelsPath = Path.Combine(dir, prefix + "-labels-idx1-ubyte.gz");
        foreach (var p in new[] { imagesPath, labelsPath })
            if (!File.Exists(p))
                throw new FileNotFoundException(
                    $"Fashion-MNIST file '{p}' not found. Install the dataset with `sudo apt-get install dataset-fashion-mnist` " +
                    $"(it puts the files in {DefaultDirectory}), or pass the directory holding " +
                    "train-/t10k-images-idx3-ubyte.gz and train-/t10k-labels-idx1-ubyte.gz.", p);

        var pixels = Idx.ReadImages(imagesPath, out int count, out int rows, out int cols);
        var rawLabels = Idx.ReadLabels(labelsPath);
        if (rows != Size || cols != Size)
            throw new InvalidDataException($"{imagesPath}: images are {rows}x{cols}, expected {Size}x{Size}.");
        if (rawLabels.Length != count)
            throw new InvalidDataException($"{labelsPath} holds {rawLabels.Length} labels but {imagesPath} holds {count} images.");

        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            if (rawLabels[i] >= ClassCount)
                throw new InvalidDataException($"{labelsPath}: label {rawLabels[i]} of sample {i} is outside 0..{ClassCount - 1}.");
            labels[i] = rawLabels[i];
        }
        return new LabeledImages(Normalize(pixels), labels, 1, Size, Size, ClassCount);
    }

    /// <summary>(p / 255 - mean) / std for every pixel, as p * a + b with a = 1 / (255 std), b = -mean / std
    /// (vectorized; within a few ulp of the two-step form).</summary>
    internal static float[] Normalize(byte[] pixels)
    {
        var result = new float[pixels.Length];
        TensorPrimitives.ConvertChecked<byte, float>(pixels, result);
        TensorPrimitives.Multiply(result, 1f / (255f * Std), result);
        TensorPrimitives.Add(result, -Mean / Std, result);
        return result;
    }
}
