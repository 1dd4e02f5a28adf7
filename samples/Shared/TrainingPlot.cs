// Training curves as a PNG: loss (left) and accuracy (right) per epoch, train and test, drawn with ScottPlot on
// SkiaSharp's raster backend (no display needed; checked headless on Debian 12).
using Authoring.Runtime.Training;
using ScottPlot;

namespace Authoring.Samples;

/// <summary>Draws a run's per-epoch figures.</summary>
public static class TrainingPlot
{
    /// <summary>Where the curves of a checkpoint go: beside it, <c>name-curves.png</c>.</summary>
    public static string PathFor(string checkpoint)
    {
        string full = Path.GetFullPath(checkpoint);
        return Path.Combine(Path.GetDirectoryName(full) ?? ".", Path.GetFileNameWithoutExtension(full) + "-curves.png");
    }

    /// <summary>Writes loss and accuracy against epoch (train and, where measured, test) to <paramref name="path"/>.</summary>
    public static void Save(IReadOnlyList<EpochStats> history, string path, string title, int width = 1100, int height = 420)
    {
        ArgumentNullException.ThrowIfNull(history);
        double[] epochs = history.Select(h => (double)h.Epoch).ToArray();
        bool hasTest = history.All(h => !double.IsNaN(h.TestLoss));
        var multi = new Multiplot();
        multi.AddPlots(2);
        multi.Layout = new ScottPlot.MultiplotLayouts.Columns();

        var loss = multi.GetPlot(0);
        Line(loss, epochs, history.Select(h => h.TrainLoss), "train");
        if (hasTest) Line(loss, epochs, history.Select(h => h.TestLoss), "test");
        Frame(loss, $"{title}: loss", "mean cross-entropy", Alignment.UpperRight);

        var acc = multi.GetPlot(1);
        Line(acc, epochs, history.Select(h => 100 * h.TrainAccuracy), "train");
        if (hasTest) Line(acc, epochs, history.Select(h => 100 * h.TestAccuracy), "test");
        Frame(acc, $"{title}: accuracy", "accuracy (%)", Alignment.LowerRight);

        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        multi.SavePng(full, width, height);
    }

    static void Line(Plot plot, double[] xs, IEnumerable<double> ys, string label)
    {
        var s = plot.Add.Scatter(xs, ys.ToArray());
        s.LegendText = label;
        s.LineWidth = 2;
        s.MarkerSize = 6;
    }

    static void Frame(Plot plot, string title, string yLabel, Alignment legend)
    {
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel(yLabel);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.ShowLegend(legend);
    }
}
