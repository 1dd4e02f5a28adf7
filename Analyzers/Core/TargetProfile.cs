// The target profile: which hardware the model is tuned for, and the thresholds each rule reads.
// Chosen per file by the .editorconfig key `authoring_target_profile`, else by the MSBuild property
// `AuthoringTargetProfile` (made visible to analyzers by build/Authoring.Analyzers.props), else cpu-avx2.
using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Authoring.Analyzers.Core;

/// <summary>Thresholds and capabilities of one target. The numbers are our own proposals unless a rule's help page cites a source.</summary>
internal sealed record TargetProfile(
    string Name,
    bool IsGpu,
    int ChannelMultiple,
    int GroupsThreshold,
    int FragmentThreshold,
    int ElementwiseChain,
    int DepthwiseKernel,
    int SeMinDownsample,
    int WidthRatio,
    bool CostlyActivations,
    bool PreferNhwc,
    bool MaxPoolPaddingUnsupported)
{
    public const string EditorConfigKey = "authoring_target_profile";
    public const string MsBuildKey = "build_property.AuthoringTargetProfile";
    public const string DeployEditorConfigKey = "authoring_deploy";
    public const string DeployMsBuildKey = "build_property.AuthoringDeploy";

    /// <summary>AVX2 fp32: 8 lanes per vector register.</summary>
    public static readonly TargetProfile CpuAvx2 = new("cpu-avx2", IsGpu: false, ChannelMultiple: 8, GroupsThreshold: 8,
        FragmentThreshold: 4, ElementwiseChain: 3, DepthwiseKernel: 7, SeMinDownsample: 4, WidthRatio: 4,
        CostlyActivations: true, PreferNhwc: false, MaxPoolPaddingUnsupported: false);

    /// <summary>AVX-512 fp32: 16 lanes per vector register.</summary>
    public static readonly TargetProfile CpuAvx512 = CpuAvx2 with { Name = "cpu-avx512", ChannelMultiple = 16 };

    /// <summary>Tensor-core GPU in fp16: 8-element multiples; fragmentation hurts more than on CPU (SNv2 G3).</summary>
    public static readonly TargetProfile Gpu = CpuAvx2 with
    {
        Name = "gpu", IsGpu = true, ChannelMultiple = 8, FragmentThreshold = 3, CostlyActivations = false,
        PreferNhwc = true, MaxPoolPaddingUnsupported = true,
    };

    public static TargetProfile Default => CpuAvx2;

    public static TargetProfile? Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "cpu-avx2" or "avx2" => CpuAvx2,
        "cpu-avx512" or "avx512" or "cpu-avx-512" => CpuAvx512,
        "gpu" => Gpu,
        _ => null,
    };

    /// <summary>.editorconfig (per file) first, then the MSBuild property, then the default. Unknown values fall back to the default.</summary>
    public static TargetProfile From(AnalyzerConfigOptionsProvider provider, SyntaxTree tree)
    {
        var local = provider.GetOptions(tree);
        if (local.TryGetValue(EditorConfigKey, out var v) && Parse(v) is { } p) return p;
        if (provider.GlobalOptions.TryGetValue(MsBuildKey, out var g) && Parse(g) is { } q) return q;
        return Default;
    }

    /// <summary>Whether this build targets deployment (multi-branch training blocks should be collapsed).</summary>
    public static bool IsDeploy(AnalyzerConfigOptionsProvider provider, SyntaxTree tree)
    {
        var local = provider.GetOptions(tree);
        if (local.TryGetValue(DeployEditorConfigKey, out var v) && bool.TryParse(v.Trim(), out var b)) return b;
        if (provider.GlobalOptions.TryGetValue(DeployMsBuildKey, out var g) && bool.TryParse(g.Trim(), out var c)) return c;
        return false;
    }
}
