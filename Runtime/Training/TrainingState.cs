// The training-state file that makes a run resumable bit for bit: the model's tensors, the optimizer's
// buffers and the trainer's position, in one safetensors file written atomically beside the checkpoint
// ("x.safetensors" -> "x.train-state.safetensors"). It repeats the model's tensors so that it is a complete
// resume point on its own: a crash between writing it and writing the checkpoint leaves a consistent pair
// of epoch and weights, whichever file was written last. Names are kept apart from a state_dict's:
//   model.<name>                 every tensor of the ParameterStore (parameters and running statistics)
//   optimizer.<buffer>.<name>    optimizer buffers per trainable tensor (exp_avg, exp_avg_sq, momentum_buffer)
// and the position is metadata: epochs done, optimizer steps, the model's training steps (dropout masks),
// seed, batch size, drop_last and training-set size (the shuffling is replayed from the seed: the
// iterator reshuffles once per epoch, so epochs done + 1 shuffles put it where the run stopped).
using System.Globalization;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Training;

/// <summary>Where a run stands after an epoch, as saved in the training-state file.</summary>
/// <param name="EpochsDone">Completed epochs.</param>
/// <param name="Seed">The run's shuffling seed.</param>
/// <param name="BatchSize">The run's batch size.</param>
/// <param name="DropLast">Whether the run dropped incomplete batches.</param>
/// <param name="TrainCount">Training samples.</param>
/// <param name="TrainSteps">The model's <see cref="IModel.TrainSteps"/>.</param>
internal sealed record TrainingPosition(int EpochsDone, int Seed, int BatchSize, bool DropLast, int TrainCount, ulong TrainSteps);

internal static class TrainingState
{
    const string Format = "authoring-training-state";
    const string Version = "1";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes model, optimizer state and position to <paramref name="path"/> (atomically).</summary>
    public static void Save(string path, IModel model, IOptimizer optimizer, TrainingPosition position)
    {
        var store = model.Parameters;
        var opt = optimizer.GetState();
        var tensors = new List<TensorRef>();
        foreach (var t in Safetensors.TensorsOf(store)) tensors.Add(t with { Name = "model." + t.Name });
        foreach (var (buffer, values) in opt.Buffers.OrderBy(b => b.Key, StringComparer.Ordinal))
            for (int i = 0; i < store.Infos.Count; i++)
                if (store.Infos[i].Trainable)
                    tensors.Add(new TensorRef($"optimizer.{buffer}.{store.Infos[i].Name}", store.Infos[i].Shape, values, store.OffsetOf(i), store.Infos[i].Length));
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["version"] = Version,
            ["model"] = model.Name,
            ["epochs_done"] = position.EpochsDone.ToString(Inv),
            ["seed"] = position.Seed.ToString(Inv),
            ["batch_size"] = position.BatchSize.ToString(Inv),
            ["drop_last"] = position.DropLast ? "true" : "false",
            ["train_count"] = position.TrainCount.ToString(Inv),
            ["train_steps"] = position.TrainSteps.ToString(Inv),
            ["optimizer"] = opt.Optimizer,
            ["optimizer_steps"] = opt.StepCount.ToString(Inv),
            ["optimizer_buffers"] = string.Join(",", opt.Buffers.Keys.OrderBy(k => k, StringComparer.Ordinal)),
        };
        foreach (var (k, v) in opt.Settings) meta["optimizer." + k] = v;
        Safetensors.Save(tensors, path, meta);
    }

    /// <summary>Reads <paramref name="path"/> into the model and the optimizer and returns the position; nothing
    /// changes unless the whole file is valid and fits the model and the optimizer. Settings that would make the
    /// resumed run another run (seed, batch size, data) are errors; changed optimizer settings are returned as notes.</summary>
    public static TrainingPosition Load(string path, IModel model, IOptimizer optimizer, TrainingPosition expected, out List<string> notes)
    {
        notes = [];
        var header = Safetensors.ReadHeader(path);
        var m = header.Metadata;
        string Get(string key) => m.TryGetValue(key, out var v) ? v : throw Bad(path, $"it has no '{key}' entry in its metadata.");
        if (!m.TryGetValue("format", out var format) || format != Format) throw Bad(path, $"it is not a training-state file (format '{format}').");
        if (Get("version") != Version) throw Bad(path, $"it is version {Get("version")}; this runtime reads version {Version}.");
        if (Get("model") != model.Name) throw Bad(path, $"it belongs to model {Get("model")}, not {model.Name}.");
        var opt0 = optimizer.GetState(); // NotSupportedException for optimizers that cannot resume
        if (Get("optimizer") != opt0.Optimizer) throw Bad(path, $"it was written by {Get("optimizer")}; this run uses {opt0.Optimizer}.");

        var position = new TrainingPosition(
            int.Parse(Get("epochs_done"), Inv), int.Parse(Get("seed"), Inv), int.Parse(Get("batch_size"), Inv),
            Get("drop_last") == "true", int.Parse(Get("train_count"), Inv), ulong.Parse(Get("train_steps"), Inv));
        void Same<T>(string what, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
                throw new InvalidOperationException($"Cannot resume from {path}: the run was trained with {what} {saved}, this one has {now}, " +
                    "so it would not continue the same run. Use the same settings, or start a new run from the weights (Safetensors.Load).");
        }
        Same("seed", position.Seed, expected.Seed);
        Same("batch size", position.BatchSize, expected.BatchSize);
        Same("drop-last", position.DropLast, expected.DropLast);
        Same("a training set of size", position.TrainCount, expected.TrainCount);
        foreach (var (k, v) in opt0.Settings)
            if (m.TryGetValue("optimizer." + k, out var saved) && saved != v)
                notes.Add($"{opt0.Optimizer} {k} was {saved}, now {v}");

        // Targets: the model's tensors, then each buffer per trainable tensor, staged by Safetensors.Load.
        var store = model.Parameters;
        string[] buffers = Get("optimizer_buffers").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var values = (float[])store.Values.Clone();
        var bufferValues = buffers.ToDictionary(b => b, _ => new float[store.Values.Length]);
        var targets = new List<TensorRef>();
        foreach (var t in Safetensors.TensorsOf(store)) targets.Add(t with { Name = "model." + t.Name, Data = values });
        foreach (var b in buffers)
            for (int i = 0; i < store.Infos.Count; i++)
                if (store.Infos[i].Trainable)
                    targets.Add(new TensorRef($"optimizer.{b}.{store.Infos[i].Name}", store.Infos[i].Shape, bufferValues[b], store.OffsetOf(i), store.Infos[i].Length));
        Safetensors.Load(targets, path, allowNonFinite: false, ignore: null);

        // Everything is valid: apply.
        optimizer.SetState(store, new OptimizerState(opt0.Optimizer, long.Parse(Get("optimizer_steps"), Inv), bufferValues, opt0.Settings));
        values.CopyTo(store.Values, 0);
        model.TrainSteps = position.TrainSteps;
        return position;
    }

    static InvalidDataException Bad(string path, string why) => new($"{path}: cannot resume from this file: {why}");
}
