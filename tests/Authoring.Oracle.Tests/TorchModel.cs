// A model's parameters as torch tensors, plus the layer calls a hand-written torch mirror of a Forward
// method needs. Trainable tensors are leaves (autograd gives their gradients); running statistics are
// plain copies that training-mode batch norm updates in place, as nn.BatchNorm does.
using Authoring.Runtime;
using Authoring.Runtime.Cpu;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

/// <summary>A torch mirror's parameters: one pass (evaluation or a training step), or several when a torch
/// optimizer updates the <see cref="Trainable"/> parameters in place between steps. The parity tests build it in
/// float64 from our float32 values (exact conversions), so it gives the exact answer to our float32 one.</summary>
public sealed class TorchModel
{
    readonly Dictionary<string, TorchTensor> _p = new(StringComparer.Ordinal);
    readonly List<(string Name, Parameter Leaf)> _trainable = new();

    /// <summary>Copies every tensor of <paramref name="store"/>, or <paramref name="values"/> in its order (a snapshot
    /// of it), converted to <paramref name="dtype"/> (call inside a <see cref="TorchOracle.Scope"/>).</summary>
    public TorchModel(ParameterStore store, bool train, ulong dropoutSeed = 0, long step = 0,
        torch.ScalarType dtype = torch.ScalarType.Float32, IReadOnlyList<float[]>? values = null)
    {
        Train = train;
        DropoutSeed = dropoutSeed;
        Step = step;
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var info = store.Infos[i];
            long[] shape = Array.ConvertAll(info.Shape, d => (long)d);
            float[] data = values?[i] ?? store.Value(i).ToArray();
            if (info.Trainable)
            {
                var leaf = new Parameter(TorchOracle.Constant(data, shape).to(dtype));
                _p[info.Name] = leaf;
                _trainable.Add((info.Name, leaf));
            }
            else _p[info.Name] = TorchOracle.Constant(data, shape).to(dtype);
        }
    }

    /// <summary>Training mode: batch statistics, dropout masks.</summary>
    public bool Train { get; set; }
    /// <summary>The model's DropoutSeed.</summary>
    public ulong DropoutSeed { get; }
    /// <summary>Which training step this pass mirrors (the generated model counts from 1).</summary>
    public long Step { get; set; }

    /// <summary>Trainable leaves (torch parameters), in store order.</summary>
    public IReadOnlyList<(string Name, Parameter Leaf)> Trainable => _trainable;

    /// <summary>The tensor named <paramref name="name"/> (after a training pass, running statistics hold the updated values).</summary>
    public TorchTensor this[string name] => _p[name];

    TorchTensor? Optional(string name) => _p.TryGetValue(name, out var t) ? t : null;

    /// <summary>Conv2d / DepthwiseConv2d layer <paramref name="name"/> (weight [out, in / groups, kh, kw], optional bias).</summary>
    public TorchTensor Conv(string name, TorchTensor x, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
        => TorchOracle.Conv2d(x, _p[name + ".weight"], Optional(name + ".bias"), stride, padding, dilation, groups);

    /// <summary>Conv2d / DepthwiseConv2d layer <paramref name="name"/> with (height, width) padding, as a layer
    /// declared with paddingWidth; the kernel's shape comes with its weight.</summary>
    public TorchTensor Conv(string name, TorchTensor x, (int H, int W) padding, int groups = 1)
        => TorchOracle.Conv2d(x, _p[name + ".weight"], Optional(name + ".bias"), (1, 1), padding, (1, 1), groups);

    /// <summary>Linear layer <paramref name="name"/>.</summary>
    public TorchTensor Linear(string name, TorchTensor x) => TorchOracle.Linear(x, _p[name + ".weight"], Optional(name + ".bias"));

    /// <summary>LayerNorm layer <paramref name="name"/> over the last axis of <paramref name="dim"/> (weight and bias when the
    /// layer has them).</summary>
    public TorchTensor LayerNorm(string name, TorchTensor x, int dim, double eps = 1e-5)
        => TorchSharp.torch.nn.functional.layer_norm(x, new long[] { dim }, Optional(name + ".weight"), Optional(name + ".bias"), eps);

    /// <summary>BatchNorm1d/2d layer <paramref name="name"/> with PyTorch's defaults (momentum 0.1, eps 1e-5),
    /// which every model here uses.</summary>
    public TorchTensor BatchNorm(string name, TorchTensor x)
    {
        var (g, b, m, v) = (_p[name + ".weight"], _p[name + ".bias"], _p[name + ".running_mean"], _p[name + ".running_var"]);
        return Train ? TorchOracle.BatchNormTrain(x, g, b, m, v) : TorchOracle.BatchNormEval(x, g, b, m, v);
    }

    /// <summary>Dropout as the generated code draws it: for the Dropout node with id <paramref name="nodeId"/>
    /// (its index in the Forward graph, the input being node 0), element i of sample b is kept, scaled by
    /// 1 / (1 - p), when DropoutRandom.Uniform(DropoutSeed + 0x9E3779B97F4A7C15 * step + nodeId, b * size + i) &gt;= p.
    /// Identity in evaluation.</summary>
    public TorchTensor Dropout(TorchTensor x, int nodeId, float p)
    {
        if (!Train) return x;
        var mask = DropoutMask(DropoutSeed, Step, nodeId, p, (int)x.shape[0], (int)(x.numel() / x.shape[0]));
        return TorchOracle.Mul(x, TorchOracle.Constant(mask, x.shape).to(x.dtype));
    }

    /// <summary>The mask the generated CPU (and ILGPU) dropout draws; see <see cref="Dropout"/>.</summary>
    public static float[] DropoutMask(ulong dropoutSeed, long step, int nodeId, float p, int batch, int size)
    {
        ulong seed = dropoutSeed + 0x9E3779B97F4A7C15UL * (ulong)step + (ulong)nodeId;
        float keep = p < 1f ? 1f / (1f - p) : 0f;
        var mask = new float[batch * size];
        for (int i = 0; i < mask.Length; i++) mask[i] = DropoutRandom.Uniform(seed, i) >= p ? keep : 0f;
        return mask;
    }

    /// <summary>Mean over H and W: [N, C, H, W] to [N, C].</summary>
    public static TorchTensor GlobalAvgPool(TorchTensor x) => TorchOracle.Flatten(TorchOracle.AdaptiveAvgPool2d(x));
}
