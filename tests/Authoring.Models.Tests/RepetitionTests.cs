// Loops and layer arrays are unrolled at compile time into the graph a hand-written model has: LoopNet (a for
// loop over layer arrays, a helper taking a layer) against the same network unrolled by hand, with the same
// parameter names (UnrolledNet) and with one field per layer (FieldsNet). Same graph, same generated code: the
// outputs, loss and gradients must be bitwise equal, not merely close. LoopNet's own forward and gradients are
// checked against the reference interpreter and finite differences in GradientTests.
using Authoring.Models.Tests.Models;
using Authoring.Runtime;

namespace Authoring.Models.Tests;

public class RepetitionTests
{
    [Fact]
    public void LoopAndHandUnrolledHaveTheSameParameters()
    {
        // nn.Sequential / nn.ModuleList names: stage.0.rbr_dense.conv.weight ... mix.1.bias.
        Assert.Equal(Describe(UnrolledNet.ParameterInfos), Describe(LoopNet.ParameterInfos));
        Assert.Contains("stage.0.rbr_dense.conv.weight [4, 3, 3, 3]", Describe(LoopNet.ParameterInfos));
        Assert.Contains("stage.3.rbr_identity.running_var [6]", Describe(LoopNet.ParameterInfos));
        Assert.Contains("mix.1.weight [6, 6, 1, 1]", Describe(LoopNet.ParameterInfos));
        // One field per layer: the same tensors in the same order under their field names.
        Assert.Equal(Describe(FieldsNet.ParameterInfos).Select(FieldToArrayName), Describe(LoopNet.ParameterInfos));
    }

    [Fact]
    public void LoopEqualsTheArraysIndexedByHand() => AssertSame(new LoopNet(), new UnrolledNet(), name => name);

    [Fact]
    public void LoopEqualsOneFieldPerLayer() => AssertSame(new LoopNet(), new FieldsNet(), FieldToArrayName);

    static string[] Describe(IReadOnlyList<ParameterInfo> infos) => infos.Select(i => $"{i.Name} [{string.Join(", ", i.Shape)}]").ToArray();

    /// <summary>s2.rbr_dense.conv.weight -> stage.2.rbr_dense.conv.weight, m1.bias -> mix.1.bias.</summary>
    static string FieldToArrayName(string name) =>
        name.Length > 1 && char.IsDigit(name[1]) ? (name[0] == 's' ? "stage." : name[0] == 'm' ? "mix." : "") + name.Substring(1) : name;

    static void AssertSame(IModel loop, IModel other, Func<string, string> toLoopName)
    {
        GradientTests.Randomize(loop.Parameters, 5);
        for (int i = 0; i < other.Parameters.Infos.Count; i++)
            loop.Parameters.Value(toLoopName(other.Parameters.Infos[i].Name)).CopyTo(other.Parameters.Value(i));

        const int n = 3;
        var x = GradientTests.RandomInput(n * loop.InputSize, 6);
        var labels = new[] { 0, 2, 1 };
        var a = new float[n * loop.OutputSize];
        var b = new float[n * other.OutputSize];
        loop.Infer(x, n, a);
        other.Infer(x, n, b);
        Assert.Equal(a, b);

        var ra = loop.TrainStep(x, labels, n);
        var rb = other.TrainStep(x, labels, n);
        Assert.Equal(ra.Loss, rb.Loss);
        Assert.True(ra.Loss > 0);
        for (int i = 0; i < other.Parameters.Infos.Count; i++)
        {
            string name = toLoopName(other.Parameters.Infos[i].Name);
            int j = loop.Parameters.IndexOf(name);
            Assert.True(loop.Parameters.Grad(j).ToArray().SequenceEqual(other.Parameters.Grad(i).ToArray()), "d loss / d " + name);
            // Running statistics after the step, too.
            Assert.True(loop.Parameters.Value(j).ToArray().SequenceEqual(other.Parameters.Value(i).ToArray()), name);
        }
        Assert.Contains(Enumerable.Range(0, loop.Parameters.Infos.Count), j => loop.Parameters.Grad(j).ToArray().Any(g => g != 0));
    }
}
