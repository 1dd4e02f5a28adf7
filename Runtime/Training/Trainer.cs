// The training loop around a generated IModel: shuffled mini-batches, TrainStep, optimizer step, an
// optional learning-rate schedule, evaluation with Infer, progress output and checkpoints. Batch
// buffers are allocated once, so the loop allocates nothing per step (progress text aside, which is
// written at most ~100 times per epoch). A non-finite loss or gradient stops training at its step; a
// checkpoint is written only when every value is finite, with a training-state file beside it from
// which a run resumes bit for bit (TrainerOptions.Resume).
using System.Diagnostics;
using System.Globalization;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Training;

/// <summary>Trains an <see cref="IModel"/> with an <see cref="IOptimizer"/>.</summary>
public sealed class Trainer
{
    const int BarWidth = 30;

    readonly IModel _model;
    readonly IOptimizer _optimizer;
    readonly bool _optimizerInModel; // the model's TrainStep runs the optimizer (on its device)
    readonly TrainerOptions _options;
    readonly TextWriter _log;
    readonly bool _bar;
    readonly bool _progress;
    Buffers? _evalBuffers;
    float[] _evalOutput = [];
    int _barLength; // widest bar drawn this epoch, so clearing it covers it all
    readonly string _unit; // throughput unit: images for (C, H, W) inputs, samples otherwise

    /// <summary>Creates a trainer.</summary>
    /// <param name="model">The compiled model.</param>
    /// <param name="optimizer">Steps <paramref name="model"/>'s parameters.</param>
    /// <param name="options">Run settings; null for the defaults.</param>
    public Trainer(IModel model, IOptimizer optimizer, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        _model = model;
        _optimizer = optimizer;
        // A device-trained model steps its own optimizer inside TrainStep: the trainer then only schedules it, and a
        // second optimizer here would update the same parameters twice.
        if (model is IDeviceTrainedModel { DeviceOptimizer: { } onDevice })
        {
            if (!ReferenceEquals(onDevice, optimizer))
                throw new ArgumentException($"{model.Name} runs {onDevice.GetType().Name} on the device inside TrainStep; pass that optimizer to the Trainer (or set the model's Optimizer to null to train with a host optimizer).", nameof(optimizer));
            _optimizerInModel = true;
        }
        _options = options ?? new TrainerOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.Epochs, "options.Epochs");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.BatchSize, "options.BatchSize");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.EvalBatchSize, "options.EvalBatchSize");
        _log = _options.Log ?? Console.Out;
        // '\r' redraws only make sense on a terminal; a redirected log gets a line per ~10% instead.
        _bar = _options.Progress switch
        {
            ProgressMode.Bar => true,
            ProgressMode.Auto => _options.Log is null && !Console.IsOutputRedirected,
            _ => false,
        };
        _progress = _options.Progress != ProgressMode.None;
        _unit = model.InputShape.Count == 3 ? "img/s" : "samples/s";
    }

    /// <summary>Trains for <see cref="TrainerOptions.Epochs"/> epochs, evaluating on <paramref name="test"/> after each.
    /// With <see cref="TrainerOptions.Resume"/> and a training-state file beside <see cref="TrainerOptions.CheckpointPath"/>,
    /// continues from where that run stopped instead of from epoch 1.</summary>
    /// <param name="train">Training samples; their shape must match the model's input.</param>
    /// <param name="test">Optional held-out samples.</param>
    /// <returns>One entry per epoch run by this call (a resumed run's entries continue its epoch numbers).</returns>
    /// <exception cref="NonFiniteException">The loss, a gradient or, at the end of an epoch, a parameter or running statistic
    /// is NaN or infinite. Training stops at that step; no checkpoint is written after the last good one.</exception>
    public IReadOnlyList<EpochStats> Fit(LabeledImages train, LabeledImages? test = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (test is not null) CheckShape(_model, test, nameof(test));
        CheckShape(_model, train, nameof(train));
        return Fit(train.ToSampleSet(), test?.ToSampleSet());
    }

    /// <summary>Trains on any inputs and targets the model takes: float samples or token ids, with integer labels
    /// (cross-entropy, one per sample or per position) or float targets (MSE, L1, BCE with logits), as
    /// <see cref="Fit(LabeledImages, LabeledImages?)"/> does for images.</summary>
    /// <param name="train">Training samples; <see cref="SampleSet.CheckFits"/> must accept them for the model.</param>
    /// <param name="test">Optional held-out samples.</param>
    /// <returns>One entry per epoch run by this call. Accuracy is NaN for MSE and L1.</returns>
    /// <exception cref="NonFiniteException">As <see cref="Fit(LabeledImages, LabeledImages?)"/>.</exception>
    public IReadOnlyList<EpochStats> Fit(SampleSet train, SampleSet? test = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        train.CheckFits(_model, nameof(train));
        test?.CheckFits(_model, nameof(test));

        var o = _options;
        var batches = new BatchIterator(train, o.BatchSize, shuffle: true, o.Seed, o.DropLast);
        var buffers = new Buffers(train, o.BatchSize);
        var history = new List<EpochStats>(o.Epochs);
        int steps = batches.BatchesPerEpoch;
        if (steps == 0) throw new ArgumentException($"The training set ({train.Count} samples) has no full batch of {o.BatchSize}.", nameof(train));

        var position = new TrainingPosition(0, o.Seed, o.BatchSize, o.DropLast, train.Count, _model.TrainSteps);
        string? statePath = o.CheckpointPath is { } cp ? TrainingStatePath(cp) : null;
        int start = 0;
        if (o.Resume)
        {
            if (statePath is null) throw new InvalidOperationException("TrainerOptions.Resume needs TrainerOptions.CheckpointPath: the training state is kept beside the checkpoint.");
            if (File.Exists(statePath))
            {
                start = TrainingState.Load(statePath, _model, _optimizer, position, out var notes).EpochsDone;
                // The iterator drew epoch 0's order when created and draws one more per epoch: replay the epochs done.
                for (int e = 0; e < start; e++) batches.Reset();
                _log.WriteLine($"Resuming {_model.Name} after epoch {start} from {statePath} ({_optimizer.StepCount} optimizer steps).");
                foreach (var n in notes) _log.WriteLine($"note: {n}; the resumed run will differ from an uninterrupted one.");
            }
            else _log.WriteLine($"No training state at {statePath}: starting from epoch 1.");
        }

        _log.WriteLine($"Training {_model.Name}: {_model.Parameters.TrainableCount:N0} parameters, {train.Count:N0} training samples, " +
                       $"{o.Epochs} epoch{(o.Epochs == 1 ? "" : "s")} of {steps} steps (batch {o.BatchSize}), {_optimizer.GetType().Name}.");
        bool regression = _model.Loss is Loss.Mse or Loss.L1;
        for (int epoch = start; epoch < o.Epochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            if (epoch > start) batches.Reset();
            // Spiking models: firing rates over this epoch's training steps (evaluation would add its own passes).
            _model.ResetFiringRates();
            double lossSum = 0;
            long correct = 0, counted = 0, seen = 0;
            int lastShown = -1;
            for (int step = 0; step < steps; step++)
            {
                if (o.Schedule is { } s) _optimizer.LearningRate = s.LearningRate(epoch, step, o.Epochs, steps);
                batches.Next(buffers.Inputs, buffers.Tokens, buffers.Labels, buffers.Targets, out int n);
                // A last batch of one sample has no batch statistics (BatchNorm rejects it, as PyTorch does).
                if (n == 1 && step == steps - 1 && steps > 1) break;
                StepResult r;
                try
                {
                    r = buffers.Step(_model, n);
                    if (!float.IsFinite(r.Loss)) throw new NonFiniteException(NonFiniteKind.Loss, r.Loss);
                    // On the device the parameters stay there: reading the store here would copy them back every step.
                    if (!_optimizerInModel) _optimizer.Step(_model.Parameters);
                }
                catch (NonFiniteException e) when (e.Epoch is null)
                {
                    // Raised here, by the model or by the optimizer, none of which know the op or where the run is.
                    var located = Locate(e, buffers, n);
                    throw located.WithPosition(epoch + 1, step + 1, (located.Advice is null ? "" : located.Advice + " ") + Advice(epoch));
                }
                lossSum += (double)r.Loss * n;
                correct += r.Correct;
                // Total 0 means one prediction per sample (hand-written models), except for regression losses.
                counted += r.Total > 0 ? r.Total : regression ? 0 : n;
                seen += n;
                if (_progress)
                    lastShown = ShowProgress(epoch, step + 1, steps, lossSum / seen, Ratio(correct, counted), seen, epochClock.Elapsed.TotalSeconds,
                        history, lastShown);
            }
            double trainSeconds = epochClock.Elapsed.TotalSeconds;
            var firingRates = _model.FiringRates;

            // A parameter can turn non-finite at the last step (the next loss would show it): never end an epoch, or replace
            // a good checkpoint, with a model a later load would refuse or that would silently serve NaNs.
            CheckFinite(_model.Parameters, epoch + 1, steps, epoch);
            var eval = test is null ? new EvalResult(double.NaN, double.NaN) : Evaluate(test, o.EvalBatchSize);
            if (o.CheckpointPath is { } path)
            {
                // State first, then the weights: each file is written atomically and the state file holds the weights
                // too, so whichever write a crash interrupts, the state file is a consistent resume point.
                TrainingState.Save(statePath!, _model, _optimizer, position with { EpochsDone = epoch + 1, TrainSteps = _model.TrainSteps });
                Safetensors.Save(_model.Parameters, path, CheckpointMetadata(epoch + 1, eval));
                _lastGood = (epoch + 1, path);
            }
            var stats = new EpochStats(epoch + 1, lossSum / seen, Ratio(correct, counted), eval.Loss, eval.Accuracy,
                _optimizer.LearningRate, seen / trainSeconds, epochClock.Elapsed.TotalSeconds) { FiringRates = firingRates };
            history.Add(stats);
            if (_bar && _barLength > 0) _log.Write('\r' + new string(' ', _barLength) + '\r');
            _barLength = 0;
            _log.WriteLine(Format(stats, o.Epochs));
            if (firingRates.Count > 0)
                _log.WriteLine("  firing rates (training): " + string.Join(", ", firingRates.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Layer} {r.Rate:F3}"))));
            o.EpochEnd?.Invoke(history);
        }
        return history;
    }

    /// <summary>Adds the op and layer that first produced a non-finite value to a loss or gradient report, by tracing the
    /// failed step again (<see cref="IModel.TraceNonFinite"/>): a cost paid once, when training stops, never per step.
    /// The rerun changes nothing the failure left: parameters, running statistics and the step count are restored.</summary>
    NonFiniteException Locate(NonFiniteException e, Buffers buffers, int n)
    {
        if (e.Op is not null || e.Kind is not (NonFiniteKind.Loss or NonFiniteKind.Gradient)) return e;
        var values = _model.Parameters.Values;
        var kept = values.ToArray();
        ulong steps = _model.TrainSteps;
        NonFiniteOrigin? origin;
        try { origin = _model.TraceNonFinite(() => buffers.Step(_model, n)); }
        finally
        {
            kept.CopyTo(values, 0);
            _model.TrainSteps = steps;
        }
        if (origin is null) return e;
        string where = $"First non-finite value: {origin.Where}.";
        return new NonFiniteException(e.Kind, e.Value, e.Tensor, e.Index, origin.Op, origin.Layer.Length > 0 ? origin.Layer : null,
            advice: e.Advice is null ? where : where + " " + e.Advice);
    }

    /// <summary>The training-state file kept beside a checkpoint: "x.safetensors" gives "x.train-state.safetensors".</summary>
    /// <param name="checkpointPath">The checkpoint (<see cref="TrainerOptions.CheckpointPath"/>).</param>
    public static string TrainingStatePath(string checkpointPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        const string Ext = ".safetensors";
        return checkpointPath.EndsWith(Ext, StringComparison.OrdinalIgnoreCase)
            ? checkpointPath[..^Ext.Length] + ".train-state" + Ext
            : checkpointPath + ".train-state" + Ext;
    }

    (int Epoch, string Path)? _lastGood;

    /// <summary>What to do after a non-finite value: where the last good files are and how to go on.</summary>
    string Advice(int epoch)
    {
        string lr = _optimizer.LearningRate.ToString("G4", CultureInfo.InvariantCulture);
        string files = _lastGood is { } g
            ? $"The last good checkpoint is {g.Path} (epoch {g.Epoch}); lower the learning rate (now {lr}) and set TrainerOptions.Resume to continue from it."
            : _options.CheckpointPath is { } p && _options.Resume && File.Exists(TrainingStatePath(p))
                ? $"The last good checkpoint is {p} (from before this run); lower the learning rate (now {lr}) and resume from it."
                : $"No checkpoint was written{(epoch > 0 || _options.CheckpointPath is null ? "" : " yet")}; lower the learning rate (now {lr}) and start again.";
        return "Training stopped. " + files;
    }

    /// <summary>Throws <see cref="NonFiniteException"/> naming the first tensor of <paramref name="store"/> holding NaN or an infinity.</summary>
    void CheckFinite(ParameterStore store, int epoch, int step, int epochIndex)
    {
        if (System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(store.Values)) return;
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var v = store.Value(i);
            for (int j = 0; j < v.Length; j++)
                if (!float.IsFinite(v[j]))
                    throw new NonFiniteException(NonFiniteKind.Parameter, v[j], store.Infos[i].Name, j, epoch: epoch, step: step,
                        advice: (_options.CheckpointPath is null ? "Found at the end of the epoch. " : "Found before writing the checkpoint, which was not written. ") + Advice(epochIndex));
        }
    }

    /// <summary>Accuracy and mean loss of <paramref name="model"/> on <paramref name="data"/>, evaluation mode (<see cref="IModel.Infer(ReadOnlySpan{float}, int, Span{float})"/>).</summary>
    /// <param name="model">The model.</param>
    /// <param name="data">Samples whose shape matches the model input.</param>
    /// <param name="batchSize">Samples per Infer call.</param>
    public static EvalResult Evaluate(IModel model, LabeledImages data, int batchSize = 500)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        CheckShape(model, data, nameof(data));
        return Evaluate(model, data.ToSampleSet(), batchSize);
    }

    /// <summary>Accuracy and mean loss of <paramref name="model"/> on any data it takes, evaluation mode: the model's
    /// declared loss without label smoothing (mean over samples, non-ignored positions or output elements, as
    /// PyTorch's mean reduction); accuracy over the same predictions as <see cref="StepResult.Correct"/>, NaN for MSE and L1.</summary>
    /// <param name="model">The model.</param>
    /// <param name="data">Samples <see cref="SampleSet.CheckFits"/> accepts for the model.</param>
    /// <param name="batchSize">Samples per Infer call.</param>
    public static EvalResult Evaluate(IModel model, SampleSet data, int batchSize = 500)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        data.CheckFits(model, nameof(data));
        Buffers? buffers = null;
        float[] output = [];
        return Evaluate(model, data, batchSize, ref buffers, ref output);
    }

    /// <summary>Evaluates this trainer's model, reusing its evaluation buffers.</summary>
    public EvalResult Evaluate(SampleSet data, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.CheckFits(_model, nameof(data));
        return Evaluate(_model, data, batchSize, ref _evalBuffers, ref _evalOutput);
    }

    static EvalResult Evaluate(IModel model, SampleSet data, int batchSize, ref Buffers? buffers, ref float[] output)
    {
        if (data.Count == 0) return new EvalResult(double.NaN, double.NaN);
        int outSize = model.OutputSize, rows = data.TargetSize;
        if (buffers is null || buffers.BatchSize < batchSize || buffers.Data != data) buffers = new Buffers(data, batchSize);
        if (output.Length < batchSize * outSize) output = new float[batchSize * outSize];
        var batches = new BatchIterator(data, batchSize, shuffle: false);
        var sums = new EvalLoss();
        while (batches.Next(buffers.Inputs, buffers.Tokens, buffers.Labels, buffers.Targets, out int n))
        {
            var o = output.AsSpan(0, n * outSize);
            if (data.InputKind == InputKind.Tokens) model.Infer(buffers.Tokens.AsSpan(0, n * data.SampleSize), n, o);
            else model.Infer(buffers.Inputs.AsSpan(0, n * data.SampleSize), n, o);
            if (data.HasLabels) sums.AddLabels(o, buffers.Labels.AsSpan(0, n * rows), rows, outSize / rows);
            else sums.AddTargets(model.Loss, o, buffers.Targets.AsSpan(0, n * rows));
        }
        return new EvalResult(sums.Accuracy, sums.Mean);
    }

    static double Ratio(long correct, long counted) => counted == 0 ? double.NaN : (double)correct / counted;

    /// <summary>One batch's buffers for a data set's kinds (the unused ones empty), and the TrainStep overload they take.</summary>
    sealed class Buffers(SampleSet data, int batchSize)
    {
        public SampleSet Data { get; } = data;
        public int BatchSize { get; } = batchSize;
        public float[] Inputs { get; } = data.InputKind == InputKind.Floats ? new float[batchSize * data.SampleSize] : [];
        public int[] Tokens { get; } = data.InputKind == InputKind.Tokens ? new int[batchSize * data.SampleSize] : [];
        public int[] Labels { get; } = data.HasLabels ? new int[batchSize * data.TargetSize] : [];
        public float[] Targets { get; } = data.HasLabels ? [] : new float[batchSize * data.TargetSize];

        public StepResult Step(IModel model, int n)
        {
            int x = n * Data.SampleSize, t = n * Data.TargetSize;
            return (Data.InputKind, Data.HasLabels) switch
            {
                (InputKind.Floats, true) => model.TrainStep(Inputs.AsSpan(0, x), (ReadOnlySpan<int>)Labels.AsSpan(0, t), n),
                (InputKind.Floats, false) => model.TrainStep(Inputs.AsSpan(0, x), (ReadOnlySpan<float>)Targets.AsSpan(0, t), n),
                (_, true) => model.TrainStep(Tokens.AsSpan(0, x), (ReadOnlySpan<int>)Labels.AsSpan(0, t), n),
                _ => model.TrainStep(Tokens.AsSpan(0, x), (ReadOnlySpan<float>)Targets.AsSpan(0, t), n),
            };
        }
    }

    static void CheckShape(IModel model, LabeledImages data, string name)
    {
        // Image models need the exact (C, H, W); a (features) model takes any sample of that many floats.
        bool shapeDiffers = model.InputShape.Count == 3 && !model.InputShape.SequenceEqual(data.Shape);
        if (data.SampleSize != model.InputSize || shapeDiffers)
            throw new ArgumentException(
                $"Samples of shape ({string.Join(", ", data.Shape)}) = {data.SampleSize} floats do not fit {model.Name}'s input " +
                $"({string.Join(", ", model.InputShape)}) = {model.InputSize} floats.", name);
        if (data.ClassCount > model.OutputSize)
            throw new ArgumentException($"The data has {data.ClassCount} classes but {model.Name} outputs {model.OutputSize} logits.", name);
    }

    Dictionary<string, string> CheckpointMetadata(int epoch, EvalResult eval)
    {
        var inv = CultureInfo.InvariantCulture;
        var m = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["model"] = _model.Name,
            ["epoch"] = epoch.ToString(inv),
            ["optimizer"] = _optimizer.GetType().Name,
            ["optimizer_steps"] = _optimizer.StepCount.ToString(inv),
        };
        if (!double.IsNaN(eval.Accuracy)) m["test_accuracy"] = eval.Accuracy.ToString("R", inv);
        return m;
    }

    /// <summary>Draws the bar when the whole-percent position changes (or a line at each 10% when not a terminal);
    /// returns the position drawn, so the caller passes it back. Shows the training throughput so far this epoch and
    /// the time left: of this epoch, and of the run when more epochs follow (each later epoch estimated as the mean
    /// of the finished ones, evaluation included, or as this epoch's training time while none has finished).</summary>
    int ShowProgress(int epoch, int done, int total, double loss, double accuracy, long seen, double seconds,
        List<EpochStats> history, int lastShown)
    {
        int granularity = _bar ? 100 : 10;
        int pos = (int)((long)done * granularity / total);
        if (pos == lastShown || (pos == 0 && done != total)) return lastShown;
        if (!_bar && done == total) return pos; // the epoch line follows at once
        var inv = CultureInfo.InvariantCulture;
        double rate = seconds > 0 ? seen / seconds : 0;
        double epochLeft = seconds / done * (total - done);
        int epochsAfter = _options.Epochs - epoch - 1;
        double perEpoch = history.Count > 0 ? history.Average(h => h.Seconds) : seconds / done * total;
        string left = epochsAfter > 0
            ? $"{FormatDuration(epochLeft)} left, run {FormatDuration(epochLeft + epochsAfter * perEpoch)}"
            : $"{FormatDuration(epochLeft)} left";
        if (_bar)
        {
            int filled = (int)((long)done * BarWidth / total);
            Span<char> bar = stackalloc char[BarWidth];
            bar[..filled].Fill('#');
            bar[filled..].Fill('.');
            string text = string.Create(inv,
                $"epoch {epoch + 1}/{_options.Epochs} [{bar}] {done}/{total} loss {loss:F4} acc {Percent(accuracy)} {rate:F0} {_unit} {left}");
            _log.Write('\r');
            _log.Write(text);
            // Pad over a longer bar drawn before (the time-left text shrinks), so no stale characters remain.
            if (text.Length < _barLength) _log.Write(new string(' ', _barLength - text.Length));
            _barLength = Math.Max(_barLength, text.Length);
        }
        else
        {
            _log.WriteLine(string.Create(inv,
                $"  epoch {epoch + 1}/{_options.Epochs} {pos * 10,3}% ({done}/{total}) loss {loss:F4} acc {Percent(accuracy)} {rate:F0} {_unit} {left}"));
        }
        _log.Flush();
        return pos;
    }

    /// <summary>m:ss, or h:mm:ss from an hour on.</summary>
    static string FormatDuration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    string Format(EpochStats s, int epochs) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {s.Epoch,3}/{epochs}  train loss {s.TrainLoss:F4} acc {Percent(s.TrainAccuracy)}  " +
        $"test loss {s.TestLoss:F4} acc {Percent(s.TestAccuracy)}  lr {s.LearningRate:G4}  {s.ImagesPerSecond:F0} {_unit}  {s.Seconds:F1} s");

    /// <summary>A percentage with two decimals, or "-" where there is no accuracy (regression losses, no test set).</summary>
    static string Percent(double fraction) =>
        double.IsNaN(fraction) ? "-" : string.Create(CultureInfo.InvariantCulture, $"{fraction * 100:F2}%");
}
