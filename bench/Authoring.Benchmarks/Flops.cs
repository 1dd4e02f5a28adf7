// Floating-point work per benchmark call, the GFLOP/s column it feeds and a TSV export that
// bench/run.sh uses to compare our kernels with the better of two TorchSharp runs.
using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Authoring.Benchmarks;

/// <summary>Implemented by benchmark classes whose cases have a known floating-point operation count.
/// The class needs a public parameterless constructor without side effects (the column creates one).</summary>
public interface IFlopCount
{
    /// <summary>Floating-point operations one call of <paramref name="benchmarkCase"/> performs
    /// (a multiply-add counts two).</summary>
    double Flops(BenchmarkCase benchmarkCase);
}

/// <summary>Shared helpers for the flop-based column and exporter.</summary>
internal static class FlopMath
{
    /// <summary>Operations per call, or null when the class does not count them.</summary>
    public static double? Flops(BenchmarkCase benchmarkCase)
        => Activator.CreateInstance(benchmarkCase.Descriptor.Type) is IFlopCount counter
            ? counter.Flops(benchmarkCase)
            : null;

    /// <summary>GFLOP/s from the median time (ns), or null without results.</summary>
    public static double? Gflops(Summary summary, BenchmarkCase benchmarkCase)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        double? flops = Flops(benchmarkCase);
        return stats is null || flops is null || stats.Median <= 0 ? null : flops / stats.Median;
    }
}

/// <summary>GFLOP/s at the median time.</summary>
public sealed class GflopsColumn : IColumn
{
    /// <inheritdoc />
    public string Id => nameof(GflopsColumn);

    /// <inheritdoc />
    public string ColumnName => "GFLOP/s";

    /// <inheritdoc />
    public bool AlwaysShow => true;

    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc />
    public int PriorityInCategory => 0;

    /// <inheritdoc />
    public bool IsNumeric => true;

    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc />
    public string Legend => "Floating-point operations per second at the median time, in billions";

    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => FlopMath.Flops(c) is not null);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        => FlopMath.Gflops(summary, benchmarkCase) is double g ? g.ToString("F1", CultureInfo.InvariantCulture) : "NA";
}

/// <summary>One line per case: class, method, baseline flag, parameters, median and mean (ns), GFLOP/s,
/// managed bytes allocated per call. Written as results/*-flops.tsv next to BenchmarkDotNet's reports.</summary>
public sealed class FlopsTsvExporter : ExporterBase
{
    /// <inheritdoc />
    protected override string FileExtension => "tsv";

    /// <inheritdoc />
    protected override string FileCaption => "flops";

    /// <inheritdoc />
    public override void ExportToLog(Summary summary, ILogger logger)
    {
        var inv = CultureInfo.InvariantCulture;
        logger.WriteLine("class\tmethod\tbaseline\tparams\tmedian_ns\tmean_ns\tgflops\talloc_bytes");
        foreach (var report in summary.Reports)
        {
            var c = report.BenchmarkCase;
            var stats = report.ResultStatistics;
            string p = string.Join(",", c.Parameters.Items.Select(i => $"{i.Name}={i.Value}"));
            string median = stats is null ? "NA" : stats.Median.ToString("F1", inv);
            string mean = stats is null ? "NA" : stats.Mean.ToString("F1", inv);
            string gflops = FlopMath.Gflops(summary, c) is double g ? g.ToString("F2", inv) : "NA";
            string alloc = report.GcStats.GetBytesAllocatedPerOperation(c) is long b ? b.ToString(inv) : "NA";
            logger.WriteLine(string.Join("\t", c.Descriptor.Type.Name, c.Descriptor.WorkloadMethod.Name,
                c.Descriptor.Baseline ? "1" : "0", p.Length == 0 ? "-" : p, median, mean, gflops, alloc));
        }
    }
}
