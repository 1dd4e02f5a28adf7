// Builds an ONNX model (https://onnx.ai/onnx/repo-docs/IR.html) op by op, the way generated code walks a
// model's deploy graph: values are named strings, weights come from a ParameterStore under their state_dict
// names, the batch is a symbolic dimension, and every op is written with PyTorch's semantics (the attributes
// that make ONNX compute what our kernels and torch compute). The file is encoded by ProtoWriter; nothing
// else is needed to write it. docs/onnx.md describes the API and the op mapping.
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Onnx;

/// <summary>Thrown when a model cannot be written as ONNX: an op without a mapping, an unknown value, a bad argument.</summary>
public sealed class OnnxExportException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public OnnxExportException(string message) : base(message) { }
}

/// <summary>Writes an ONNX graph op by op. Each op method takes the names of its input values and returns the name of
/// its output (generated as <c>OpType_k</c> unless <c>name</c> is given). Call <see cref="Input"/> first, then ops,
/// then <see cref="Output"/>, then <see cref="Save(string)"/> or <see cref="ToBytes"/>.</summary>
/// <remarks>Tensors are float32 in NCHW (or (N, features)) layout, as in the runtime; dimension 0 is the symbolic
/// batch <see cref="BatchDimension"/>. Ops follow PyTorch: convolution and pooling pads are symmetric, average
/// pooling counts padding, nearest resize is <c>F.interpolate(mode='nearest')</c>, HardSigmoid is
/// <c>relu6(x + 3) / 6</c>.</remarks>
public sealed class OnnxGraphBuilder
{
    /// <summary>The opset written when none is asked for: 17, the oldest with LayerNormalization, widely supported.</summary>
    public const int DefaultOpset = 17;
    /// <summary>Oldest opset this builder writes.</summary>
    public const int MinOpset = 17;
    /// <summary>Newest opset this builder writes (ops whose form changed are written in the form of the chosen opset).</summary>
    public const int MaxOpset = 22;
    /// <summary>Name of the symbolic batch dimension of inputs and outputs.</summary>
    public const string BatchDimension = "batch";

    const int Float32 = 1, Int64 = 7;

    readonly string _graphName;
    readonly List<ValueInfo> _inputs = [];
    readonly List<ValueInfo> _outputs = [];
    readonly List<TensorData> _initializers = [];
    readonly List<Node> _nodes = [];
    readonly HashSet<string> _values = new(StringComparer.Ordinal);
    readonly Dictionary<string, int[]> _initializerShapes = new(StringComparer.Ordinal);
    readonly Dictionary<(float, int), string> _scalars = [];
    readonly Dictionary<string, int> _opCounts = new(StringComparer.Ordinal);

    /// <summary>Starts an empty graph.</summary>
    /// <param name="graphName">The graph's name (usually the model class name).</param>
    /// <param name="opset">ONNX opset of the default domain, <see cref="MinOpset"/> to <see cref="MaxOpset"/>.</param>
    public OnnxGraphBuilder(string graphName, int opset = DefaultOpset)
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        if (opset is < MinOpset or > MaxOpset)
            throw new ArgumentOutOfRangeException(nameof(opset), opset, $"Opsets {MinOpset} to {MaxOpset} are supported.");
        _graphName = graphName;
        Opset = opset;
    }

    /// <summary>The opset the model declares.</summary>
    public int Opset { get; }

    /// <summary>String pairs stored in the model's metadata_props (shown by Netron, readable from ONNX Runtime).</summary>
    public IDictionary<string, string> Metadata { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Free text stored as the model's doc_string.</summary>
    public string? Description { get; set; }

    // ---- Graph inputs, outputs, initializers ----------------------------------------------------------------

    /// <summary>Declares a float32 graph input of shape (<see cref="BatchDimension"/>, <paramref name="sampleShape"/>...).</summary>
    /// <returns><paramref name="name"/>.</returns>
    public string Input(string name, params int[] sampleShape)
    {
        Define(name, "input");
        _inputs.Add(new ValueInfo(name, CheckDims(sampleShape, nameof(sampleShape)), Float32));
        return name;
    }

    /// <summary>Declares an int64 graph input of shape (<see cref="BatchDimension"/>, <paramref name="sampleShape"/>...):
    /// token ids, read by <see cref="Gather"/>.</summary>
    /// <returns><paramref name="name"/>.</returns>
    public string Int64Input(string name, params int[] sampleShape)
    {
        Define(name, "input");
        _inputs.Add(new ValueInfo(name, CheckDims(sampleShape, nameof(sampleShape)), Int64));
        return name;
    }

    /// <summary>Marks <paramref name="value"/> as a graph output of shape (<see cref="BatchDimension"/>, <paramref name="sampleShape"/>...).</summary>
    public void Output(string value, params int[] sampleShape)
    {
        Use(value, "Output");
        if (_outputs.Any(o => o.Name == value)) throw new OnnxExportException($"'{value}' is already a graph output.");
        _outputs.Add(new ValueInfo(value, CheckDims(sampleShape, nameof(sampleShape)), Float32));
    }

    /// <summary>A float32 initializer holding a copy of <paramref name="values"/>.</summary>
    /// <returns><paramref name="name"/>.</returns>
    public string Initializer(string name, ReadOnlySpan<float> values, params int[] shape)
    {
        long count = 1;
        foreach (int d in CheckDims(shape, nameof(shape))) count *= d;
        if (count != values.Length)
            throw new OnnxExportException($"Initializer '{name}': shape [{string.Join(", ", shape)}] holds {count} values, {values.Length} given.");
        Define(name, "initializer");
        _initializers.Add(new TensorData(name, Float32, shape, MemoryMarshal.AsBytes(values).ToArray()));
        _initializerShapes[name] = shape;
        return name;
    }

    /// <summary>An int64 initializer (shapes, indices, slice bounds).</summary>
    /// <returns><paramref name="name"/>.</returns>
    public string Int64Initializer(string name, ReadOnlySpan<long> values, params int[] shape)
    {
        long count = 1;
        foreach (int d in CheckDims(shape, nameof(shape))) count *= d;
        if (count != values.Length)
            throw new OnnxExportException($"Initializer '{name}': shape [{string.Join(", ", shape)}] holds {count} values, {values.Length} given.");
        Define(name, "initializer");
        _initializers.Add(new TensorData(name, Int64, shape, MemoryMarshal.AsBytes(values).ToArray()));
        _initializerShapes[name] = shape;
        return name;
    }

    /// <summary>The tensor <paramref name="name"/> of <paramref name="store"/> (a PyTorch state_dict name such as
    /// <c>stem.weight</c>) as an initializer of the same name and shape; a second call returns the same initializer.</summary>
    public string Parameter(ParameterStore store, string name) => Parameter(store, name, null);

    /// <summary>As <see cref="Parameter(ParameterStore, string)"/>, viewed with another shape of the same size
    /// (a (C) vector as (C, 1, 1) to broadcast over channels).</summary>
    public string Parameter(ParameterStore store, string name, int[]? shape)
    {
        ArgumentNullException.ThrowIfNull(store);
        int index;
        try { index = store.IndexOf(name); }
        catch (KeyNotFoundException) { throw new OnnxExportException($"The model has no parameter '{name}'."); }
        var info = store.Infos[index];
        shape ??= info.Shape;
        if (_initializerShapes.TryGetValue(name, out var existing))
        {
            if (existing.AsSpan().SequenceEqual(shape)) return name;
            throw new OnnxExportException($"Parameter '{name}' is already an initializer of shape [{string.Join(", ", existing)}], not [{string.Join(", ", shape)}].");
        }
        return Initializer(name, store.Value(index), shape);
    }

    /// <summary>A float32 scalar initializer (shared by every use of the same value and rank).</summary>
    /// <param name="value">The value.</param>
    /// <param name="rank">0 for a true scalar; 1 for shape [1].</param>
    public string Scalar(float value, int rank = 0)
    {
        if (_scalars.TryGetValue((value, rank), out var name)) return name;
        name = Unique("const_" + value.ToString("R", CultureInfo.InvariantCulture).Replace('-', 'm').Replace('.', 'p').Replace('+', '_'));
        _scalars[(value, rank)] = name;
        return Initializer(name, [value], rank == 0 ? [] : [1]);
    }

    /// <summary>A float32 initializer of shape <paramref name="shape"/> with every element <paramref name="value"/>
    /// (LayerNormalization's scale of ones when the layer has no affine weight), under a generated name.</summary>
    public string Filled(float value, params int[] shape)
    {
        long count = 1;
        foreach (int d in CheckDims(shape, nameof(shape))) count *= d;
        var values = new float[count];
        Array.Fill(values, value);
        return Initializer(Unique("filled"), values, shape);
    }

    // ---- Convolution, linear, pooling -----------------------------------------------------------------------

    /// <summary>Conv with PyTorch's Conv2d semantics (symmetric zero padding, groups, dilation) for problem <paramref name="s"/>;
    /// <paramref name="w"/> is [Cout, Cin/groups, Kh, Kw], <paramref name="bias"/> is [Cout] or null.</summary>
    public string Conv(string x, string w, string? bias, in Conv2dShape s, string? name = null)
    {
        var inputs = bias is null ? new[] { x, w } : [x, w, bias];
        return Add("Conv", inputs, name,
            Ints("kernel_shape", s.Kh, s.Kw), Ints("strides", s.StrideH, s.StrideW),
            Ints("pads", s.PadH, s.PadW, s.PadH, s.PadW), Ints("dilations", s.DilH, s.DilW), Int("group", s.Groups));
    }

    /// <summary>Conv whose weight (and bias, when <paramref name="hasBias"/>) are <c>{layer}.weight</c> and
    /// <c>{layer}.bias</c> of <paramref name="store"/>.</summary>
    public string Conv(string x, ParameterStore store, string layer, in Conv2dShape s, bool hasBias, string? name = null) =>
        Conv(x, Parameter(store, layer + ".weight"), hasBias ? Parameter(store, layer + ".bias") : null, s, name);

    /// <summary>The binarised weight of a binary layer, <c>alpha[co] sign(w)</c> from the latent <c>{layer}.weight</c>
    /// of <paramref name="store"/>, computed now by the kernel the layer's forward runs (BinaryWeightKernel), so the
    /// exported constant is bit for bit what Infer multiplies by; alpha = mean |w[co]| when <paramref name="scaled"/>, else 1.</summary>
    public string BinaryWeight(ParameterStore store, string layer, bool scaled)
    {
        ArgumentNullException.ThrowIfNull(store);
        string name = layer + ".weight";
        int index;
        try { index = store.IndexOf(name); }
        catch (KeyNotFoundException) { throw new OnnxExportException($"The model has no parameter '{name}'."); }
        var shape = store.Infos[index].Shape;
        var w = store.Value(index).ToArray();
        int cout = shape[0], k = w.Length / Math.Max(cout, 1);
        var wb = new float[w.Length];
        Authoring.Runtime.Cpu.BinaryWeightKernel.Forward(cout, k, w, 0, wb, 0, scaled ? new float[cout] : null, 0);
        return Initializer(Unique(layer + ".weight_binary"), wb, shape);
    }

    /// <summary>The ±1 weights [Cout, Cin, Kh, Kw] (a linear layer's [Out, In]: Kh = Kw = 1) a deploy model stores packed in
    /// its bit tensor <paramref name="bitsName"/> (BitPack's layout), unpacked into a float initializer: bit 1 is -1.</summary>
    public string UnpackedBinaryWeight(ParameterStore store, string bitsName, int cout, int cin, int kh, int kw, bool linear = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (store.Bits is not { } bits) throw new OnnxExportException($"The model has no bit tensors (looking for '{bitsName}').");
        Span<ulong> words;
        try { words = bits.Tensor(bitsName); }
        catch (KeyNotFoundException) { throw new OnnxExportException($"The model has no bit tensor '{bitsName}'."); }
        int taps = kh * kw, wc = (cin + 63) / 64, kwords = taps * wc;
        if (words.Length != (cout + 15) / 16 * 16 * kwords)
            throw new OnnxExportException($"Bit tensor '{bitsName}' has {words.Length} words, not the layout of [{cout}, {cin}, {kh}, {kw}].");
        var w = new float[cout * cin * taps];
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int t = 0; t < taps; t++)
                {
                    ulong word = words[((co / 16 * kwords) + t * wc + (ci >> 6)) * 16 + co % 16];
                    w[(co * cin + ci) * taps + t] = ((word >> (ci & 63)) & 1) != 0 ? -1f : 1f;
                }
        int[] shape = linear ? [cout, cin] : [cout, cin, kh, kw];
        return Initializer(Unique(bitsName.EndsWith(".weight_bits", StringComparison.Ordinal) ? bitsName[..^5] + "_pm1" : bitsName + "_pm1"), w, shape);
    }

    /// <summary>A sign as our packing computes it: -1 where x &lt; <paramref name="threshold"/> (broadcast to x; null: 0), +1
    /// elsewhere. The ±1 floats stand for the bits the deploy model packs.</summary>
    public string PackSign(string x, string? threshold, string? name = null) =>
        Add("Where", [Add("Less", [x, threshold ?? Scalar(0f)], null), Scalar(-1f), Scalar(1f)], name);

    /// <summary>Gemm: alpha * A' B' + beta * C, A' and B' transposed when asked. A linear layer is
    /// <c>Gemm(x, weight, bias, transB: true)</c> (weight [out, in], as PyTorch stores it).</summary>
    public string Gemm(string a, string b, string? c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 1f, string? name = null)
    {
        var inputs = c is null ? new[] { a, b } : [a, b, c];
        var attrs = new List<Attribute>();
        if (alpha != 1f) attrs.Add(Float("alpha", alpha));
        if (beta != 1f) attrs.Add(Float("beta", beta));
        if (transA) attrs.Add(Int("transA", 1));
        if (transB) attrs.Add(Int("transB", 1));
        return Add("Gemm", inputs, name, [.. attrs]);
    }

    /// <summary>A PyTorch Linear layer over (N, in): Gemm with <c>{layer}.weight</c> transposed and <c>{layer}.bias</c>.</summary>
    public string Linear(string x, ParameterStore store, string layer, bool hasBias, string? name = null) =>
        Gemm(x, Parameter(store, layer + ".weight"), hasBias ? Parameter(store, layer + ".bias") : null, transB: true, name: name);

    /// <summary>MatMul with numpy broadcasting of the leading dimensions.</summary>
    public string MatMul(string a, string b, string? name = null) => Add("MatMul", [a, b], name);

    /// <summary>MaxPool over window <paramref name="s"/> (padding never wins: it is -inf, as in PyTorch).</summary>
    public string MaxPool(string x, in Pool2dShape s, string? name = null) =>
        Add("MaxPool", [x], name, Ints("kernel_shape", s.Kh, s.Kw), Ints("strides", s.StrideH, s.StrideW), Ints("pads", s.PadH, s.PadW, s.PadH, s.PadW));

    /// <summary>AveragePool over window <paramref name="s"/>, counting padded positions (PyTorch's default
    /// count_include_pad=True; ONNX's count_include_pad=1).</summary>
    public string AveragePool(string x, in Pool2dShape s, string? name = null) =>
        Add("AveragePool", [x], name, Ints("kernel_shape", s.Kh, s.Kw), Ints("strides", s.StrideH, s.StrideW),
            Ints("pads", s.PadH, s.PadW, s.PadH, s.PadW), Int("count_include_pad", 1));

    /// <summary>GlobalAveragePool: (N, C, H, W) to (N, C, 1, 1).</summary>
    public string GlobalAveragePool(string x, string? name = null) => Add("GlobalAveragePool", [x], name);

    /// <summary>Nearest-neighbour resize of (N, C, H, W) to (N, C, Ho, Wo), as PyTorch's
    /// <c>F.interpolate(x, size=(Ho, Wo), mode='nearest')</c>: coordinate_transformation_mode asymmetric,
    /// nearest_mode floor. The output size is given (not a scale), so it is exact.</summary>
    /// <remarks>Source index: ONNX Runtime computes floor(i / (Ho / H)), PyTorch floor(i * (H / Ho)), both in float.
    /// For some sizes the two roundings pick different pixels (see docs/onnx.md).</remarks>
    public string ResizeNearest(string x, in UpsampleShape s, string? name = null)
    {
        var attrs = new List<Attribute> { String("mode", "nearest"), String("coordinate_transformation_mode", "asymmetric"), String("nearest_mode", "floor") };
        string sizes;
        if (Opset >= 18)
        {
            // Opset 18 added 'axes': the sizes of H and W alone, whatever the batch.
            sizes = Int64Initializer(Unique("resize_sizes"), [s.Ho, s.Wo], 2);
            attrs.Add(Ints("axes", 2, 3));
        }
        else
        {
            // Before 18, sizes covers every axis: (N, C) of the input at run time, then (Ho, Wo).
            string nc = Add("Shape", [x], null, Int("start", 0), Int("end", 2));
            sizes = Concat(0, nc, Int64Initializer(Unique("resize_hw"), [s.Ho, s.Wo], 2));
        }
        return Add("Resize", [x, "", "", sizes], name, [.. attrs]);
    }

    /// <summary>BatchNormalization in inference mode (running statistics): gamma (x - mean) / sqrt(var + eps) + beta over dimension 1.</summary>
    public string BatchNormalization(string x, string scale, string bias, string mean, string variance, float epsilon = 1e-5f, string? name = null) =>
        Add("BatchNormalization", [x, scale, bias, mean, variance], name, Float("epsilon", epsilon));

    /// <summary>BatchNormalization with <c>{layer}.weight</c>, <c>.bias</c>, <c>.running_mean</c>, <c>.running_var</c> of <paramref name="store"/>.</summary>
    public string BatchNormalization(string x, ParameterStore store, string layer, float epsilon = 1e-5f, string? name = null) =>
        BatchNormalization(x, Parameter(store, layer + ".weight"), Parameter(store, layer + ".bias"),
            Parameter(store, layer + ".running_mean"), Parameter(store, layer + ".running_var"), epsilon, name);

    /// <summary>LayerNormalization over the dimensions from <paramref name="axis"/> on (PyTorch's LayerNorm over its
    /// normalized_shape); <paramref name="scale"/> and <paramref name="bias"/> have those dimensions.</summary>
    public string LayerNormalization(string x, string scale, string? bias, int axis = -1, float epsilon = 1e-5f, string? name = null)
    {
        var inputs = bias is null ? new[] { x, scale } : [x, scale, bias];
        return Add("LayerNormalization", inputs, name, Int("axis", axis), Float("epsilon", epsilon));
    }

    // ---- Element-wise ---------------------------------------------------------------------------------------

    /// <summary>max(x, 0).</summary>
    public string Relu(string x, string? name = null) => Add("Relu", [x], name);

    /// <summary>min(max(x, <paramref name="min"/>), <paramref name="max"/>).</summary>
    public string Clip(string x, float min, float max, string? name = null) => Add("Clip", [x, Scalar(min), Scalar(max)], name);

    /// <summary>PyTorch's ReLU6: Clip(x, 0, 6).</summary>
    public string Relu6(string x, string? name = null) => Clip(x, 0f, 6f, name);

    /// <summary>PyTorch's hardsigmoid relu6(x + 3) / 6: ONNX HardSigmoid with alpha 1/6, beta 1/2.</summary>
    public string HardSigmoid(string x, string? name = null) => Add("HardSigmoid", [x], name, Float("alpha", 1f / 6f), Float("beta", 0.5f));

    /// <summary>x * relu6(x + 3) / 6 (ONNX HardSwish, same alpha and beta as PyTorch).</summary>
    public string HardSwish(string x, string? name = null) => Add("HardSwish", [x], name);

    /// <summary>1 / (1 + exp(-x)).</summary>
    public string Sigmoid(string x, string? name = null) => Add("Sigmoid", [x], name);

    /// <summary>tanh(x).</summary>
    public string Tanh(string x, string? name = null) => Add("Tanh", [x], name);

    /// <summary>exp(x).</summary>
    public string Exp(string x, string? name = null) => Add("Exp", [x], name);

    /// <summary>SiLU (swish) x * sigmoid(x): ONNX has no such op, so Mul(x, Sigmoid(x)).</summary>
    public string Silu(string x, string? name = null) => Mul(x, Sigmoid(x), name);

    /// <summary>ELU: x for x &gt; 0, alpha (exp(x) - 1) otherwise (PyTorch's default alpha 1).</summary>
    public string Elu(string x, float alpha = 1f, string? name = null) => Add("Elu", [x], name, Float("alpha", alpha));

    /// <summary>GELU: x Phi(x) exactly, or with PyTorch's tanh approximation (<c>approximate='tanh'</c>). Opset 20 and
    /// newer write the Gelu op; older opsets the same formula from Erf or Tanh nodes.</summary>
    public string Gelu(string x, bool tanhApproximation = false, string? name = null)
    {
        if (Opset >= 20) return Add("Gelu", [x], name, String("approximate", tanhApproximation ? "tanh" : "none"));
        string inner;
        if (!tanhApproximation)
        {
            inner = Add("Erf", [Mul(x, Scalar((float)(1 / Math.Sqrt(2))))], null);
        }
        else
        {
            string cube = Mul(Mul(x, x), x);
            string poly = Add(x, Mul(cube, Scalar(0.044715f)));
            inner = Tanh(Mul(poly, Scalar((float)Math.Sqrt(2 / Math.PI))));
        }
        return Mul(Mul(x, Add(inner, Scalar(1f))), Scalar(0.5f), name);
    }

    /// <summary>a + b, numpy broadcasting ((C, 1, 1) against (N, C, H, W) is a channel broadcast).</summary>
    public string Add(string a, string b, string? name = null) => Add("Add", [a, b], name);

    /// <summary>a - b, numpy broadcasting.</summary>
    public string Sub(string a, string b, string? name = null) => Add("Sub", [a, b], name);

    /// <summary>a * b, numpy broadcasting.</summary>
    public string Mul(string a, string b, string? name = null) => Add("Mul", [a, b], name);

    /// <summary>a / b, numpy broadcasting.</summary>
    public string Div(string a, string b, string? name = null) => Add("Div", [a, b], name);

    /// <summary>The binarising sign of our kernels, -1 where x &lt; 0 and +1 elsewhere (0 and NaN included):
    /// <c>Where(Less(x, 0), -1, 1)</c>, not ONNX Sign, which maps 0 to 0.</summary>
    public string BinarySign(string x, string? name = null) =>
        Add("Where", [Add("Less", [x, Scalar(0f)], null), Scalar(-1f), Scalar(1f)], name);

    /// <summary>PRelu: x where x &gt;= 0, slope * x elsewhere (<paramref name="slope"/> broadcast to x).</summary>
    public string PRelu(string x, string slope, string? name = null) => Add("PRelu", [x, slope], name);

    /// <summary>Softmax along <paramref name="axis"/>.</summary>
    public string Softmax(string x, int axis = -1, string? name = null) => Add("Softmax", [x], name, Int("axis", axis));

    /// <summary>Identity (a new name for a value, e.g. to call a graph output "logits").</summary>
    public string Identity(string x, string? name = null) => Add("Identity", [x], name);

    // ---- Shapes and data movement ---------------------------------------------------------------------------

    /// <summary>Concatenation along <paramref name="axis"/> (1: channels).</summary>
    public string Concat(int axis, params string[] values) => Concat(axis, values, null);

    /// <summary>Concatenation along <paramref name="axis"/>, output named <paramref name="name"/>.</summary>
    public string Concat(int axis, string[] values, string? name)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0) throw new OnnxExportException("Concat needs at least one input.");
        return Add("Concat", values, name, Int("axis", axis));
    }

    /// <summary>Slice [starts, ends) with steps along <paramref name="axes"/>; <see cref="long.MaxValue"/> as an end means "to the end".</summary>
    public string Slice(string x, long[] starts, long[] ends, long[] axes, long[]? steps = null, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(starts);
        ArgumentNullException.ThrowIfNull(ends);
        ArgumentNullException.ThrowIfNull(axes);
        if (starts.Length != ends.Length || starts.Length != axes.Length || (steps is not null && steps.Length != axes.Length))
            throw new OnnxExportException("Slice: starts, ends, axes (and steps) must have one entry per sliced axis.");
        var inputs = new List<string>
        {
            x,
            Int64Initializer(Unique("slice_starts"), starts, starts.Length),
            Int64Initializer(Unique("slice_ends"), ends, ends.Length),
            Int64Initializer(Unique("slice_axes"), axes, axes.Length),
        };
        if (steps is not null) inputs.Add(Int64Initializer(Unique("slice_steps"), steps, steps.Length));
        return Add("Slice", [.. inputs], name);
    }

    /// <summary>Channels [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of an NCHW
    /// or (N, C) tensor: the DSL's Slice.</summary>
    public string SliceChannels(string x, int start, int count, string? name = null) => Slice(x, [start], [start + count], [1], null, name);

    /// <summary>Reshape to <paramref name="shape"/>; 0 copies that input dimension (use it for the batch), -1 is inferred.</summary>
    public string Reshape(string x, long[] shape, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return Add("Reshape", [x, Int64Initializer(Unique("shape"), shape, shape.Length)], name);
    }

    /// <summary>Reshape of each sample to <paramref name="sampleShape"/>, the batch kept: the DSL's Reshape.</summary>
    public string ReshapeSamples(string x, int[] sampleShape, string? name = null) =>
        Reshape(x, [0, .. CheckDims(sampleShape, nameof(sampleShape)).Select(d => (long)d)], name);

    /// <summary>Flatten to 2-D: dimensions before <paramref name="axis"/> into rows, the rest into columns (1: per sample).</summary>
    public string Flatten(string x, int axis = 1, string? name = null) => Add("Flatten", [x], name, Int("axis", axis));

    /// <summary>Transpose with permutation <paramref name="perm"/>.</summary>
    public string Transpose(string x, int[] perm, string? name = null) => Add("Transpose", [x], name, Ints("perm", perm));

    /// <summary>Mean over <paramref name="axes"/> (kept as size-1 dimensions when <paramref name="keepDims"/>).</summary>
    public string ReduceMean(string x, int[] axes, bool keepDims = true, string? name = null) => Reduce("ReduceMean", 18, x, axes, keepDims, name);

    /// <summary>Sum over <paramref name="axes"/>.</summary>
    public string ReduceSum(string x, int[] axes, bool keepDims = true, string? name = null) => Reduce("ReduceSum", 13, x, axes, keepDims, name);

    string Reduce(string op, int axesInputSince, string x, int[] axes, bool keepDims, string? name)
    {
        ArgumentNullException.ThrowIfNull(axes);
        if (axes.Length == 0) throw new OnnxExportException($"{op}: give the axes to reduce (an empty list means every axis, or none with noop_with_empty_axes).");
        var keep = Int("keepdims", keepDims ? 1 : 0);
        // The axes moved from an attribute to an input: opset 13 for ReduceSum, 18 for the others.
        if (Opset >= axesInputSince)
            return Add(op, [x, Int64Initializer(Unique("axes"), axes.Select(a => (long)a).ToArray(), axes.Length)], name, keep);
        return Add(op, [x], name, Ints("axes", axes), keep);
    }

    /// <summary>Tile: <paramref name="x"/> repeated <paramref name="repeats"/>[i] times along axis i (the batch axis too:
    /// give 1 for it).</summary>
    public string Tile(string x, long[] repeats, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(repeats);
        return Add("Tile", [x, Int64Initializer(Unique("repeats"), repeats, repeats.Length)], name);
    }

    /// <summary>Gather along <paramref name="axis"/>: an embedding lookup is <c>Gather(weight, ids, 0)</c>.</summary>
    public string Gather(string data, string indices, int axis = 0, string? name = null) => Add("Gather", [data, indices], name, Int("axis", axis));

    // ---- Spiking neurons -------------------------------------------------------------------------------------

    /// <summary>A spiking neuron layer (IF, LIF, PLIF) in evaluation, the time loop unrolled: x is (N, T, ...) time-major
    /// per sample, or (N, ...) fed at every step when <paramref name="staticInput"/>; the result is the spikes (N, T, ...) in
    /// {0, 1}. Each step is written with NeuronKernel.Forward's float operations in its order (the charge of Neurons.cs,
    /// spike = h &gt;= v_threshold, the reset as a select), so the spikes are ours bit for bit. PLIF's decay k = sigmoid(w)
    /// is computed now from <c>{layer}.w</c> of <paramref name="store"/> by <see cref="NeuronDynamics.Decay"/>, as the
    /// kernel computes it per call, rather than by an ONNX Sigmoid that may round otherwise.</summary>
    public string SpikingNeuron(string x, int steps, bool staticInput, NeuronDynamics d, ParameterStore? store = null, string? layer = null)
    {
        if (steps <= 0) throw new OnnxExportException($"A spiking layer needs at least one time step, got {steps}.");
        float k = 0f;
        if (d.Model == NeuronModel.ParametricLif)
        {
            if (store is null || layer is null) throw new OnnxExportException("A PLIF layer needs its parameter store and layer name (for its w).");
            string wName = layer + ".w";
            int index;
            try { index = store.IndexOf(wName); }
            catch (KeyNotFoundException) { throw new OnnxExportException($"The model has no parameter '{wName}'."); }
            k = NeuronDynamics.Decay(store.Value(index)[0]);
        }
        float vRest = d.VReset ?? 0f;
        string vth = Scalar(d.VThreshold), rest = Scalar(vRest);
        string Charge(string v, string xt) => d.Model switch
        {
            NeuronModel.If => Add(v, xt),
            NeuronModel.Lif when d.DecayInput => Add(v, Div(Sub(xt, Sub(v, rest)), Scalar(d.Tau))),
            NeuronModel.Lif => Add(Sub(v, Div(Sub(v, rest), Scalar(d.Tau))), xt),
            _ when d.DecayInput => Add(v, Mul(Sub(xt, Sub(v, rest)), Scalar(k))),
            _ => Add(Sub(v, Mul(Sub(v, rest), Scalar(k))), xt),
        };
        // The membrane starts as a scalar (v_reset, or 0 with a soft reset) broadcast by the first step's charge.
        string vState = Scalar(d.VInit);
        string axis = Int64Initializer(Unique("time_axis"), [1L], 1);
        var spikes = new string[steps];
        for (int t = 0; t < steps; t++)
        {
            string xt = staticInput ? x : Add("Gather", [x, Int64Initializer(Unique("step"), [(long)t])], null, Int("axis", 1));
            string h = Charge(vState, xt);
            string fire = Add("GreaterOrEqual", [h, vth], null);
            spikes[t] = Add("Unsqueeze", [Add("Cast", [fire], null, Int("to", Float32)), axis], null);
            if (t + 1 < steps)   // the last step's membrane is not an output
                vState = Add("Where", [fire, d.VReset.HasValue ? Scalar(d.VReset.Value) : Sub(h, vth), h], null);
        }
        return steps == 1 ? spikes[0] : Concat(1, spikes);
    }
    /// <summary>Poisson rate coding as our encoder defines it: 1 where u &lt;= p, else 0 (float), u uniform in [0, 1) drawn by
    /// the runtime (RandomUniformLike). The runtime draws its own numbers (our counter-based generator has no ONNX form),
    /// so a file reproduces the rates of our spikes, not the spikes. (Not ONNX Bernoulli: ONNX Runtime 1.32's CPU
    /// Bernoulli fires with probability 1 - p, measured in ExportTests' first version of the rate test.)</summary>
    public string RateSpikes(string p, string? name = null) =>
        Add("Cast", [Add("LessOrEqual", [Add("RandomUniformLike", [p], null), p], null)], name, Int("to", Float32));

    // ---- Attention ------------------------------------------------------------------------------------------
    // Our attention ops take (batch, N, D) token matrices with the heads interleaved in each row (head h owns columns
    // [h Dh, (h + 1) Dh)); ONNX gets them as (batch, H, N, Dh) through Reshape and Transpose, and the result back.

    string SplitHeads(string x, int seqLen, int heads, int headSize) =>
        Transpose(Reshape(x, [-1, seqLen, heads, headSize]), [0, 2, 1, 3]);

    string MergeHeads(string x, int seqLen, int heads, int headSize) =>
        Reshape(Transpose(x, [0, 2, 1, 3]), [-1, seqLen, (long)heads * headSize]);

    /// <summary>An (N, N) constant: <paramref name="on"/> where key j &lt;= query i, <paramref name="above"/> elsewhere.</summary>
    string CausalMask(int seqLen, float on, float above)
    {
        var m = new float[(long)seqLen * seqLen];
        for (int i = 0; i < seqLen; i++)
            for (int j = 0; j < seqLen; j++) m[(long)i * seqLen + j] = j <= i ? on : above;
        return Initializer(Unique("causal_mask"), m, seqLen, seqLen);
    }

    /// <summary>Multi-head softmax attention as the ScaledDotProductAttention op computes it: per head
    /// softmax(q k^T / sqrt(Dh) (+ mask)) v, the causal mask -inf above the diagonal (a query always sees itself, so no
    /// row is all -inf).</summary>
    public string ScaledDotProductAttention(string q, string k, string v, int seqLen, int heads, int headSize, bool causal)
    {
        string qh = SplitHeads(q, seqLen, heads, headSize), vh = SplitHeads(v, seqLen, heads, headSize);
        string kt = Transpose(Reshape(k, [-1, seqLen, heads, headSize]), [0, 2, 3, 1]);
        string scores = Mul(MatMul(qh, kt), Scalar(SoftmaxAttention.Scale(headSize)));
        if (causal) scores = Add(scores, CausalMask(seqLen, 0f, float.NegativeInfinity));
        return MergeHeads(MatMul(Softmax(scores, -1), vh), seqLen, heads, headSize);
    }

    /// <summary>Multi-head linear attention as the LinearAttention op computes it, in its quadratic form:
    /// A = phi(q) phi(k)^T (times the lower-triangular ones when causal), y = A v / (rowsum(A) + eps). The same sums as
    /// the kernels' phi(q)^T S / (phi(q)^T z + eps), grouped differently: O(N^2) memory, fine for an exported graph.
    /// phi is elu(x) + 1 (written x + 1 where x &gt; 0, exp(x) elsewhere, as EluPlusOne) or ReLU.</summary>
    public string LinearAttention(string q, string k, string v, int seqLen, int heads, int headSize, bool causal, bool elu)
    {
        string Phi(string x) => elu
            ? Add("Where", [Add("Greater", [x, Scalar(0f)], null), Add(x, Scalar(1f)), Exp(x)], null)
            : Relu(x);
        string qh = Phi(SplitHeads(q, seqLen, heads, headSize)), vh = SplitHeads(v, seqLen, heads, headSize);
        string kt = Phi(Transpose(Reshape(k, [-1, seqLen, heads, headSize]), [0, 2, 3, 1]));
        string a = MatMul(qh, kt);
        if (causal) a = Mul(a, CausalMask(seqLen, 1f, 0f));
        string den = Add(ReduceSum(a, [-1], keepDims: true), Scalar(Authoring.Runtime.Cpu.LinearAttention.Eps));
        return MergeHeads(Div(MatMul(a, vh), den), seqLen, heads, headSize);
    }

    /// <summary>Fails the export: <paramref name="op"/> has no ONNX mapping. Generated code calls this for such ops, so an
    /// export never writes a file that silently computes something else.</summary>
    /// <param name="op">The op's name in the DSL.</param>
    /// <param name="where">Where it is (layer or source location), for the message.</param>
    public void Unsupported(string op, string where) =>
        throw new OnnxExportException($"ONNX export of '{_graphName}': {op} ({where}) has no ONNX mapping yet; nothing was written.");

    // ---- Writing --------------------------------------------------------------------------------------------

    /// <summary>The model as ONNX protobuf bytes.</summary>
    /// <exception cref="OnnxExportException">No input or output was declared.</exception>
    public byte[] ToBytes()
    {
        if (_inputs.Count == 0) throw new OnnxExportException($"ONNX export of '{_graphName}': no graph input was declared.");
        if (_outputs.Count == 0) throw new OnnxExportException($"ONNX export of '{_graphName}': no graph output was declared.");

        var graph = new ProtoWriter();
        foreach (var n in _nodes) graph.Message(1, EncodeNode(n));          // node
        graph.String(2, _graphName);                                         // name
        foreach (var t in _initializers) graph.Message(5, EncodeTensor(t));  // initializer
        foreach (var v in _inputs) graph.Message(11, EncodeValueInfo(v));    // input
        foreach (var v in _outputs) graph.Message(12, EncodeValueInfo(v));   // output

        var model = new ProtoWriter();
        model.Int64(1, IrVersion(Opset));                                    // ir_version
        model.String(2, "Authoring");                                        // producer_name
        model.String(3, typeof(OnnxGraphBuilder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0");
        if (Description is { Length: > 0 } d) model.String(6, d);           // doc_string
        model.Message(7, graph);                                             // graph
        model.Message(8, new ProtoWriter().Int64(2, Opset));                 // opset_import: default domain
        foreach (var (k, v) in Metadata) model.Message(14, new ProtoWriter().String(1, k).String(2, v)); // metadata_props
        return model.Written.ToArray();
    }

    /// <summary>Writes the model to <paramref name="stream"/>.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(ToBytes());
    }

    /// <summary>Writes the model to <paramref name="path"/> (next to it first, then moved into place).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = ToBytes();
        string full = Path.GetFullPath(path);
        if (Path.GetDirectoryName(full) is { Length: > 0 } dir) Directory.CreateDirectory(dir);
        File.WriteAllBytes(full + ".tmp", bytes);
        File.Move(full + ".tmp", full, overwrite: true);
    }

    /// <summary>The IR version that goes with an opset (onnx/helper.py's VERSION_TABLE): a runtime refuses a model
    /// whose IR version is newer than it knows, so the oldest one that allows the opset is written.</summary>
    static int IrVersion(int opset) => opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    // ---- Internals ------------------------------------------------------------------------------------------

    string Add(string opType, string[] inputs, string? name, params Attribute[] attributes)
    {
        foreach (var i in inputs)
            if (i.Length > 0) Use(i, opType); // "" is an omitted optional input
        string output = name ?? Unique(opType);
        Define(output, opType + " output");
        _nodes.Add(new Node(opType, inputs, output, attributes));
        return output;
    }

    void Use(string value, string op)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!_values.Contains(value))
            throw new OnnxExportException($"ONNX export of '{_graphName}': {op} reads '{value}', which is not an input, initializer or earlier output.");
    }

    void Define(string value, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        if (!_values.Add(value)) throw new OnnxExportException($"ONNX export of '{_graphName}': the {what} '{value}' reuses a name already in the graph.");
    }

    string Unique(string stem)
    {
        _opCounts.TryGetValue(stem, out int k);
        string name;
        do name = $"{stem}_{k++}"; while (_values.Contains(name));
        _opCounts[stem] = k;
        return name;
    }

    static int[] CheckDims(int[] dims, string param)
    {
        ArgumentNullException.ThrowIfNull(dims, param);
        foreach (int d in dims)
            if (d < 0) throw new OnnxExportException($"Negative dimension in [{string.Join(", ", dims)}].");
        return dims;
    }

    static ProtoWriter EncodeNode(Node n)
    {
        var w = new ProtoWriter();
        foreach (var i in n.Inputs) w.String(1, i);
        w.String(2, n.Output);
        w.String(3, n.Output);      // node name: its output's, unique by construction
        w.String(4, n.OpType);
        foreach (var a in n.Attributes) w.Message(5, EncodeAttribute(a));
        return w;
    }

    static ProtoWriter EncodeAttribute(Attribute a)
    {
        // AttributeProto: name 1, f 2, i 3, s 4, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, INTS 7).
        var w = new ProtoWriter().String(1, a.Name);
        switch (a.Kind)
        {
            case AttributeKind.Float: w.Float(2, a.F).Int64(20, 1); break;
            case AttributeKind.Int: w.Int64(3, a.I).Int64(20, 2); break;
            case AttributeKind.String: w.String(4, a.S!).Int64(20, 3); break;
            case AttributeKind.Ints: w.PackedInt64(8, a.Ints!).Int64(20, 7); break;
        }
        return w;
    }

    static ProtoWriter EncodeTensor(TensorData t)
    {
        // TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian; this runtime only runs on little-endian hosts).
        var w = new ProtoWriter();
        w.PackedInt64(1, t.Shape.Select(d => (long)d).ToArray());
        w.Int64(2, t.DataType);
        w.String(8, t.Name);
        w.Bytes(9, t.Data);
        return w;
    }

    static ProtoWriter EncodeValueInfo(ValueInfo v)
    {
        // ValueInfoProto{name 1, type 2}; TypeProto{tensor_type 1}; Tensor{elem_type 1, shape 2};
        // TensorShapeProto{dim 1}; Dimension{dim_value 1, dim_param 2}.
        var shape = new ProtoWriter();
        shape.Message(1, new ProtoWriter().String(2, BatchDimension));
        foreach (int d in v.SampleShape) shape.Message(1, new ProtoWriter().Int64(1, d));
        var tensor = new ProtoWriter().Int64(1, v.ElemType).Message(2, shape);
        return new ProtoWriter().String(1, v.Name).Message(2, new ProtoWriter().Message(1, tensor));
    }

    static Attribute Int(string name, long value) => new(name, AttributeKind.Int, value, 0, null, null);
    static Attribute Float(string name, float value) => new(name, AttributeKind.Float, 0, value, null, null);
    static Attribute String(string name, string value) => new(name, AttributeKind.String, 0, 0, value, null);
    static Attribute Ints(string name, params int[] values) => new(name, AttributeKind.Ints, 0, 0, null, values.Select(v => (long)v).ToArray());

    enum AttributeKind { Int, Float, String, Ints }

    sealed record Attribute(string Name, AttributeKind Kind, long I, float F, string? S, long[]? Ints);
    sealed record Node(string OpType, string[] Inputs, string Output, Attribute[] Attributes);
    sealed record TensorData(string Name, int DataType, int[] Shape, byte[] Data);
    sealed record ValueInfo(string Name, int[] SampleShape, int ElemType);
}
