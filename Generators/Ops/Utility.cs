// Kernels every lowering uses: copying a region between buffers (concat parts that could not be written in
// place) and clearing a gradient buffer before partial writes accumulate into it.
using Authoring.Generators.Emit;

namespace Authoring.Generators.Ops;

internal static class Utility
{
    /// <summary>Io: source, destination; <c>Size</c> floats per sample; accumulates when the step says so.</summary>
    public static readonly Kernel Copy = new("Copy",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.ChannelKernel.Copy(n, {s.Size}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.Copy(n, {s.Size}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: the buffer (shift 0), <c>Size</c> = its floats per sample.</summary>
    public static readonly Kernel Clear = new("Clear",
        (c, s) =>
        {
            var b = c.Program.Buffers[s.Io[0].Buffer];
            c.Line($"global::System.Array.Clear(A, n * {b.Offset}, n * {b.PerSample});");
        },
        (g, s) =>
        {
            var b = g.Program.Buffers[s.Io[0].Buffer];
            g.Line($"__k.Clear(A.SubView((long)n * {b.Offset}, n * {b.PerSample}));");
        });
}
