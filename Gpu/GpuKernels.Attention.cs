// Multi-head softmax and linear attention on ILGPU, the same definitions and the same O(N)-memory
// plans as Runtime's SoftmaxAttention and LinearAttention (see those files for the maths).
//
// Softmax: one thread per (sample, head, query) runs the online softmax over the keys with its output
// row in a thread-local array and writes the row and its log-sum-exp; backward recomputes the
// probabilities, one thread per query for dq and one per key for dk and dv, so every output element
// has one writer (no atomics) and every sum runs in a fixed order.
//
// Linear: the chunk plan, one kernel per step: chunk states (one thread per state element sums its
// chunk), an ordered combine of the chunks (prefix, suffix or total; one thread per state element),
// then one thread per token for the outputs (or the queries' and the keys' gradients), adding the
// dense causal term within the chunk. The workspace is this library's device scratch.
//
// Threads keep a head's vector in local memory of MaxHeadSize floats, so head sizes are limited to it.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Largest head size the attention kernels take (the size of their per-thread local arrays).</summary>
    public const int MaxHeadSize = 256;

    /// <summary>Tokens per chunk of the linear attention plan on the device (states are summed over a chunk by one thread).</summary>
    internal const int LinearChunk = 64;

    /// <summary>Softmax attention forward, as <see cref="SoftmaxAttention.Forward"/>: y = softmax(q k^T / sqrt(headSize)) v per head
    /// (causal: keys j &lt;= i); lse[(b * heads + h) * N + i] = the row's log-sum-exp (<see cref="SoftmaxAttention.SaveSize"/> floats).</summary>
    public void SoftmaxAttentionForward(int n, in AttentionShape s, bool causal, GView q, GView k, GView v, GView y, ArrayView<float> lse)
    {
        CheckAttention(n, s);
        if (n == 0) return;
        (_sdpaForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, AttentionShape, int, float, GView, GView, GView, GView, ArrayView<float>>(
            SoftmaxAttentionForwardKernel))(n * s.Heads * s.SeqLen, s, causal ? 1 : 0, SoftmaxAttention.Scale(s.HeadSize), q, k, v, y, lse);
    }

    /// <summary>Softmax attention backward, as <see cref="SoftmaxAttention.Backward"/>: dq, dk, dv (= or += when
    /// <paramref name="accumulate"/>) from dy, the forward's output y and its lse.</summary>
    public void SoftmaxAttentionBackward(int n, in AttentionShape s, bool causal, GView q, GView k, GView v, GView y, GView dy,
        ArrayView<float> lse, GView dq, GView dk, GView dv, bool accumulate)
    {
        CheckAttention(n, s);
        if (n == 0) return;
        int rows = n * s.Heads * s.SeqLen, acc = accumulate ? 1 : 0, c = causal ? 1 : 0;
        float scale = SoftmaxAttention.Scale(s.HeadSize);
        var dl = Scratch(rows);
        (_sdpaRowDot ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, AttentionShape, GView, GView, ArrayView<float>>(
            AttentionRowDotKernel))(rows, s, dy, y, dl);
        (_sdpaDq ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, AttentionShape, int, float, GView, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>(
            SoftmaxAttentionDqKernel))(rows, s, c, scale, q, k, v, dy, lse, dl, dq, acc);
        (_sdpaDkv ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, AttentionShape, int, float, GView, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, GView, int>(
            SoftmaxAttentionDkvKernel))(rows, s, c, scale, q, k, v, dy, lse, dl, dk, dv, acc);
    }

    /// <summary>Linear attention forward with feature map <typeparamref name="TMap"/>, as <see cref="LinearAttention.Forward{TMap}"/>:
    /// y_i = phi(q_i)^T S / (phi(q_i)^T z + 1e-6) over every key or (causal) keys j &lt;= i.</summary>
    public void LinearAttentionForward<TMap>(int n, in AttentionShape s, bool causal, GView q, GView k, GView v, GView y)
        where TMap : struct, IActivation
    {
        CheckAttention(n, s);
        if (n == 0) return;
        var p = new LinearPlan(s, causal);
        var work = Scratch(n * s.Heads * p.PerPair);
        var kernels = Linear<TMap>();
        kernels.States(n * s.Heads * p.Chunks * p.StateSize, p, k, v, work, 0);
        Combine(n, p, work, causal ? 1 : 0);
        kernels.Output(n * s.Heads * s.SeqLen, p, q, k, v, work, y);
    }

    /// <summary>Linear attention backward, as <see cref="LinearAttention.Backward{TMap}"/>: dq, dk, dv (= or += when
    /// <paramref name="accumulate"/>) from dy and the forward's output y.</summary>
    public void LinearAttentionBackward<TMap>(int n, in AttentionShape s, bool causal, GView q, GView k, GView v, GView y, GView dy,
        GView dq, GView dk, GView dv, bool accumulate) where TMap : struct, IActivation
    {
        CheckAttention(n, s);
        if (n == 0) return;
        var p = new LinearPlan(s, causal);
        var work = Scratch(n * s.Heads * p.PerPair);
        var kernels = Linear<TMap>();
        int acc = accumulate ? 1 : 0, tokens = n * s.Heads * s.SeqLen;
        kernels.States(n * s.Heads * p.Chunks * p.StateSize, p, k, v, work, 1);
        Combine(n, p, work, causal ? 1 : 0);
        kernels.QueryGrad(tokens, p, q, k, v, y, dy, work, dq, acc);
        kernels.QueryStates(n * s.Heads * p.Chunks * p.StateSize, p, q, dy, work);
        Combine(n, p, work, causal ? -1 : 0);
        kernels.KeyGrad(tokens, p, q, k, v, dy, work, dk, dv, acc);
    }

    void Combine(int n, in LinearPlan p, ArrayView<float> work, int direction) =>
        (_linCombine ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearPlan, ArrayView<float>, int>(LinearCombineKernel))(
            n * p.S.Heads * p.StateSize, p, work, direction);

    static void CheckAttention(int n, in AttentionShape s)
    {
        s.Validate();
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n));
        if (s.HeadSize > MaxHeadSize)
            throw new ArgumentOutOfRangeException(nameof(s), $"The attention kernels take heads of at most {MaxHeadSize} features, not {s.HeadSize}.");
    }

    Action<Index1D, AttentionShape, int, float, GView, GView, GView, GView, ArrayView<float>>? _sdpaForward;
    Action<Index1D, AttentionShape, GView, GView, ArrayView<float>>? _sdpaRowDot;
    Action<Index1D, AttentionShape, int, float, GView, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>? _sdpaDq;
    Action<Index1D, AttentionShape, int, float, GView, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, GView, int>? _sdpaDkv;
    Action<Index1D, LinearPlan, ArrayView<float>, int>? _linCombine;
    readonly Dictionary<Type, object> _linearByMap = [];

    LinearKernels<TMap> Linear<TMap>() where TMap : struct, IActivation
    {
        lock (_gate)
        {
            if (!_linearByMap.TryGetValue(typeof(TMap), out var set))
                _linearByMap[typeof(TMap)] = set = new LinearKernels<TMap>(Accelerator);
            return (LinearKernels<TMap>)set;
        }
    }

    /// <summary>Launchers of the linear attention kernels for one feature map.</summary>
    sealed class LinearKernels<TMap>(Accelerator accelerator) where TMap : struct, IActivation
    {
        Action<Index1D, LinearPlan, GView, GView, ArrayView<float>, int>? _states;
        Action<Index1D, LinearPlan, GView, GView, GView, ArrayView<float>, GView>? _output;
        Action<Index1D, LinearPlan, GView, GView, GView, GView, GView, ArrayView<float>, GView, int>? _queryGrad;
        Action<Index1D, LinearPlan, GView, GView, ArrayView<float>>? _queryStates;
        Action<Index1D, LinearPlan, GView, GView, GView, GView, ArrayView<float>, GView, GView, int>? _keyGrad;

        public Action<Index1D, LinearPlan, GView, GView, ArrayView<float>, int> States =>
            _states ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearPlan, GView, GView, ArrayView<float>, int>(LinearStatesKernel<TMap>);

        public Action<Index1D, LinearPlan, GView, GView, GView, ArrayView<float>, GView> Output =>
            _output ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearPlan, GView, GView, GView, ArrayView<float>, GView>(LinearOutputKernel<TMap>);

        public Action<Index1D, LinearPlan, GView, GView, GView, GView, GView, ArrayView<float>, GView, int> QueryGrad =>
            _queryGrad ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearPlan, GView, GView, GView, GView, GView, ArrayView<float>, GView, int>(
                LinearQueryGradKernel<TMap>);

        public Action<Index1D, LinearPlan, GView, GView, ArrayView<float>> QueryStates =>
            _queryStates ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearPlan, GView, GView, ArrayView<float>>(LinearQueryStatesKernel<TMap>);

        public Action<Index1D, LinearPlan, GView, GView, GView, GView, ArrayView<float>, GView, GView, int> KeyGrad =>
            _keyGrad ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, LinearPlan, GView, GView, GView, GView, ArrayView<float>, GView, GView, int>(
                LinearKeyGradKernel<TMap>);
    }

    /// <summary>The device workspace of one linear attention call: per (sample, head) pair, Chunks + 1 states
    /// (a Dh x Dh matrix then a Dh vector; the last slot holds a non-causal total), then den[N] and c[N].</summary>
    internal readonly struct LinearPlan
    {
        public readonly AttentionShape S;
        public readonly int Causal, Chunks, StateSize, PerPair;

        public LinearPlan(in AttentionShape s, bool causal)
        {
            S = s;
            Causal = causal ? 1 : 0;
            Chunks = (s.SeqLen + LinearChunk - 1) / LinearChunk;
            StateSize = s.HeadSize * s.HeadSize + s.HeadSize;
            PerPair = (Chunks + 1) * StateSize + 2 * s.SeqLen;
        }

        /// <summary>Where the state of <paramref name="slot"/> of a pair starts.</summary>
        public int Slot(int pair, int slot) => pair * PerPair + slot * StateSize;

        /// <summary>The combined state a token of chunk <paramref name="chunk"/> reads: its own slot when causal, the total otherwise.</summary>
        public int Combined(int pair, int chunk) => Slot(pair, Causal != 0 ? chunk : Chunks);

        public int Den(int pair) => pair * PerPair + (Chunks + 1) * StateSize;
    }

    /// <summary>Element index of feature c of token i of head h of sample b.</summary>
    static int At(in GView x, in AttentionShape s, int b, int h, int i, int c) => x.At(b) + i * s.Dim + h * s.HeadSize + c;

    /// <summary>One thread per (sample, head, query): online softmax over the keys, output row in local memory.</summary>
    internal static void SoftmaxAttentionForwardKernel(Index1D index, AttentionShape s, int causal, float scale,
        GView q, GView k, GView v, GView y, ArrayView<float> lse)
    {
        int row = index, dh = s.HeadSize;
        int pair = row / s.SeqLen, i = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads;
        var acc = LocalMemory.Allocate1D<float>(MaxHeadSize);
        for (int c = 0; c < dh; c++) acc[c] = 0f;
        int qa = At(q, s, b, h, i, 0), last = causal != 0 ? i : s.SeqLen - 1;
        float m = float.NegativeInfinity, l = 0f;
        for (int j = 0; j <= last; j++)
        {
            int ka = At(k, s, b, h, j, 0), va = At(v, s, b, h, j, 0);
            float dot = 0f;
            for (int c = 0; c < dh; c++) dot += q.Data[qa + c] * k.Data[ka + c];
            float sc = dot * scale;
            if (sc > m)
            {
                // The running sums were relative to the old max: rescale them (exp(-inf) = 0 on the first key).
                float f = j == 0 ? 0f : MathF.Exp(m - sc);
                l *= f;
                for (int c = 0; c < dh; c++) acc[c] *= f;
                m = sc;
            }
            float p = MathF.Exp(sc - m);
            l += p;
            for (int c = 0; c < dh; c++) acc[c] += p * v.Data[va + c];
        }
        int ya = At(y, s, b, h, i, 0);
        float inv = 1f / l;
        for (int c = 0; c < dh; c++) y.Data[ya + c] = acc[c] * inv;
        lse[row] = m + MathF.Log(l);
    }

    /// <summary>One thread per (sample, head, query): dl = dy_i . y_i.</summary>
    internal static void AttentionRowDotKernel(Index1D index, AttentionShape s, GView dy, GView y, ArrayView<float> dl)
    {
        int row = index;
        int pair = row / s.SeqLen, i = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads;
        int ga = At(dy, s, b, h, i, 0), ya = At(y, s, b, h, i, 0);
        float sum = 0f;
        for (int c = 0; c < s.HeadSize; c++) sum += dy.Data[ga + c] * y.Data[ya + c];
        dl[row] = sum;
    }

    /// <summary>One thread per (sample, head, query): dq_i = scale sum_j p_ij (dy_i . v_j - dl_i) k_j.</summary>
    internal static void SoftmaxAttentionDqKernel(Index1D index, AttentionShape s, int causal, float scale,
        GView q, GView k, GView v, GView dy, ArrayView<float> lse, ArrayView<float> dl, GView dq, int accumulate)
    {
        int row = index, dh = s.HeadSize;
        int pair = row / s.SeqLen, i = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads;
        var acc = LocalMemory.Allocate1D<float>(MaxHeadSize);
        for (int c = 0; c < dh; c++) acc[c] = 0f;
        int qa = At(q, s, b, h, i, 0), ga = At(dy, s, b, h, i, 0), last = causal != 0 ? i : s.SeqLen - 1;
        float rowLse = lse[row], rowDl = dl[row];
        for (int j = 0; j <= last; j++)
        {
            int ka = At(k, s, b, h, j, 0), va = At(v, s, b, h, j, 0);
            float dot = 0f, dp = 0f;
            for (int c = 0; c < dh; c++)
            {
                dot += q.Data[qa + c] * k.Data[ka + c];
                dp += dy.Data[ga + c] * v.Data[va + c];
            }
            float ds = MathF.Exp(dot * scale - rowLse) * (dp - rowDl);
            for (int c = 0; c < dh; c++) acc[c] += ds * k.Data[ka + c];
        }
        int oa = At(dq, s, b, h, i, 0);
        for (int c = 0; c < dh; c++) dq.Data[oa + c] = accumulate != 0 ? dq.Data[oa + c] + acc[c] * scale : acc[c] * scale;
    }

    /// <summary>One thread per (sample, head, key): dv_j = sum_i p_ij dy_i, dk_j = scale sum_i p_ij (dy_i . v_j - dl_i) q_i.</summary>
    internal static void SoftmaxAttentionDkvKernel(Index1D index, AttentionShape s, int causal, float scale,
        GView q, GView k, GView v, GView dy, ArrayView<float> lse, ArrayView<float> dl, GView dk, GView dv, int accumulate)
    {
        int row = index, dh = s.HeadSize;
        int pair = row / s.SeqLen, j = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads;
        var gk = LocalMemory.Allocate1D<float>(MaxHeadSize);
        var gv = LocalMemory.Allocate1D<float>(MaxHeadSize);
        for (int c = 0; c < dh; c++) { gk[c] = 0f; gv[c] = 0f; }
        int ka = At(k, s, b, h, j, 0), va = At(v, s, b, h, j, 0);
        for (int i = causal != 0 ? j : 0; i < s.SeqLen; i++)
        {
            int qa = At(q, s, b, h, i, 0), ga = At(dy, s, b, h, i, 0), r = pair * s.SeqLen + i;
            float dot = 0f, dp = 0f;
            for (int c = 0; c < dh; c++)
            {
                dot += q.Data[qa + c] * k.Data[ka + c];
                dp += dy.Data[ga + c] * v.Data[va + c];
            }
            float p = MathF.Exp(dot * scale - lse[r]);
            float ds = p * (dp - dl[r]);
            for (int c = 0; c < dh; c++)
            {
                gv[c] += p * dy.Data[ga + c];
                gk[c] += ds * q.Data[qa + c];
            }
        }
        int ko = At(dk, s, b, h, j, 0), vo = At(dv, s, b, h, j, 0);
        for (int c = 0; c < dh; c++)
        {
            dk.Data[ko + c] = accumulate != 0 ? dk.Data[ko + c] + gk[c] * scale : gk[c] * scale;
            dv.Data[vo + c] = accumulate != 0 ? dv.Data[vo + c] + gv[c] : gv[c];
        }
    }

    /// <summary>One thread per (pair, chunk, state element e): the chunk's sum for e. Forward (transposed 0):
    /// S[r, c] = sum_j phi(k_j)[r] v_j[c]; backward (1): S^T[r, c] = sum_j v_j[r] phi(k_j)[c]; e &gt;= Dh^2: z[r] = sum_j phi(k_j)[r].</summary>
    internal static void LinearStatesKernel<TMap>(Index1D index, LinearPlan p, GView k, GView v, ArrayView<float> work, int transposed)
        where TMap : struct, IActivation
    {
        var s = p.S;
        int t = index, dh = s.HeadSize;
        int e = t % p.StateSize, rest = t / p.StateSize, chunk = rest % p.Chunks, pair = rest / p.Chunks;
        int h = pair % s.Heads, b = pair / s.Heads;
        int j0 = chunk * LinearChunk, j1 = Math.Min(s.SeqLen, j0 + LinearChunk);
        float sum = 0f;
        if (e >= dh * dh)
        {
            int r = e - dh * dh;
            for (int j = j0; j < j1; j++) sum += default(TMap).Apply(k.Data[At(k, s, b, h, j, r)]);
        }
        else
        {
            int r = e / dh, c = e - r * dh;
            int kc = transposed != 0 ? c : r, vc = transposed != 0 ? r : c;
            for (int j = j0; j < j1; j++) sum += default(TMap).Apply(k.Data[At(k, s, b, h, j, kc)]) * v.Data[At(v, s, b, h, j, vc)];
        }
        work[p.Slot(pair, chunk) + e] = sum;
    }

    /// <summary>One thread per (pair, state element): combines the chunks in order. 1: exclusive prefix in place,
    /// -1: exclusive suffix in place, 0: the total into the last slot.</summary>
    internal static void LinearCombineKernel(Index1D index, LinearPlan p, ArrayView<float> work, int direction)
    {
        int t = index;
        int e = t % p.StateSize, pair = t / p.StateSize;
        float run = 0f;
        for (int i = 0; i < p.Chunks; i++)
        {
            int c = direction < 0 ? p.Chunks - 1 - i : i;
            int at = p.Slot(pair, c) + e;
            float x = work[at];
            if (direction != 0) work[at] = run;
            run += x;
        }
        if (direction == 0) work[p.Slot(pair, p.Chunks) + e] = run;
    }

    /// <summary>One thread per token: y_i = (phi(q_i)^T S + sum_{j in chunk, j &lt;= i} a_ij v_j) / (phi(q_i)^T z + sum a_ij + eps).</summary>
    internal static void LinearOutputKernel<TMap>(Index1D index, LinearPlan p, GView q, GView k, GView v, ArrayView<float> work, GView y)
        where TMap : struct, IActivation
    {
        var s = p.S;
        int row = index, dh = s.HeadSize;
        int pair = row / s.SeqLen, i = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads, chunk = i / LinearChunk;
        var phiQ = LocalMemory.Allocate1D<float>(MaxHeadSize);
        var num = LocalMemory.Allocate1D<float>(MaxHeadSize);
        int qa = At(q, s, b, h, i, 0), st = p.Combined(pair, chunk);
        float den = LinearAttention.Eps;
        for (int c = 0; c < dh; c++)
        {
            phiQ[c] = default(TMap).Apply(q.Data[qa + c]);
            den += phiQ[c] * work[st + dh * dh + c];
        }
        for (int c = 0; c < dh; c++)
        {
            float sum = 0f;
            for (int r = 0; r < dh; r++) sum += phiQ[r] * work[st + r * dh + c];
            num[c] = sum;
        }
        if (p.Causal != 0)
            for (int j = chunk * LinearChunk; j <= i; j++)
            {
                int ka = At(k, s, b, h, j, 0), va = At(v, s, b, h, j, 0);
                float a = 0f;
                for (int c = 0; c < dh; c++) a += phiQ[c] * default(TMap).Apply(k.Data[ka + c]);
                den += a;
                for (int c = 0; c < dh; c++) num[c] += a * v.Data[va + c];
            }
        int ya = At(y, s, b, h, i, 0);
        float inv = 1f / den;
        for (int c = 0; c < dh; c++) y.Data[ya + c] = num[c] * inv;
    }

    /// <summary>Denominator of token i: phi(q_i)^T z + causal intra-chunk sum + eps (phiQ filled by the caller).</summary>
    static float LinearDen<TMap>(in LinearPlan p, GView k, ArrayView<float> work, ArrayView<float> phiQ, int pair, int b, int h, int i, int st)
        where TMap : struct, IActivation
    {
        var s = p.S;
        int dh = s.HeadSize;
        float den = LinearAttention.Eps;
        for (int c = 0; c < dh; c++) den += phiQ[c] * work[st + dh * dh + c];
        if (p.Causal != 0)
            for (int j = i / LinearChunk * LinearChunk; j <= i; j++)
            {
                int ka = At(k, s, b, h, j, 0);
                for (int c = 0; c < dh; c++) den += phiQ[c] * default(TMap).Apply(k.Data[ka + c]);
            }
        return den;
    }

    /// <summary>One thread per token, the queries' side: dphi(q_i) = S^T a_i + c_i z + sum_{j in chunk, j &lt;= i} (a_i . v_j + c_i) phi(k_j),
    /// a_i = dy_i / den_i, c_i = -(dy_i . y_i) / den_i; keeps den_i and c_i for the later kernels.</summary>
    internal static void LinearQueryGradKernel<TMap>(Index1D index, LinearPlan p, GView q, GView k, GView v, GView y, GView dy,
        ArrayView<float> work, GView dq, int accumulate) where TMap : struct, IActivation
    {
        var s = p.S;
        int row = index, dh = s.HeadSize;
        int pair = row / s.SeqLen, i = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads, chunk = i / LinearChunk;
        var phiQ = LocalMemory.Allocate1D<float>(MaxHeadSize);
        var grad = LocalMemory.Allocate1D<float>(MaxHeadSize);
        int qa = At(q, s, b, h, i, 0), ga = At(dy, s, b, h, i, 0), ya = At(y, s, b, h, i, 0), st = p.Combined(pair, chunk);
        for (int c = 0; c < dh; c++) phiQ[c] = default(TMap).Apply(q.Data[qa + c]);
        float den = LinearDen<TMap>(p, k, work, phiQ, pair, b, h, i, st);
        float inv = 1f / den, gy = 0f;
        for (int c = 0; c < dh; c++) gy += dy.Data[ga + c] * y.Data[ya + c];
        float ci = -gy * inv;
        work[p.Den(pair) + i] = den;
        work[p.Den(pair) + s.SeqLen + i] = ci;
        for (int r = 0; r < dh; r++)
        {
            // S^T[v, r] is at st + v * dh + r (the backward's states are transposed).
            float sum = 0f;
            for (int c = 0; c < dh; c++) sum += dy.Data[ga + c] * inv * work[st + c * dh + r];
            grad[r] = sum + ci * work[st + dh * dh + r];
        }
        if (p.Causal != 0)
            for (int j = chunk * LinearChunk; j <= i; j++)
            {
                int ka = At(k, s, b, h, j, 0), va = At(v, s, b, h, j, 0);
                float g = ci;
                for (int c = 0; c < dh; c++) g += dy.Data[ga + c] * inv * v.Data[va + c];
                for (int c = 0; c < dh; c++) grad[c] += g * default(TMap).Apply(k.Data[ka + c]);
            }
        int oa = At(dq, s, b, h, i, 0);
        for (int c = 0; c < dh; c++)
        {
            float t = grad[c] * default(TMap).Derivative(q.Data[qa + c]);
            dq.Data[oa + c] = accumulate != 0 ? dq.Data[oa + c] + t : t;
        }
    }

    /// <summary>One thread per (pair, chunk, state element): the chunk's backward state dS^T[r, c] = sum_i a_i[r] phi(q_i)[c],
    /// dz[r] = sum_i c_i phi(q_i)[r], written over the chunk's (consumed) forward slot.</summary>
    internal static void LinearQueryStatesKernel<TMap>(Index1D index, LinearPlan p, GView q, GView dy, ArrayView<float> work)
        where TMap : struct, IActivation
    {
        var s = p.S;
        int t = index, dh = s.HeadSize;
        int e = t % p.StateSize, rest = t / p.StateSize, chunk = rest % p.Chunks, pair = rest / p.Chunks;
        int h = pair % s.Heads, b = pair / s.Heads;
        int i0 = chunk * LinearChunk, i1 = Math.Min(s.SeqLen, i0 + LinearChunk), den = p.Den(pair);
        float sum = 0f;
        if (e >= dh * dh)
        {
            int r = e - dh * dh;
            for (int i = i0; i < i1; i++) sum += work[den + s.SeqLen + i] * default(TMap).Apply(q.Data[At(q, s, b, h, i, r)]);
        }
        else
        {
            int r = e / dh, c = e - r * dh;
            for (int i = i0; i < i1; i++) sum += dy.Data[At(dy, s, b, h, i, r)] / work[den + i] * default(TMap).Apply(q.Data[At(q, s, b, h, i, c)]);
        }
        work[p.Slot(pair, chunk) + e] = sum;
    }

    /// <summary>One thread per token, the keys' side: dphi(k_j) = dS^T' v_j + dz + sum_{i in chunk, i &gt;= j} (a_i . v_j + c_i) phi(q_i),
    /// dv_j = dS phi(k_j) + sum_{i in chunk, i &gt;= j} (phi(q_i) . phi(k_j)) a_i, from the combined backward state.</summary>
    internal static void LinearKeyGradKernel<TMap>(Index1D index, LinearPlan p, GView q, GView k, GView v, GView dy,
        ArrayView<float> work, GView dk, GView dv, int accumulate) where TMap : struct, IActivation
    {
        var s = p.S;
        int row = index, dh = s.HeadSize;
        int pair = row / s.SeqLen, j = row - pair * s.SeqLen, h = pair % s.Heads, b = pair / s.Heads, chunk = j / LinearChunk;
        var phiK = LocalMemory.Allocate1D<float>(MaxHeadSize);
        var gk = LocalMemory.Allocate1D<float>(MaxHeadSize);
        var gv = LocalMemory.Allocate1D<float>(MaxHeadSize);
        int ka = At(k, s, b, h, j, 0), va = At(v, s, b, h, j, 0), st = p.Combined(pair, chunk);
        for (int c = 0; c < dh; c++) phiK[c] = default(TMap).Apply(k.Data[ka + c]);
        for (int r = 0; r < dh; r++)
        {
            // dS^T[x, r] at st + x * dh + r: dphi(k)[r] = sum_x v_j[x] dS^T[x, r]; dv[r] = sum_x dS^T[r, x] phi(k_j)[x].
            float sk = 0f, sv = 0f;
            for (int x = 0; x < dh; x++)
            {
                sk += v.Data[va + x] * work[st + x * dh + r];
                sv += work[st + r * dh + x] * phiK[x];
            }
            gk[r] = sk + work[st + dh * dh + r];
            gv[r] = sv;
        }
        if (p.Causal != 0)
        {
            int den = p.Den(pair), i1 = Math.Min(s.SeqLen, (chunk + 1) * LinearChunk);
            for (int i = j; i < i1; i++)
            {
                int qa = At(q, s, b, h, i, 0), ga = At(dy, s, b, h, i, 0);
                float inv = 1f / work[den + i], g = work[den + s.SeqLen + i], a = 0f;
                for (int c = 0; c < dh; c++)
                {
                    g += dy.Data[ga + c] * inv * v.Data[va + c];
                    a += default(TMap).Apply(q.Data[qa + c]) * phiK[c];
                }
                for (int c = 0; c < dh; c++)
                {
                    gk[c] += g * default(TMap).Apply(q.Data[qa + c]);
                    gv[c] += a * dy.Data[ga + c] * inv;
                }
            }
        }
        int ko = At(dk, s, b, h, j, 0), vo = At(dv, s, b, h, j, 0);
        for (int c = 0; c < dh; c++)
        {
            float t = gk[c] * default(TMap).Derivative(k.Data[ka + c]);
            dk.Data[ko + c] = accumulate != 0 ? dk.Data[ko + c] + t : t;
            dv.Data[vo + c] = accumulate != 0 ? dv.Data[vo + c] + gv[c] : gv[c];
        }
    }
}
