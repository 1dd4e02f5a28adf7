// Arena planning: every buffer of a program gets an offset (in floats per sample) so that buffers alive at
// the same time never overlap; buffers pinned for the backward pass live to the end of the step.
using System.Collections.Generic;
using System.Linq;

namespace Authoring.Generators.Passes;

internal static class Arena
{
    public static void Allocate(Program p)
    {
        var steps = p.Steps;
        p.Buffers[p.Input.Buffer].Touch(-1);
        foreach (var s in steps)
            foreach (var r in s.Operands()) p.Buffers[r.Buffer].Touch(s.Index);
        p.Buffers[p.Output.Buffer].Touch(steps.Count);
        foreach (var b in p.Buffers)
        {
            if (b.LastUse < 0) b.Touch(steps.Count);
            if (b.Pinned) b.LastUse = steps.Count + 1;
        }

        // Floats and packed bits live in two arenas (a float array and a ulong array), each planned alike.
        p.ArenaPerSample = Place(p.Buffers.Where(b => !b.Bits), "floats");
        p.BitArenaPerSample = Place(p.Buffers.Where(b => b.Bits), "words");
    }

    static int Place(IEnumerable<Buffer> buffers, string unit)
    {
        var placed = new List<Buffer>();
        long end = 0;
        foreach (var b in buffers.OrderBy(b => b.FirstUse).ThenByDescending(b => b.PerSample))
        {
            var overlapping = placed.Where(o => o.FirstUse <= b.LastUse && b.FirstUse <= o.LastUse).OrderBy(o => o.Offset).ToList();
            long offset = 0;
            foreach (var o in overlapping)
            {
                if (offset + b.PerSample <= o.Offset) break;
                offset = System.Math.Max(offset, (long)o.Offset + o.PerSample);
            }
            if (offset + b.PerSample > int.MaxValue)
                throw new ModelTooLargeException($"its activations need more than {int.MaxValue} {unit} per sample");
            b.Offset = (int)offset;
            placed.Add(b);
            end = System.Math.Max(end, offset + b.PerSample);
        }
        return (int)end;
    }
}

/// <summary>A model whose sizes do not fit the generated code's int arithmetic; reported as AUT0011, not as an internal error.</summary>
internal sealed class ModelTooLargeException : System.Exception
{
    public ModelTooLargeException(string message) : base(message) { }
}
