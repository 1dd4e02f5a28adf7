// Deployment.Compare against two hand-built regressions whose disagreement is known exactly.
using Authoring.Runtime.Data;
using Authoring.Runtime.Training;

namespace Authoring.Runtime.Tests.Training;

public class DeploymentTests
{
    static LabeledImages Data(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count * 8];
        var y = new int[count];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < count; i++) y[i] = rng.Next(3);
        return new LabeledImages(x, y, 1, 2, 4, 3);
    }

    [Fact]
    public void IdenticalModelsAgreeEverywhere()
    {
        var data = Data(37, 1);
        var a = new SoftmaxRegression([1, 2, 4], 3, 16, seed: 5);
        var b = new SoftmaxRegression([1, 2, 4], 3, 16, seed: 5);
        var r = Deployment.Compare(a, b, data, batchSize: 16);
        Assert.Equal(37, r.Count);
        Assert.Equal(37, r.SamePredictions);
        Assert.Equal(0, r.MaxLogitDifference);
        Assert.Equal(r.TrainedAccuracy, r.DeployAccuracy);
        Assert.True(r.LogitScale > 0);
    }

    [Fact]
    public void ABiasShiftIsMeasuredAndFlipsPredictions()
    {
        var data = Data(50, 2);
        var a = new SoftmaxRegression([1, 2, 4], 3, 16, seed: 5);
        var b = new SoftmaxRegression([1, 2, 4], 3, 16, seed: 5);
        // A large bias on class 2 makes b predict class 2 everywhere: the logit difference is exactly 100.
        b.Parameters.Value(1)[2] += 100f;
        var r = Deployment.Compare(a, b, data, batchSize: 16);
        Assert.Equal(100, r.MaxLogitDifference, 3);
        int aPredictsTwo = 0;
        var logits = new float[3];
        for (int i = 0; i < data.Count; i++)
        {
            a.Infer(data.Image(i), 1, logits);
            if (logits[2] >= logits[0] && logits[2] >= logits[1]) aPredictsTwo++;
        }
        Assert.Equal(aPredictsTwo, r.SamePredictions);
        Assert.Equal(data.Labels.Count(l => l == 2) / (double)data.Count, r.DeployAccuracy, 12);
    }

    [Fact]
    public void RejectsMismatchedModels()
    {
        var data = Data(4, 3);
        var a = new SoftmaxRegression([1, 2, 4], 3, 16);
        var b = new SoftmaxRegression([1, 2, 4], 4, 16);
        Assert.Throws<ArgumentException>(() => Deployment.Compare(a, b, data));
        Assert.Throws<ArgumentException>(() => Deployment.ImagesPerSecond(a, data, batch: 5));
    }
}
