// A double-precision, deliberately naive interpreter of the model IR: the numerical oracle for the
// generated kernels. It shares no code with the runtime; each op follows PyTorch's definition.
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Runtime.Cpu;

namespace Authoring.Models.Tests.Oracle;

internal sealed partial class ReferenceInterpreter(ModelIr ir)
{
    public ModelIr Ir { get; } = ir;

    /// <summary>Logits for a batch. Training mode uses batch statistics and the dropout masks of the
    /// generated code's first training step for <paramref name="dropoutSeed"/>.</summary>
    public double[] Forward(double[] x, int n, IReadOnlyDictionary<string, double[]> p, bool train, ulong dropoutSeed = 0x5EEDUL)
    {
        var values = new double[Ir.Nodes.Count][];
        ulong stepSeed = dropoutSeed + 0x9E3779B97F4A7C15UL * 1;
        foreach (var node in Ir.Nodes)
            values[node.Id] = node.Op is OpKind.Input or OpKind.Tokens ? x : Eval(node, values, n, p, train, stepSeed);
        return values[Ir.Output];
    }

    /// <summary>Mean softmax cross-entropy, in double.</summary>
    public static double Loss(double[] logits, int n, int classes, int[] labels)
    {
        double total = 0;
        for (int b = 0; b < n; b++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, logits[b * classes + k]);
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += Math.Exp(logits[b * classes + k] - max);
            total += Math.Log(sum) + max - logits[b * classes + labels[b]];
        }
        return total / n;
    }

    /// <summary>The model's declared loss, in double, as PyTorch defines it with mean reduction: cross-entropy over
    /// the last axis with label smoothing and ignored labels (-100), MSE, L1, BCE on logits.</summary>
    public double Loss(double[] output, int n, int[] labels, float[] targets)
    {
        var outNode = Ir.Nodes[Ir.Output];
        int size = outNode.Size;
        switch (Ir.Loss)
        {
            case "CrossEntropy":
                {
                    int classes = outNode.Shape[outNode.Shape.Count - 1], rows = n * size / classes;
                    double eps = Ir.LabelSmoothing, total = 0;
                    int counted = 0;
                    for (int r = 0; r < rows; r++)
                    {
                        if (labels[r] == -100) continue;
                        counted++;
                        double max = double.NegativeInfinity;
                        for (int k = 0; k < classes; k++) max = Math.Max(max, output[r * classes + k]);
                        double sum = 0;
                        for (int k = 0; k < classes; k++) sum += Math.Exp(output[r * classes + k] - max);
                        double lse = Math.Log(sum) + max, all = 0;
                        for (int k = 0; k < classes; k++) all += lse - output[r * classes + k];
                        total += (1 - eps) * (lse - output[r * classes + labels[r]]) + eps * all / classes;
                    }
                    return counted == 0 ? 0 : total / counted;
                }
            default:
                {
                    double total = 0;
                    for (int i = 0; i < n * size; i++)
                    {
                        double v = output[i], t = targets[i];
                        total += Ir.Loss switch
                        {
                            "Mse" => (v - t) * (v - t),
                            "L1" => Math.Abs(v - t),
                            _ => -(t * LogSigmoid(v) + (1 - t) * LogSigmoid(-v)),
                        };
                    }
                    return total / (n * size);
                }
        }
    }

    static double LogSigmoid(double v) => v >= 0 ? -Math.Log(1 + Math.Exp(-v)) : v - Math.Log(1 + Math.Exp(v));

    /// <summary>Batch mean and biased variance per channel of a BatchNorm's input, as training uses them (leading
    /// axes count as samples).</summary>
    public (double[] Mean, double[] Var) BatchStats(Node bn, double[] x, int n)
    {
        if (bn.Shape.Count != 3 && bn.Shape.Count != 1)
        {
            var trimmed = Trim(bn, bn.Shape.Count >= 3 ? 3 : 1);
            return BatchStats(trimmed, x, n * (bn.Size / trimmed.Size));
        }
        int c = bn.Channels, hw = bn.Spatial;
        var mean = new double[c];
        var var = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0, s2 = 0;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++) s += x[(b * c + ch) * hw + i];
            mean[ch] = s / (n * hw);
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++) { double d = x[(b * c + ch) * hw + i] - mean[ch]; s2 += d * d; }
            var[ch] = s2 / (n * hw);
        }
        return (mean, var);
    }

    /// <summary>All intermediate values (for checking running statistics).</summary>
    public double[][] All(double[] x, int n, IReadOnlyDictionary<string, double[]> p, bool train, ulong dropoutSeed = 0x5EEDUL)
    {
        var values = new double[Ir.Nodes.Count][];
        ulong stepSeed = dropoutSeed + 0x9E3779B97F4A7C15UL * 1;
        foreach (var node in Ir.Nodes)
            values[node.Id] = node.Op is OpKind.Input or OpKind.Tokens ? x : Eval(node, values, n, p, train, stepSeed);
        return values;
    }

    /// <summary>Layers over (C, H, W) or features apply to every leading index (time step, token) alike, as if
    /// those were more samples: this is how PyTorch's layers treat (N*T, C, H, W) and (N, T, F) inputs.</summary>
    static (int InputKeep, int OutputKeep)? Folds(Node node) => node.Op switch
    {
        OpKind.Conv2d or OpKind.MaxPool or OpKind.AvgPool or OpKind.UpsampleNearest => (3, 3),
        OpKind.GlobalAvgPool => (3, 1),
        OpKind.Linear => (1, 1),
        OpKind.BatchNorm => node.Shape.Count >= 3 ? (3, 3) : (1, 1),
        _ => null,
    };

    static Node Trim(Node n, int keep) => n with { Shape = new Generators.Helpers.EquatableArray<int>(n.Shape.Skip(n.Shape.Count - keep).ToArray()) };

    double[] Eval(Node node, double[][] v, int n, IReadOnlyDictionary<string, double[]> p, bool train, ulong seed)
    {
        var inputs = node.Inputs.Select(i => Ir.Nodes[i]).ToArray();
        if (Folds(node) is { } keep)
        {
            int leading = inputs[0].Size / Trim(inputs[0], keep.InputKeep).Size;
            n *= leading;
            inputs = inputs.Select(i => Trim(i, keep.InputKeep)).ToArray();
            node = Trim(node, keep.OutputKeep);
        }
        return EvalCore(node, inputs, v, n, p, train, seed);
    }

    double[] EvalCore(Node node, Node[] inputs, double[][] v, int n, IReadOnlyDictionary<string, double[]> p, bool train, ulong seed)
    {
        var x = inputs.Length > 0 ? v[inputs[0].Id] : Array.Empty<double>();
        int size = node.Size;
        if (FrozenMaxPool(node, inputs, x, n) is { } pooled) return pooled;
        var y = new double[n * size];
        switch (node.Op)
        {
            case OpKind.Conv2d:
                {
                    var a = new ConvAttrs(node);
                    var xs = inputs[0].Shape;
                    int h = xs[1], w = xs[2], ho = node.Shape[1], wo = node.Shape[2];
                    int cinG = a.Cin / a.Groups, coutG = a.Cout / a.Groups;
                    var wt = p[node.Layer + ".weight"];
                    var bias = a.Bias ? p[node.Layer + ".bias"] : null;
                    for (int b = 0; b < n; b++)
                        for (int co = 0; co < a.Cout; co++)
                        {
                            int g = co / coutG;
                            for (int oy = 0; oy < ho; oy++)
                                for (int ox = 0; ox < wo; ox++)
                                {
                                    double s = bias?[co] ?? 0;
                                    for (int ci = 0; ci < cinG; ci++)
                                        for (int ky = 0; ky < a.Kh; ky++)
                                            for (int kx = 0; kx < a.Kw; kx++)
                                            {
                                                int iy = oy * a.Sh - a.Ph + ky * a.Dh, ix = ox * a.Sw - a.Pw + kx * a.Dw;
                                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                                s += wt[((co * cinG + ci) * a.Kh + ky) * a.Kw + kx] * x[((b * a.Cin + g * cinG + ci) * h + iy) * w + ix];
                                            }
                                    y[((b * a.Cout + co) * ho + oy) * wo + ox] = s;
                                }
                        }
                    return y;
                }
            case OpKind.Linear:
                {
                    int inF = node.Ints[0], outF = node.Ints[1];
                    var wt = p[node.Layer + ".weight"];
                    var bias = node.Ints[2] != 0 ? p[node.Layer + ".bias"] : null;
                    for (int b = 0; b < n; b++)
                        for (int o = 0; o < outF; o++)
                        {
                            double s = bias?[o] ?? 0;
                            for (int i = 0; i < inF; i++) s += wt[o * inF + i] * x[b * inF + i];
                            y[b * outF + o] = s;
                        }
                    return y;
                }
            case OpKind.BatchNorm:
                {
                    int c = node.Channels, hw = node.Spatial;
                    double eps = node.F0;
                    double[] mean, var;
                    if (train) (mean, var) = BatchStats(node, x, n);
                    else { mean = p[node.Layer + ".running_mean"]; var = p[node.Layer + ".running_var"]; }
                    var gamma = p[node.Layer + ".weight"];
                    var beta = p[node.Layer + ".bias"];
                    for (int b = 0; b < n; b++)
                        for (int ch = 0; ch < c; ch++)
                            for (int i = 0; i < hw; i++)
                            {
                                int k = (b * c + ch) * hw + i;
                                y[k] = (x[k] - mean[ch]) / Math.Sqrt(var[ch] + eps) * gamma[ch] + beta[ch];
                            }
                    return y;
                }
            case OpKind.Activation:
                {
                    var act = (ActKind)node.Ints[0];
                    for (int i = 0; i < y.Length; i++) y[i] = Activate(act, x[i]);
                    return y;
                }
            case OpKind.Add:
            case OpKind.Mul:
            case OpKind.Sub:
            case OpKind.Div:
                {
                    var a = inputs[0]; var bnode = inputs[1];
                    for (int b = 0; b < n; b++)
                        for (int k = 0; k < size; k++)
                        {
                            double l = Broadcast(v[a.Id], a, node, b, k), r = Broadcast(v[bnode.Id], bnode, node, b, k);
                            y[b * size + k] = node.Op switch
                            {
                                OpKind.Add => l + r,
                                OpKind.Sub => l - r,
                                OpKind.Mul => l * r,
                                _ => l / r,
                            };
                        }
                    return y;
                }
            case OpKind.Scalar:
                {
                    double c = node.F0;
                    for (int i = 0; i < y.Length; i++)
                        y[i] = (ScalarKind)node.Ints[0] switch
                        {
                            ScalarKind.Mul => x[i] * c,
                            ScalarKind.Add => x[i] + c,
                            ScalarKind.RSub => c - x[i],
                            ScalarKind.Div => x[i] / c,
                            _ => c / x[i],
                        };
                    return y;
                }
            case OpKind.Embedding:
                {
                    // x holds the token ids (exact in double).
                    int dim = node.Ints[1], seq = inputs[0].Size;
                    var wt = p[node.Layer + ".weight"];
                    for (int b = 0; b < n; b++)
                        for (int t = 0; t < seq; t++)
                        {
                            int id = (int)x[b * seq + t];
                            for (int d = 0; d < dim; d++) y[(b * seq + t) * dim + d] = wt[id * dim + d];
                        }
                    return y;
                }
            case OpKind.Elu:
                for (int i = 0; i < y.Length; i++) y[i] = x[i] > 0 ? x[i] : node.F0 * (Math.Exp(x[i]) - 1);
                return y;
            case OpKind.Concat:
                {
                    // Along any axis: output index i on the axis reads the part whose range holds it.
                    int axis = node.Ints.Count > 0 ? node.Ints[0] : 0;
                    for (int b = 0; b < n; b++)
                        for (int k = 0; k < size; k++)
                        {
                            var idx = Unravel(k, node.Shape);
                            int at = idx[axis];
                            foreach (var part in inputs)
                            {
                                if (at < part.Shape[axis])
                                {
                                    idx[axis] = at;
                                    y[b * size + k] = v[part.Id][b * part.Size + Ravel(idx, part.Shape)];
                                    break;
                                }
                                at -= part.Shape[axis];
                            }
                        }
                    return y;
                }
            case OpKind.Slice:
                {
                    // narrow(axis, start, count): output index i on the axis reads input index start + i.
                    int axis = node.Ints.Count > 2 ? node.Ints[2] : 0;
                    for (int b = 0; b < n; b++)
                        for (int k = 0; k < size; k++)
                        {
                            var idx = Unravel(k, node.Shape);
                            idx[axis] += node.Ints[0];
                            y[b * size + k] = x[b * inputs[0].Size + Ravel(idx, inputs[0].Shape)];
                        }
                    return y;
                }
            case OpKind.LayerNorm:
                {
                    // Each row of the last axis: (x - mean) / sqrt(biased var + eps) * weight + bias.
                    int dim = node.Ints[0];
                    var w = node.Ints[1] != 0 ? p[node.Layer + ".weight"] : null;
                    var bias = node.Ints[2] != 0 ? p[node.Layer + ".bias"] : null;
                    for (int r = 0; r < n * size / dim; r++)
                    {
                        double mean = 0, var = 0;
                        for (int j = 0; j < dim; j++) mean += x[r * dim + j];
                        mean /= dim;
                        for (int j = 0; j < dim; j++) var += (x[r * dim + j] - mean) * (x[r * dim + j] - mean);
                        var /= dim;
                        for (int j = 0; j < dim; j++)
                            y[r * dim + j] = (x[r * dim + j] - mean) / Math.Sqrt(var + node.F0) * (w?[j] ?? 1) + (bias?[j] ?? 0);
                    }
                    return y;
                }
            case OpKind.PRepBNMix:
                {
                    // SLAB's LinearNorm: lambda * LN(x) + (1 - lambda) * (BN(x) + alpha * x); evaluation is RepBN alone.
                    // Training's lambda comes from the counters as they were before the step: 1 while warm > 0,
                    // else iter / total_step.
                    var ln = v[inputs[0].Id];
                    var bn = v[inputs[1].Id];
                    var xs = v[inputs[2].Id];
                    double alpha = p[node.Layer + PRepBNMixOp.Suffixes[0]][0];
                    double warm = p[node.Layer + PRepBNMixOp.Suffixes[1]][0];
                    double iter = p[node.Layer + PRepBNMixOp.Suffixes[2]][0], total = p[node.Layer + PRepBNMixOp.Suffixes[3]][0];
                    double lambda = !train ? 0 : warm > 0 ? 1 : iter / total;
                    for (int i = 0; i < n * size; i++) y[i] = lambda * ln[i] + (1 - lambda) * (bn[i] + alpha * xs[i]);
                    return y;
                }
            case OpKind.Softmax:
                {
                    int cols = node.Shape[node.Shape.Count - 1];
                    for (int r = 0; r < n * size / cols; r++)
                    {
                        double sum = 0;
                        for (int j = 0; j < cols; j++) sum += Math.Exp(x[r * cols + j]);
                        for (int j = 0; j < cols; j++) y[r * cols + j] = Math.Exp(x[r * cols + j]) / sum;
                    }
                    return y;
                }
            case OpKind.MatMul:
                {
                    // c[..., i, j] = sum over p of a'[..., i, p] b'[..., p, j], a' and b' the operands with their last two
                    // axes swapped when transposed; indices written from the operands' own shapes.
                    bool ta = node.Ints[0] != 0, tb = node.Ints[1] != 0;
                    var a = inputs[0]; var bn = inputs[1];
                    int r = node.Shape.Count;
                    int kk = ta ? a.Shape[r - 2] : a.Shape[r - 1];
                    for (int b = 0; b < n; b++)
                        for (int k = 0; k < size; k++)
                        {
                            var idx = Unravel(k, node.Shape);
                            int i = idx[r - 2], j = idx[r - 1];
                            double acc = 0;
                            for (int q = 0; q < kk; q++)
                            {
                                var ia = (int[])idx.Clone(); var ib = (int[])idx.Clone();
                                (ia[r - 2], ia[r - 1]) = ta ? (q, i) : (i, q);
                                (ib[r - 2], ib[r - 1]) = tb ? (j, q) : (q, j);
                                acc += v[a.Id][b * a.Size + Ravel(ia, a.Shape)] * v[bn.Id][b * bn.Size + Ravel(ib, bn.Shape)];
                            }
                            y[b * size + k] = acc;
                        }
                    return y;
                }
            case OpKind.ScaledDotProductAttention:
            case OpKind.LinearAttention:
                {
                    // Per sample and head, from the definitions: softmax attention scores s_ij = q_i . k_j / sqrt(dh)
                    // normalised over the visible keys; linear attention weights phi(q_i) . phi(k_j) divided by their
                    // sum + 1e-6. Written as the O(N^2) sums, sharing nothing with the kernels' chunked plans.
                    int seq = node.Ints[0], heads = node.Ints[1], dh = node.Ints[2];
                    bool causal = node.Ints[3] != 0, linear = node.Op == OpKind.LinearAttention;
                    bool elu = node.Ints[4] == 0;
                    int d = heads * dh;
                    double[] qv = v[inputs[0].Id], kv = v[inputs[1].Id], vv = v[inputs[2].Id];
                    double Phi(double z) => elu ? (z > 0 ? z + 1 : Math.Exp(z)) : Math.Max(z, 0);
                    var w = new double[seq];
                    for (int b = 0; b < n; b++)
                        for (int h = 0; h < heads; h++)
                            for (int i = 0; i < seq; i++)
                            {
                                int last = causal ? i : seq - 1;
                                int qi = b * size + i * d + h * dh;
                                double norm = 0, max = double.NegativeInfinity;
                                for (int j = 0; j <= last; j++)
                                {
                                    int kj = b * size + j * d + h * dh;
                                    double dot = 0;
                                    for (int c = 0; c < dh; c++)
                                        dot += linear ? Phi(qv[qi + c]) * Phi(kv[kj + c]) : qv[qi + c] * kv[kj + c];
                                    w[j] = linear ? dot : dot / Math.Sqrt(dh);
                                    max = Math.Max(max, w[j]);
                                }
                                for (int j = 0; j <= last; j++)
                                {
                                    if (!linear) w[j] = Math.Exp(w[j] - max);
                                    norm += w[j];
                                }
                                if (linear) norm += 1e-6;
                                for (int c = 0; c < dh; c++)
                                {
                                    double acc = 0;
                                    for (int j = 0; j <= last; j++) acc += w[j] * vv[b * size + j * d + h * dh + c];
                                    y[qi + c] = acc / norm;
                                }
                            }
                    return y;
                }
            case OpKind.Transpose:
                {
                    int lo = node.Ints[0], hi = node.Ints[1];
                    for (int b = 0; b < n; b++)
                        for (int k = 0; k < size; k++)
                        {
                            var idx = Unravel(k, node.Shape);
                            (idx[lo], idx[hi]) = (idx[hi], idx[lo]);
                            y[b * size + k] = x[b * inputs[0].Size + Ravel(idx, inputs[0].Shape)];
                        }
                    return y;
                }
            case OpKind.Mean:
            case OpKind.Sum:
                {
                    int axis = node.Ints[0], len = node.Ints[2];
                    bool keep = node.Ints[1] != 0;
                    var xs = inputs[0].Shape;
                    for (int b = 0; b < n; b++)
                        for (int k = 0; k < size; k++)
                        {
                            var o = Unravel(k, node.Shape);
                            var idx = new int[xs.Count];
                            for (int d = 0, e = 0; d < xs.Count; d++) idx[d] = d == axis ? 0 : o[keep ? d : e++];
                            double s = 0;
                            for (int l = 0; l < len; l++)
                            {
                                idx[axis] = l;
                                s += x[b * inputs[0].Size + Ravel(idx, xs)];
                            }
                            y[b * size + k] = node.Op == OpKind.Mean ? s / len : s;
                        }
                    return y;
                }
            case OpKind.Reshape:
                return (double[])x.Clone();
            case OpKind.Dropout:
                {
                    if (!train) return (double[])x.Clone();
                    double keep = 1.0 / (1.0 - node.F0);
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < size; i++)
                        {
                            float u = DropoutRandom.Uniform(seed + (ulong)node.Id, (long)b * size + i);
                            y[b * size + i] = u >= node.F0 ? x[b * size + i] * keep : 0;
                        }
                    return y;
                }
            case OpKind.GlobalAvgPool:
                {
                    int c = inputs[0].Channels, hw = inputs[0].Spatial;
                    for (int b = 0; b < n; b++)
                        for (int ch = 0; ch < c; ch++)
                        {
                            double s = 0;
                            for (int i = 0; i < hw; i++) s += x[(b * c + ch) * hw + i];
                            y[b * c + ch] = s / hw;
                        }
                    return y;
                }
            case OpKind.MaxPool:
            case OpKind.AvgPool:
                {
                    var a = new PoolAttrs(node);
                    var xs = inputs[0].Shape;
                    int c = xs[0], h = xs[1], w = xs[2], ho = node.Shape[1], wo = node.Shape[2];
                    for (int b = 0; b < n; b++)
                        for (int ch = 0; ch < c; ch++)
                            for (int oy = 0; oy < ho; oy++)
                                for (int ox = 0; ox < wo; ox++)
                                {
                                    double best = double.NegativeInfinity, sum = 0;
                                    for (int ky = 0; ky < a.Kh; ky++)
                                        for (int kx = 0; kx < a.Kw; kx++)
                                        {
                                            int iy = oy * a.Sh - a.Ph + ky, ix = ox * a.Sw - a.Pw + kx;
                                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                            double val = x[((b * c + ch) * h + iy) * w + ix];
                                            best = Math.Max(best, val);
                                            sum += val;
                                        }
                                    y[((b * c + ch) * ho + oy) * wo + ox] = node.Op == OpKind.MaxPool ? best : sum / (a.Kh * a.Kw);
                                }
                    return y;
                }
            case OpKind.UpsampleNearest:
                {
                    var xs = inputs[0].Shape;
                    int c = xs[0], h = xs[1], w = xs[2], ho = node.Shape[1], wo = node.Shape[2];
                    for (int b = 0; b < n; b++)
                        for (int ch = 0; ch < c; ch++)
                            for (int oy = 0; oy < ho; oy++)
                                for (int ox = 0; ox < wo; ox++)
                                    y[((b * c + ch) * ho + oy) * wo + ox] = x[((b * c + ch) * h + NearestSource(oy, h, ho)) * w + NearestSource(ox, w, wo)];
                    return y;
                }
            default:
                return EvalSpiking(node, inputs, v, n, p, train, seed) ?? throw new NotSupportedException(node.Op.ToString());
        }
    }

    /// <summary>Row-major multi-index of flat index <paramref name="k"/> in <paramref name="shape"/>.</summary>
    static int[] Unravel(int k, IReadOnlyList<int> shape)
    {
        var idx = new int[shape.Count];
        for (int a = shape.Count - 1; a >= 0; a--) { idx[a] = k % shape[a]; k /= shape[a]; }
        return idx;
    }

    /// <summary>Flat row-major index of <paramref name="idx"/> in <paramref name="shape"/>.</summary>
    static int Ravel(int[] idx, IReadOnlyList<int> shape)
    {
        int k = 0;
        for (int a = 0; a < shape.Count; a++) k = k * shape[a] + idx[a];
        return k;
    }

    /// <summary>PyTorch's nearest source index, as its kernels compute it: a float scale in / out, floorf of the
    /// float product, clamped. Which pixel is read is part of the op's definition, not a precision matter, so the
    /// double-precision oracle follows the float rule too (it differs from exact arithmetic for some sizes).</summary>
    static int NearestSource(int dst, int inLen, int outLen)
    {
        float scale = (float)inLen / outLen;
        float product = dst * scale;
        return Math.Min((int)MathF.Floor(product), inLen - 1);
    }

    /// <summary>Element <paramref name="k"/> of the result read from a broadcast operand: PyTorch's rule (aligned
    /// from the right, size-1 axes stretched), except that a (C) vector against (..., C, H, W) with H * W &gt; 1
    /// follows the channel axis (the DSL's squeeze-excite rule). Written out index by index, independently of the
    /// generator's Broadcast class.</summary>
    static double Broadcast(double[] data, Node operand, Node result, int b, int k)
    {
        var os = operand.Shape;
        var rs = result.Shape;
        int r = rs.Count;
        var idx = new int[r];
        int rem = k;
        for (int a = r - 1; a >= 0; a--) { idx[a] = rem % rs[a]; rem /= rs[a]; }
        int offset = 0;
        if (os.Count == 1 && r >= 3 && os[0] == rs[r - 3] && rs[r - 2] * rs[r - 1] != 1 && !SameShape(os, rs))
        {
            offset = idx[r - 3];
        }
        else
        {
            for (int j = 0; j < os.Count; j++)
            {
                int a = r - os.Count + j;
                offset = offset * os[j] + (os[j] == 1 ? 0 : idx[a]);
            }
        }
        return data[b * operand.Size + offset];
    }

    static bool SameShape(IReadOnlyList<int> a, IReadOnlyList<int> b) => a.Count == b.Count && a.Zip(b).All(p => p.First == p.Second);

    public static double Activate(ActKind act, double z) => act switch
    {
        ActKind.Relu => Math.Max(z, 0),
        ActKind.Relu6 => Math.Min(Math.Max(z, 0), 6),
        ActKind.HardSigmoid => Math.Min(Math.Max(z + 3, 0), 6) / 6,
        ActKind.HardSwish => z * Math.Min(Math.Max(z + 3, 0), 6) / 6,
        ActKind.Sigmoid => 1 / (1 + Math.Exp(-z)),
        ActKind.Tanh => Math.Tanh(z),
        ActKind.Gelu => 0.5 * z * (1 + Erf(z / Math.Sqrt(2))),
        ActKind.GeluTanh => 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))),
        ActKind.Silu => z / (1 + Math.Exp(-z)),
        ActKind.Exp => Math.Exp(z),
        _ => z,
    };

    /// <summary>erf in double: its Maclaurin series below |x| = 4 (terms peak near 1e6 at 4, so about 1e-10 is lost
    /// to cancellation), the asymptotic expansion of erfc above (its first omitted term is below 1e-12 there).</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double r;
        if (ax < 4)
        {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int k = 1; k < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); k++)
            {
                term *= -x2 / k;
                sum += term / (2 * k + 1);
            }
            r = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double x2 = ax * ax, inv = 1 / (2 * x2), series = 1, term = 1;
            for (int k = 1; k < 6; k++)
            {
                term *= -(2 * k - 1) * inv;
                series += term;
            }
            r = 1 - Math.Exp(-x2) / (ax * Math.Sqrt(Math.PI)) * series;
        }
        return x < 0 ? -r : r;
    }
}
