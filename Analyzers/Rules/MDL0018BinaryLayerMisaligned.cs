// MDL0018: a binary conv or linear layer whose channels do not fill the packed form's words: the XNOR-popcount
// kernels (Runtime BitPack / BinaryConvKernel) pack 64 input channels to a 64-bit word and compute 16 output
// channels side by side, so other counts pad every word or block with bits that cost the same work and carry
// nothing. (Larq Compute Engine has the same constraint at its widths: 32 input channels, 8 outputs.)
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0018BinaryLayerMisaligned : ModelRule
{
    public const string Id = "MDL0018";

    /// <summary>Input channels per packed word and output channels per packed weight block.</summary>
    const int Word = 64, Lanes = 16;

    // {0}: layer, {1}: which count, {2}: the count, {3}: the width, {4}: the next multiple
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Binary layer does not fill its packed words",
        "Binary layer '{0}' has {2} {1}, not a multiple of {3}: the packed XNOR-popcount form pads to {4} and computes the padding too",
        DiagnosticSeverity.Warning,
        "Binary layers pack 64 input channels per 64-bit word and compute 16 output channels per block; other counts waste bits.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        foreach (var n in ctx.Graph.Nodes)
        {
            bool conv = n.Op == OpKind.BinaryConv2d;
            if (!conv && n.Op != OpKind.BinaryLinear) continue;
            int cin = n.Ints[0], cout = n.Ints[1];
            var site = ctx.Layer(n);
            if (site is null) continue;
            string inName = conv ? "inChannels" : "inFeatures", outName = conv ? "outChannels" : "outFeatures";
            string inWhat = conv ? "input channels" : "input features", outWhat = conv ? "output channels" : "output features";
            if (cin % Word != 0)
                ctx.Report(Rule, site.LocationOf(inName), null, null, n.Layer, inWhat, cin, Word, Round(cin, Word));
            else if (cout % Lanes != 0)
                ctx.Report(Rule, site.LocationOf(outName), null, null, n.Layer, outWhat, cout, Lanes, Round(cout, Lanes));
        }
    }

    static int Round(int v, int m) => (v + m - 1) / m * m;
}
