// TorchSharp as the numerical oracle for parity tests: plain float[] arrays in (NCHW, row-major,
// the layout of our Views), PyTorch ops, values and gradients out as float[] again.
//
// Typical use:
//
//   using var scope = TorchOracle.Scope();                 // disposes every tensor made inside
//   var x = TorchOracle.Leaf(xData, 2, 3, 8, 8);           // leaves: gradients can be asked for
//   var w = TorchOracle.Leaf(wData, 4, 3, 3, 3);
//   var y = TorchOracle.Relu(TorchOracle.Conv2d(x, w, null, stride: 2, padding: 1));
//   float[] yExpected = TorchOracle.ToArray(y);
//   float[][] g = TorchOracle.Gradients(y, dyData, x, w); // { dx, dw } for upstream gradient dy
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

/// <summary>Builds float32 tensors from plain arrays, runs PyTorch's ops and reads results back.</summary>
public static class TorchOracle
{
    /// <summary>Routes the block mirrors' activations (TorchBlocks.cs) through the kink-watching ops when the test
    /// assembly loads.</summary>
#pragma warning disable CA2255 // a test assembly: initialising its own statics at load is the point
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void RouteBlockActivations()
    {
        TorchActivations.Relu = Relu;
        TorchActivations.Relu6 = Relu6;
    }

    static TorchOracle()
    {
        // The machine has 2 cores; the benchmarks and PEERS.md use the same setting.
        torch.set_num_threads(2);
    }

    /// <summary>Runs the one-time setup (2 intra-op threads); any other member also triggers it.</summary>
    public static void EnsureInitialized() { }

    /// <summary>Opens a dispose scope: every tensor created until it is disposed is freed with it.</summary>
    public static DisposeScope Scope() => torch.NewDisposeScope();

    // ---- Arrays in and out --------------------------------------------------------------------

    /// <summary>A float32 constant (no gradient) holding a copy of <paramref name="data"/>.</summary>
    public static TorchTensor Constant(float[] data, params long[] shape) => Create(data, shape, requiresGrad: false);

    /// <summary>A float32 leaf that records gradients (an input or a parameter to differentiate by).</summary>
    public static TorchTensor Leaf(float[] data, params long[] shape) => Create(data, shape, requiresGrad: true);

    /// <summary>Class labels as the int64 tensor <see cref="CrossEntropy(TorchTensor, TorchTensor)"/> expects.</summary>
    public static TorchTensor Labels(int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return torch.tensor(Array.ConvertAll(labels, l => (long)l), new long[] { labels.Length }, torch.int64);
    }

    /// <summary>A copy of the tensor's values in row-major order, as float32.</summary>
    public static float[] ToArray(TorchTensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var scope = torch.NewDisposeScope();
        return t.detach().to(torch.float32).contiguous().data<float>().ToArray();
    }

    /// <summary>The value of a one-element tensor.</summary>
    public static float Scalar(TorchTensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t.detach().to(torch.float32).item<float>();
    }

    /// <summary>The tensor's shape.</summary>
    public static long[] Shape(TorchTensor t) => t.shape;

    /// <summary>Deterministic uniform values in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public static float[] Random(int count, int seed, float min = -1f, float max = 1f)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = min + (max - min) * rng.NextSingle();
        }
        return a;
    }

    static TorchTensor Create(float[] data, long[] shape, bool requiresGrad)
    {
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }
        if (count != data.Length)
        {
            throw new ArgumentException($"{data.Length} values do not fill shape [{string.Join(", ", shape)}].", nameof(data));
        }
        return torch.tensor(data, shape, torch.float32, requires_grad: requiresGrad);
    }

    // ---- Gradients ----------------------------------------------------------------------------

    /// <summary>Gradients of a scalar <paramref name="loss"/> with respect to each of <paramref name="wrt"/>,
    /// in order; an input the loss does not depend on gets zeros.</summary>
    public static float[][] Gradients(TorchTensor loss, params TorchTensor[] wrt) => Gradients(loss, null, wrt);

    /// <summary>Vector-Jacobian products: the gradients with respect to each of <paramref name="wrt"/> of
    /// sum(output * <paramref name="outputGradient"/>) (the upstream gradient dy, same shape as the output;
    /// null means a scalar output with gradient 1). Inputs the output does not depend on get zeros.
    /// The graph is kept, so this may be called again on the same output.</summary>
    public static float[][] Gradients(TorchTensor output, float[]? outputGradient, params TorchTensor[] wrt)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(wrt);
        using var scope = torch.NewDisposeScope();
        TorchTensor[]? dy = outputGradient is null ? null : new[] { Constant(outputGradient, output.shape) };
        if (dy is null && output.numel() != 1)
        {
            throw new ArgumentException("A non-scalar output needs an output gradient.", nameof(outputGradient));
        }
        var grads = torch.autograd.grad(new[] { output }, wrt, dy, retain_graph: true, allow_unused: true);
        var result = new float[wrt.Length][];
        for (int i = 0; i < wrt.Length; i++)
        {
            TorchTensor? g = i < grads.Count ? grads[i] : null;
            // An unused input's gradient comes back undefined (no handle).
            result[i] = g is null || g.IsInvalid
                ? new float[wrt[i].numel()]
                : ToArray(g);
        }
        return result;
    }

    // ---- Convolution and linear ---------------------------------------------------------------

    /// <summary>2-D convolution; x [N, Cin, H, W], w [Cout, Cin / groups, Kh, Kw], bias [Cout] or null.</summary>
    public static TorchTensor Conv2d(TorchTensor x, TorchTensor w, TorchTensor? bias,
        int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
        => Conv2d(x, w, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>2-D convolution with per-axis (height, width) stride, padding and dilation.</summary>
    public static TorchTensor Conv2d(TorchTensor x, TorchTensor w, TorchTensor? bias,
        (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1)
        => F.conv2d(x, w, bias,
            strides: new long[] { stride.H, stride.W },
            padding: new long[] { padding.H, padding.W },
            dilation: new long[] { dilation.H, dilation.W },
            groups: groups);

    /// <summary>y = x w^T + b; x [N, in], w [out, in], bias [out] or null.</summary>
    public static TorchTensor Linear(TorchTensor x, TorchTensor w, TorchTensor? bias) => F.linear(x, w, bias);

    // ---- Normalization ------------------------------------------------------------------------

    /// <summary>Training-mode batch norm over dim 1 (x [N, C] or [N, C, H, W]): normalizes with the batch
    /// mean and biased variance and updates <paramref name="runningMean"/> / <paramref name="runningVar"/>
    /// in place (running = (1 - momentum) running + momentum batch, the variance unbiased), as PyTorch does.
    /// The running statistics should be <see cref="Constant"/> tensors; read them back with <see cref="ToArray"/>.</summary>
    public static TorchTensor BatchNormTrain(TorchTensor x, TorchTensor gamma, TorchTensor beta,
        TorchTensor runningMean, TorchTensor runningVar, double momentum = 0.1, double eps = 1e-5)
        => F.batch_norm(x, runningMean, runningVar, gamma, beta, training: true, momentum: momentum, eps: eps);

    /// <summary>Eval-mode batch norm: y = gamma (x - runningMean) / sqrt(runningVar + eps) + beta.</summary>
    public static TorchTensor BatchNormEval(TorchTensor x, TorchTensor gamma, TorchTensor beta,
        TorchTensor runningMean, TorchTensor runningVar, double eps = 1e-5)
        => F.batch_norm(x, runningMean, runningVar, gamma, beta, training: false, eps: eps);

    // ---- Activations --------------------------------------------------------------------------

    // The piecewise activations and max pooling report their near-kink elements to an open KinkPoints watch.

    /// <summary>max(x, 0).</summary>
    public static TorchTensor Relu(TorchTensor x) => KinkPoints.Elementwise("relu", x, t => F.relu(t), 0);

    /// <summary>min(max(x, 0), 6).</summary>
    public static TorchTensor Relu6(TorchTensor x) => KinkPoints.Elementwise("relu6", x, t => F.relu6(t), 0, 6);

    /// <summary>x relu6(x + 3) / 6.</summary>
    public static TorchTensor Hardswish(TorchTensor x) => KinkPoints.Elementwise("hardswish", x, t => F.hardswish(t), -3, 3);

    /// <summary>relu6(x + 3) / 6.</summary>
    public static TorchTensor Hardsigmoid(TorchTensor x) => KinkPoints.Elementwise("hardsigmoid", x, t => F.hardsigmoid(t), -3, 3);

    /// <summary>1 / (1 + exp(-x)).</summary>
    public static TorchTensor Sigmoid(TorchTensor x) => torch.sigmoid(x);

    /// <summary>tanh(x).</summary>
    public static TorchTensor Tanh(TorchTensor x) => torch.tanh(x);

    // ---- Elementwise with broadcasting --------------------------------------------------------

    /// <summary>a + b with PyTorch (numpy) broadcasting.</summary>
    public static TorchTensor Add(TorchTensor a, TorchTensor b) => torch.add(a, b);

    /// <summary>a * b with PyTorch (numpy) broadcasting.</summary>
    public static TorchTensor Mul(TorchTensor a, TorchTensor b) => torch.mul(a, b);

    /// <summary>x + c[channel]: c has shape [C] (or [N, C] for a per-sample value, as squeeze-excite
    /// produces), broadcast over x [N, C, ...].</summary>
    public static TorchTensor AddChannel(TorchTensor x, TorchTensor c) => torch.add(x, AsChannel(x, c));

    /// <summary>x * c[channel]: c has shape [C] or [N, C], broadcast over x [N, C, ...].</summary>
    public static TorchTensor MulChannel(TorchTensor x, TorchTensor c) => torch.mul(x, AsChannel(x, c));

    static TorchTensor AsChannel(TorchTensor x, TorchTensor c)
    {
        // [C] -> [1, C, 1, ...]; [N, C] -> [N, C, 1, ...]
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        if (c.dim() == 1)
        {
            shape[1] = c.shape[0];
        }
        else if (c.dim() == 2)
        {
            shape[0] = c.shape[0];
            shape[1] = c.shape[1];
        }
        else
        {
            throw new ArgumentException("A channel operand has shape [C] or [N, C].", nameof(c));
        }
        return c.reshape(shape);
    }

    // ---- Shape --------------------------------------------------------------------------------

    /// <summary>Concatenation along <paramref name="dim"/> (1 = channels for NCHW).</summary>
    public static TorchTensor Cat(int dim, params TorchTensor[] parts) => torch.cat(parts, dim);

    /// <summary>The slice [start, start + length) of <paramref name="dim"/> (a view; gradients flow back).</summary>
    public static TorchTensor Narrow(TorchTensor x, int dim, long start, long length) => x.narrow(dim, start, length);

    /// <summary>Flattens dims from <paramref name="startDim"/> on ([N, C, H, W] -> [N, C*H*W] by default).</summary>
    public static TorchTensor Flatten(TorchTensor x, int startDim = 1) => torch.flatten(x, startDim);

    // ---- Pooling ------------------------------------------------------------------------------

    /// <summary>Max pooling; padding acts as negative infinity. Stride defaults to the kernel size.</summary>
    public static TorchTensor MaxPool2d(TorchTensor x, int kernel, int? stride = null, int padding = 0)
        => KinkPoints.MaxPool2d(x, kernel, stride ?? kernel, padding, t => F.max_pool2d(t, new long[] { kernel, kernel },
            new long[] { stride ?? kernel, stride ?? kernel }, new long[] { padding, padding }));

    /// <summary>Average pooling with zero padding counted in the divisor (count_include_pad = true).
    /// Stride defaults to the kernel size.</summary>
    public static TorchTensor AvgPool2d(TorchTensor x, int kernel, int? stride = null, int padding = 0)
        => F.avg_pool2d(x, new long[] { kernel, kernel }, new long[] { stride ?? kernel, stride ?? kernel },
            new long[] { padding, padding }, ceil_mode: false, count_include_pad: true);

    /// <summary>Adaptive average pooling to <paramref name="outputSize"/> squared; 1 gives the global
    /// average pool, [N, C, H, W] -> [N, C, 1, 1].</summary>
    public static TorchTensor AdaptiveAvgPool2d(TorchTensor x, int outputSize = 1)
        => F.adaptive_avg_pool2d(x, new long[] { outputSize, outputSize });

    // ---- Resizing -----------------------------------------------------------------------------

    /// <summary>F.interpolate(x, size=(height, width), mode='nearest') on [N, C, H, W].</summary>
    public static TorchTensor UpsampleNearest(TorchTensor x, int height, int width)
        => F.interpolate(x, size: new long[] { height, width }, mode: torch.InterpolationMode.Nearest);

    // ---- Losses -------------------------------------------------------------------------------

    /// <summary>Mean softmax cross-entropy over the batch; logits [N, classes].</summary>
    public static TorchTensor CrossEntropy(TorchTensor logits, int[] labels) => CrossEntropy(logits, Labels(labels));

    /// <summary>Mean softmax cross-entropy over the batch; labels an int64 tensor [N].</summary>
    public static TorchTensor CrossEntropy(TorchTensor logits, TorchTensor labels) => F.cross_entropy(logits, labels);
}
