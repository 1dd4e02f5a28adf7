// The cosine schedule against PyTorch's CosineAnnealingLR closed form, and its linear warm-up.
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Tests.Optim;

public class CosineScheduleTests
{
    [Fact]
    public void WithoutWarmupMatchesCosineAnnealingLrClosedForm()
    {
        var s = new CosineSchedule(0.1f, MinLearningRate: 0.001f);
        const int T = 10;
        for (int t = 0; t < T; t++)
        {
            double expected = 0.001 + (0.1 - 0.001) * (1 + Math.Cos(Math.PI * t / T)) / 2;
            Assert.Equal(expected, s.LearningRate(t, T), 6); // float result: 6 decimals
        }
        Assert.Equal(0.1f, s.LearningRate(0, T));
    }

    [Fact]
    public void WarmupRisesLinearlyThenAnnealsFromThePeak()
    {
        var s = new CosineSchedule(1f, Warmup: 4);
        Assert.Equal([0.25f, 0.5f, 0.75f, 1f], Enumerable.Range(0, 4).Select(t => s.LearningRate(t, 14)).ToArray());
        Assert.Equal(1f, s.LearningRate(4, 14));          // cosine starts at the peak
        Assert.Equal(0.5, s.LearningRate(9, 14), 6);      // halfway through the 10 cosine positions
        Assert.True(s.LearningRate(13, 14) < 0.03f);      // near the floor at the end
    }

    [Fact]
    public void UnitSelectsStepsOrEpochs()
    {
        var perEpoch = new CosineSchedule(1f, Unit: ScheduleUnit.Epoch);
        var perStep = new CosineSchedule(1f, Unit: ScheduleUnit.Step);
        // Epoch 1 of 4, step 3 of 10: per epoch, position 1 of 4; per step, position 13 of 40.
        Assert.Equal(perEpoch.LearningRate(1, 4), perEpoch.LearningRate(1, 3, 4, 10));
        Assert.Equal(perStep.LearningRate(13, 40), perStep.LearningRate(1, 3, 4, 10));
        Assert.NotEqual(perEpoch.LearningRate(1, 3, 4, 10), perStep.LearningRate(1, 3, 4, 10));
    }
}
