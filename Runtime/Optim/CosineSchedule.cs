// Learning-rate schedule: optional linear warm-up, then cosine annealing to a floor. The cosine part is
// PyTorch's CosineAnnealingLR closed form, eta_t = min + (base - min) * (1 + cos(pi * t / T)) / 2, with
// t and T counted after the warm-up; positions are optimizer steps or epochs.
namespace Authoring.Runtime.Optim;

/// <summary>What a schedule position counts.</summary>
public enum ScheduleUnit
{
    /// <summary>The learning rate changes before every optimizer step.</summary>
    Step,
    /// <summary>The learning rate changes at the start of every epoch.</summary>
    Epoch,
}

/// <summary>Cosine annealing from <paramref name="BaseLearningRate"/> to <paramref name="MinLearningRate"/>,
/// after <paramref name="Warmup"/> positions of linear warm-up.</summary>
/// <param name="BaseLearningRate">Peak learning rate, reached when warm-up ends.</param>
/// <param name="MinLearningRate">Floor the cosine decays towards (PyTorch's eta_min).</param>
/// <param name="Warmup">Warm-up length in <paramref name="Unit"/>s; position t &lt; Warmup uses base * (t + 1) / Warmup.</param>
/// <param name="Unit">Whether positions are optimizer steps or epochs.</param>
public sealed record CosineSchedule(float BaseLearningRate, float MinLearningRate = 0f, int Warmup = 0, ScheduleUnit Unit = ScheduleUnit.Step)
{
    /// <summary>The learning rate at position <paramref name="t"/> (0-based) of <paramref name="total"/> positions.</summary>
    public float LearningRate(long t, long total)
    {
        if (total <= 0) throw new ArgumentOutOfRangeException(nameof(total), total, "A schedule needs at least one position.");
        if (t < 0) throw new ArgumentOutOfRangeException(nameof(t), t, "Schedule positions start at 0.");
        int warmup = Math.Max(0, Warmup);
        // Warm-up starts at base / Warmup rather than 0, so the first step is not wasted.
        if (t < warmup) return (float)((double)BaseLearningRate * (t + 1) / warmup);
        long span = total - warmup;
        if (span <= 0) return BaseLearningRate;
        double progress = Math.Min(1.0, (double)(t - warmup) / span);
        return (float)(MinLearningRate + (BaseLearningRate - (double)MinLearningRate) * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>The learning rate for optimizer step <paramref name="step"/> of epoch <paramref name="epoch"/> (both 0-based),
    /// counting in <see cref="Unit"/>.</summary>
    public float LearningRate(int epoch, int step, int epochs, int stepsPerEpoch) => Unit == ScheduleUnit.Epoch
        ? LearningRate(epoch, epochs)
        : LearningRate((long)epoch * stepsPerEpoch + step, (long)epochs * stepsPerEpoch);
}
