// Multi-head linear attention in O(N) time and memory, forward and backward, generic over the feature
// map phi (an IActivation: EluPlusOne for Katharopoulos et al., Relu for ReLU and SLAB's simplified
// linear attention):
//
//   y_i = phi(q_i)^T S_i / (phi(q_i)^T z_i + eps),   S_i = sum_j phi(k_j) v_j^T,  z_i = sum_j phi(k_j)
//
// with j over all tokens (non-causal) or j <= i (causal), per head, eps = 1e-6 (the references: fast-
// transformers' LinearAttention and CausalLinearAttention, SLAB's SimplifiedLinearAttention).
//
// One plan for both cases (and for the ILGPU kernels): the sequence is cut into chunks; (A) every chunk
// sums its keys' state (phi(K_c)^T V_c, phi(K_c)^T 1) into its own slot of the workspace, in parallel;
// (B) the slots are combined in chunk order, into an exclusive prefix (causal) or one total
// (non-causal); (C) every chunk produces its outputs from its combined state plus, when causal, the
// dense masked product inside the chunk. Nothing of size N x d x d exists: the workspace holds one
// d x d state per chunk (N/64 of them causal, N/256 non-causal), so it grows linearly in N.
//
// Backward stores nothing from the forward but its output y: it recomputes the chunk states (cheaper
// than keeping them: one pass over K and V against a d x d slot per chunk read back), and runs the same
// plan twice: first the queries' side (dq, each chunk's sum of phi(q_i) a_i^T with a_i = dy_i / den_i),
// then a suffix combine of those sums, then the keys' side (dk, dv). Per query it keeps den_i and
// c_i = -(dy_i . y_i) / den_i (2 floats per token). Results do not depend on the thread count: every
// reduction runs in a fixed order inside one task.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Multi-head linear attention with feature map <c>TMap</c> (phi), heads interleaved in each token row
/// (<see cref="AttentionShape"/>): y_i = phi(q_i)^T S / (phi(q_i)^T z + eps), S = sum_j phi(k_j) v_j^T,
/// z = sum_j phi(k_j), over every j or (causal) j &lt;= i.</summary>
public static unsafe class LinearAttention
{
    /// <summary>The denominator's epsilon, as fast-transformers and SLAB (1e-6).</summary>
    public const float Eps = 1e-6f;

    /// <summary>Tokens per chunk when causal: the intra-chunk product costs ~4 N chunk d, the states ~4 N d^2.</summary>
    internal const int CausalChunk = 64;

    /// <summary>Tokens per chunk when not causal: the chunks only split the sums into tasks.</summary>
    internal const int FullChunk = 256;

    [ThreadStatic] static float[]? scratch;

    /// <summary>Floats of workspace <see cref="Forward{TMap}"/> and <see cref="Backward{TMap}"/> need:
    /// per (sample, head), one (d x d + d) state per chunk plus two, and two floats per token.</summary>
    public static int WorkspaceSize(int n, in AttentionShape s, bool causal) => checked(n * s.Heads * new Plan(s, causal).PerPair);

    /// <summary>Forward. y must not overlap q, k or v. <paramref name="work"/> holds <see cref="WorkspaceSize"/>
    /// floats from <paramref name="workOff"/>; nothing in it is needed afterwards.</summary>
    public static void Forward<TMap>(int n, in AttentionShape s, bool causal, View q, View k, View v, View y, float[] work, int workOff)
        where TMap : struct, IActivation
    {
        Check(n, s, causal, q, k, v, y, work, workOff);
        if (n == 0) return;
        var plan = new Plan(s, causal);
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, py = y.Data, pw = work)
        {
            var io = new Io
            {
                Q = pq + q.Offset, K = pk + k.Offset, V = pv + v.Offset, Y = py + y.Offset, Work = pw + workOff,
                QStride = q.BatchStride, KStride = k.BatchStride, VStride = v.BatchStride, YStride = y.BatchStride,
            };
            int tasks = n * s.Heads * plan.Chunks;
            var states = new StateJob<TMap> { P = plan, Io = io, Transposed = false };
            WorkerPool.For(tasks, ref states);
            var combine = new CombineJob { P = plan, Work = io.Work, Direction = causal ? 1 : 0 };
            WorkerPool.For(n * s.Heads * plan.Pieces, ref combine);
            var output = new OutputJob<TMap> { P = plan, Io = io };
            WorkerPool.For(tasks, ref output);
        }
    }

    /// <summary>Backward from dy: dq, dk, dv (= or, when <paramref name="accumulate"/>, +=). Needs the forward's
    /// inputs and output y; <paramref name="work"/> as for <see cref="Forward{TMap}"/>. The gradients must not
    /// overlap any input.</summary>
    public static void Backward<TMap>(int n, in AttentionShape s, bool causal, View q, View k, View v, View y, View dy,
        float[] work, int workOff, View dq, View dk, View dv, bool accumulate) where TMap : struct, IActivation
    {
        Check(n, s, causal, q, k, v, y, work, workOff);
        KernelUtil.Check(dy, n, s.SampleSize, nameof(dy));
        KernelUtil.Check(dq, n, s.SampleSize, nameof(dq));
        KernelUtil.Check(dk, n, s.SampleSize, nameof(dk));
        KernelUtil.Check(dv, n, s.SampleSize, nameof(dv));
        if (n == 0) return;
        var plan = new Plan(s, causal);
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, py = y.Data, pdy = dy.Data, pw = work,
               pdq = dq.Data, pdk = dk.Data, pdv = dv.Data)
        {
            var io = new Io
            {
                Q = pq + q.Offset, K = pk + k.Offset, V = pv + v.Offset, Y = py + y.Offset, Work = pw + workOff,
                QStride = q.BatchStride, KStride = k.BatchStride, VStride = v.BatchStride, YStride = y.BatchStride,
                Dy = pdy + dy.Offset, Dq = pdq + dq.Offset, Dk = pdk + dk.Offset, Dv = pdv + dv.Offset,
                DyStride = dy.BatchStride, DqStride = dq.BatchStride, DkStride = dk.BatchStride, DvStride = dv.BatchStride,
                Accumulate = accumulate,
            };
            int tasks = n * s.Heads * plan.Chunks, pieces = n * s.Heads * plan.Pieces;
            // The states again, transposed (S^T[v, k]): the queries' gradient multiplies a_i by S^T.
            var states = new StateJob<TMap> { P = plan, Io = io, Transposed = true };
            WorkerPool.For(tasks, ref states);
            var combine = new CombineJob { P = plan, Work = io.Work, Direction = causal ? 1 : 0 };
            WorkerPool.For(pieces, ref combine);
            var queries = new QueryGradJob<TMap> { P = plan, Io = io };
            WorkerPool.For(tasks, ref queries);
            var suffix = new CombineJob { P = plan, Work = io.Work, Direction = causal ? -1 : 0 };
            WorkerPool.For(pieces, ref suffix);
            if (!causal)
            {
                var transpose = new TransposeTotalJob { P = plan, Work = io.Work };
                WorkerPool.For(n * s.Heads, ref transpose);
            }
            var keys = new KeyGradJob<TMap> { P = plan, Io = io };
            WorkerPool.For(tasks, ref keys);
        }
    }

    static void Check(int n, in AttentionShape s, bool causal, View q, View k, View v, View y, float[] work, int workOff)
    {
        s.Validate();
        KernelUtil.Check(q, n, s.SampleSize, nameof(q));
        KernelUtil.Check(k, n, s.SampleSize, nameof(k));
        KernelUtil.Check(v, n, s.SampleSize, nameof(v));
        KernelUtil.Check(y, n, s.SampleSize, nameof(y));
        KernelUtil.Check(work, workOff, WorkspaceSize(n, s, causal), nameof(work));
    }

    /// <summary>Sizes and workspace layout of one problem. Per (sample, head) pair: Chunks + 2 state slots
    /// (a dh x P matrix, then a P vector; P = dh padded to 16 lanes), then den[N] and c[N]. Slot Chunks holds
    /// a non-causal total, slot Chunks + 1 the transpose of the backward's total.</summary>
    internal readonly struct Plan
    {
        public readonly AttentionShape S;
        public readonly bool Causal;
        public readonly int Chunk, Chunks, Pw, StateSize, PerPair, Pieces;

        /// <summary>Floats of one piece of a state that a combine task handles.</summary>
        public const int PieceSize = 1024;

        public Plan(in AttentionShape s, bool causal)
        {
            S = s;
            Causal = causal;
            Chunk = causal ? CausalChunk : FullChunk;
            Chunks = (s.SeqLen + Chunk - 1) / Chunk;
            Pw = AttentionTiles.Pad(s.HeadSize);
            StateSize = s.HeadSize * Pw + Pw;
            PerPair = checked((Chunks + 2) * StateSize + 2 * s.SeqLen);
            Pieces = (StateSize + PieceSize - 1) / PieceSize;
        }

        /// <summary>Floats of the two C x C tiles of the intra-chunk products (causal only).</summary>
        public int Square => Causal ? 2 * Chunk * Chunk : 0;

        public float* Slot(float* work, int pair, int slot) => work + (long)pair * PerPair + (long)slot * StateSize;
        public float* Den(float* work, int pair) => work + (long)pair * PerPair + (long)(Chunks + 2) * StateSize;
        public float* C(float* work, int pair) => Den(work, pair) + S.SeqLen;
    }

    /// <summary>Pointers and strides of one call.</summary>
    struct Io
    {
        public float* Q, K, V, Y, Work, Dy, Dq, Dk, Dv;
        public int QStride, KStride, VStride, YStride, DyStride, DqStride, DkStride, DvStride;
        public bool Accumulate;
    }

    /// <summary>Per-thread tiles of a chunk task: eight C x P or P x C tiles, then (causal) two C x C, then two C vectors.</summary>
    static float* Tiles(in Plan p, out int tile)
    {
        tile = p.Chunk * p.Pw;
        return Scratch.Aligned(Scratch.Get(ref scratch, 8 * tile + p.Square + 2 * p.Chunk));
    }

    /// <summary>dst[r * ld + c] = phi(src[r * srcLd + c]) for c &lt; cols, 0 for cols &lt;= c &lt; ld; r &lt; rows.</summary>
    static void MapRows<TMap>(float* src, int srcLd, int rows, int cols, float* dst, int ld) where TMap : struct, IActivation
    {
        for (int r = 0; r < rows; r++)
        {
            float* s = src + (long)r * srcLd, d = dst + (long)r * ld;
            int c = 0;
            if (Simd.Use512) for (; c + 16 <= cols; c += 16) default(TMap).Apply(Vector512.Load(s + c)).Store(d + c);
            for (; c + 8 <= cols; c += 8) default(TMap).Apply(Vector256.Load(s + c)).Store(d + c);
            for (; c < cols; c++) d[c] = default(TMap).Apply(s[c]);
            for (; c < ld; c++) d[c] = 0f;
        }
    }

    /// <summary>dst[r * ld + c] = src[r * srcLd + c] * scale[r] (or 1) for c &lt; cols, then 0 for cols &lt;= c &lt; padTo
    /// (a tile's padding; a token row passes padTo = cols so that the next head's columns stay untouched).</summary>
    static void CopyRows(float* src, int srcLd, int rows, int cols, float* scale, float* dst, int ld, int padTo)
    {
        for (int r = 0; r < rows; r++)
        {
            float* s = src + (long)r * srcLd, d = dst + (long)r * ld;
            float f = scale is null ? 1f : scale[r];
            int c = 0;
            if (Simd.Use512) for (; c + 16 <= cols; c += 16) (Vector512.Load(s + c) * f).Store(d + c);
            for (; c + 8 <= cols; c += 8) (Vector256.Load(s + c) * f).Store(d + c);
            for (; c < cols; c++) d[c] = s[c] * f;
            for (; c < padTo; c++) d[c] = 0f;
        }
    }

    /// <summary>out[r * outLd + c] (= or +=) g[r * ld + c] * phi'(x[r * xLd + c]) for c &lt; cols, r &lt; rows.</summary>
    static void ChainRows<TMap>(float* g, int ld, float* x, int xLd, int rows, int cols, float* output, int outLd, bool accumulate)
        where TMap : struct, IActivation
    {
        for (int r = 0; r < rows; r++)
        {
            float* gr = g + (long)r * ld, xr = x + (long)r * xLd, o = output + (long)r * outLd;
            int c = 0;
            if (Simd.Use512)
                for (; c + 16 <= cols; c += 16)
                {
                    var t = Vector512.Load(gr + c) * default(TMap).Derivative(Vector512.Load(xr + c));
                    if (accumulate) t += Vector512.Load(o + c);
                    t.Store(o + c);
                }
            for (; c + 8 <= cols; c += 8)
            {
                var t = Vector256.Load(gr + c) * default(TMap).Derivative(Vector256.Load(xr + c));
                if (accumulate) t += Vector256.Load(o + c);
                t.Store(o + c);
            }
            for (; c < cols; c++)
            {
                float t = gr[c] * default(TMap).Derivative(xr[c]);
                o[c] = accumulate ? o[c] + t : t;
            }
        }
    }

    /// <summary>acc[0, P) = sum over r &lt; rows of x[r * ld + 0..P) (rows in order), or with weights w[r].</summary>
    static void SumRows(float* x, int ld, int rows, int width, float* w, float* acc)
    {
        for (int c = 0; c < width; c += 16)
        {
            if (Simd.Use512)
            {
                var s = Vector512<float>.Zero;
                for (int r = 0; r < rows; r++)
                {
                    var v = Vector512.Load(x + (long)r * ld + c);
                    s = w is null ? s + v : Vector512.FusedMultiplyAdd(v, Vector512.Create(w[r]), s);
                }
                s.Store(acc + c);
            }
            else
            {
                var s0 = Vector256<float>.Zero; var s1 = Vector256<float>.Zero;
                for (int r = 0; r < rows; r++)
                {
                    float* row = x + (long)r * ld + c;
                    if (w is null) { s0 += Vector256.Load(row); s1 += Vector256.Load(row + 8); }
                    else
                    {
                        var f = Vector256.Create(w[r]);
                        s0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), f, s0);
                        s1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), f, s1);
                    }
                }
                s0.Store(acc + c); s1.Store(acc + c + 8);
            }
        }
    }

    /// <summary>a . b over one head's lanes. Inline vector FMAs: heads are short (16 in the vision models), where
    /// TensorPrimitives.Dot's call and dispatch cost more than the products (12% of the backward at 49 tokens).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Dot(float* a, float* b, int len)
    {
        int i = 0;
        float total = 0f;
        if (Simd.Use512 && len >= 16)
        {
            var acc = Vector512.Load(a) * Vector512.Load(b);
            for (i = 16; i <= len - 16; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            total = Vector512.Sum(acc);
        }
        if (i <= len - 8)
        {
            var acc = Vector256.Load(a + i) * Vector256.Load(b + i);
            for (i += 8; i <= len - 8; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            total += Vector256.Sum(acc);
        }
        for (; i < len; i++) total = MathF.FusedMultiplyAdd(a[i], b[i], total);
        return total;
    }

    /// <summary>Zeroes m[i * ld + j] for j &gt; i (the causal mask inside a chunk), i &lt; rows, j &lt; width.</summary>
    static void MaskUpper(float* m, int ld, int rows, int width)
    {
        for (int i = 0; i < rows; i++)
            if (i + 1 < width) new Span<float>(m + (long)i * ld + i + 1, width - i - 1).Clear();
    }

    /// <summary>Pass A: each chunk's state. Forward: S_c[k, v] = sum_j phi(k_j)[k] v_j[v]; backward (Transposed):
    /// S_c^T[v, k]. Both: z_c[k] = sum_j phi(k_j)[k].</summary>
    struct StateJob<TMap> : IParallelJob where TMap : struct, IActivation
    {
        public Plan P;
        public Io Io;
        public bool Transposed;

        public void Run(int task)
        {
            var s = P.S;
            int pair = task / P.Chunks, chunk = task % P.Chunks;
            int h = pair % s.Heads, b = pair / s.Heads, d = s.Dim, dh = s.HeadSize, pw = P.Pw;
            int j0 = chunk * P.Chunk, nc = Math.Min(P.Chunk, s.SeqLen - j0);
            float* k = Io.K + (long)b * Io.KStride + h * dh + (long)j0 * d;
            float* v = Io.V + (long)b * Io.VStride + h * dh + (long)j0 * d;
            float* phiK = Tiles(P, out int tile);
            MapRows<TMap>(k, d, nc, dh, phiK, pw);
            float* slot = P.Slot(Io.Work, pair, chunk);
            if (Transposed)
            {
                AttentionTiles.Mul(dh, nc, pw, v, 1, d, phiK, pw, slot, pw, false);
            }
            else
            {
                // v rows serve in place when a head is whole vectors wide; otherwise padded copies.
                float* vb = v;
                int ldv = d;
                if (dh != pw) { vb = phiK + tile; ldv = pw; CopyRows(v, d, nc, dh, null, vb, pw, pw); }
                AttentionTiles.Mul(dh, nc, pw, phiK, 1, pw, vb, ldv, slot, pw, false);
            }
            SumRows(phiK, pw, nc, pw, null, slot + dh * pw);
        }
    }

    /// <summary>Pass B: combines the chunk states in chunk order, piece by piece. Direction 1: exclusive prefix in
    /// place (slot c = sum of chunks before c); -1: exclusive suffix; 0: the total into slot Chunks.</summary>
    struct CombineJob : IParallelJob
    {
        public Plan P;
        public float* Work;
        public int Direction;

        public void Run(int task)
        {
            int pair = task / P.Pieces, piece = task % P.Pieces;
            int f0 = piece * Plan.PieceSize, len = Math.Min(Plan.PieceSize, P.StateSize - f0);
            float* first = P.Slot(Work, pair, 0) + f0;
            long stride = P.StateSize;
            int chunks = P.Chunks;
            // StateSize and PieceSize are multiples of 16, so whole vectors cover every piece.
            for (int f = 0; f < len; f += 16)
            {
                float* col = first + f;
                if (Direction == 0)
                {
                    var total = Load16(col, out var hi);
                    for (int c = 1; c < chunks; c++) { total += Load16(col + c * stride, out var h2); hi += h2; }
                    Store16(col + chunks * stride, total, hi);
                }
                else
                {
                    Vector256<float> run = default, runHi = default;
                    for (int i = 0; i < chunks; i++)
                    {
                        int c = Direction > 0 ? i : chunks - 1 - i;
                        float* at = col + c * stride;
                        var t = Load16(at, out var tHi);
                        Store16(at, run, runHi);
                        run += t; runHi += tHi;
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Load16(float* p, out Vector256<float> hi) { hi = Vector256.Load(p + 8); return Vector256.Load(p); }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Store16(float* p, Vector256<float> lo, Vector256<float> hi) { lo.Store(p); hi.Store(p + 8); }
    }

    /// <summary>Non-causal backward: slot Chunks + 1 = transpose of the total dS^T in slot Chunks (dS[k, v]),
    /// which dv needs as a right-hand tile.</summary>
    struct TransposeTotalJob : IParallelJob
    {
        public Plan P;
        public float* Work;

        public void Run(int pair)
        {
            int dh = P.S.HeadSize, pw = P.Pw;
            float* src = P.Slot(Work, pair, P.Chunks), dst = P.Slot(Work, pair, P.Chunks + 1);
            AttentionTiles.Transpose(dh, dh, src, pw, dst, pw);
            for (int r = 0; r < dh; r++) new Span<float>(dst + r * pw + dh, pw - dh).Clear();
        }
    }

    /// <summary>Pass C: y_i = (phi(q_i)^T S + intra) / (phi(q_i)^T z + intra + eps), S and z the chunk's combined state.</summary>
    struct OutputJob<TMap> : IParallelJob where TMap : struct, IActivation
    {
        public Plan P;
        public Io Io;

        public void Run(int task)
        {
            var s = P.S;
            int pair = task / P.Chunks, chunk = task % P.Chunks;
            int h = pair % s.Heads, b = pair / s.Heads, d = s.Dim, dh = s.HeadSize, pw = P.Pw, cs = P.Chunk;
            int i0 = chunk * cs, nc = Math.Min(cs, s.SeqLen - i0);
            float* q = Io.Q + (long)b * Io.QStride + h * dh + (long)i0 * d;
            float* state = P.Slot(Io.Work, pair, P.Causal ? chunk : P.Chunks);
            float* phiQ = Tiles(P, out int tile);
            float* num = phiQ + tile, phiK = num + tile, phiKt = phiK + tile, vb = phiKt + tile;
            float* amat = phiQ + 8 * tile, den = amat + P.Square;
            MapRows<TMap>(q, d, nc, dh, phiQ, pw);
            AttentionTiles.Mul(nc, dh, pw, phiQ, pw, 1, state, pw, num, pw, false);
            float* z = state + dh * pw;
            for (int i = 0; i < nc; i++) den[i] = Dot(phiQ + i * pw, z, dh) + Eps;
            if (P.Causal)
            {
                float* k = Io.K + (long)b * Io.KStride + h * dh + (long)i0 * d;
                float* v = Io.V + (long)b * Io.VStride + h * dh + (long)i0 * d;
                MapRows<TMap>(k, d, nc, dh, phiK, pw);
                ZeroPadded(phiKt, pw, cs, nc);
                AttentionTiles.Transpose(dh, nc, phiK, pw, phiKt, cs);
                // A[i, j] = phi(q_i) . phi(k_j), j <= i
                AttentionTiles.Mul(nc, dh, cs, phiQ, pw, 1, phiKt, cs, amat, cs, false);
                MaskUpper(amat, cs, nc, cs);
                for (int i = 0; i < nc; i++) den[i] += Sum(amat + i * cs, i + 1);
                float* vr = v;
                int ldv = d;
                if (dh != pw) { vr = vb; ldv = pw; CopyRows(v, d, nc, dh, null, vb, pw, pw); }
                AttentionTiles.Mul(nc, nc, pw, amat, cs, 1, vr, ldv, num, pw, true);
            }
            float* y = Io.Y + (long)b * Io.YStride + h * dh + (long)i0 * d;
            for (int i = 0; i < nc; i++) den[i] = 1f / den[i];
            CopyRows(num, pw, nc, dh, den, y, d, dh);
        }
    }

    /// <summary>Zeroes the lanes [valid, width) of rows [0, rows) of a tile with stride width.</summary>
    static void ZeroPadded(float* t, int rows, int width, int valid)
    {
        if (valid >= width) return;
        for (int r = 0; r < rows; r++) new Span<float>(t + (long)r * width + valid, width - valid).Clear();
    }

    static float Sum(float* x, int len) => System.Numerics.Tensors.TensorPrimitives.Sum(new ReadOnlySpan<float>(x, len));

    /// <summary>Backward pass C1, the queries' side. With a_i = dy_i / den_i and c_i = -(dy_i . y_i) / den_i:
    /// dphi(q_i) = S^T a_i + c_i z + sum_{j in chunk, j &lt;= i} (a_i . v_j + c_i) phi(k_j); dq = dphi(q) phi'(q).
    /// Then the chunk's own backward state replaces its slot: dS_c^T[v, k] = sum_i a_i[v] phi(q_i)[k],
    /// dz_c[k] = sum_i c_i phi(q_i)[k]. den and c are kept for the keys' side.</summary>
    struct QueryGradJob<TMap> : IParallelJob where TMap : struct, IActivation
    {
        public Plan P;
        public Io Io;

        public void Run(int task)
        {
            var s = P.S;
            int pair = task / P.Chunks, chunk = task % P.Chunks;
            int h = pair % s.Heads, b = pair / s.Heads, d = s.Dim, dh = s.HeadSize, pw = P.Pw, cs = P.Chunk;
            int i0 = chunk * cs, nc = Math.Min(cs, s.SeqLen - i0);
            long rowOff = h * dh + (long)i0 * d;
            float* q = Io.Q + (long)b * Io.QStride + rowOff, k = Io.K + (long)b * Io.KStride + rowOff;
            float* v = Io.V + (long)b * Io.VStride + rowOff, y = Io.Y + (long)b * Io.YStride + rowOff;
            float* dy = Io.Dy + (long)b * Io.DyStride + rowOff;
            float* state = P.Slot(Io.Work, pair, P.Causal ? chunk : P.Chunks);
            float* den = P.Den(Io.Work, pair) + i0, cv = P.C(Io.Work, pair) + i0;

            float* phiQ = Tiles(P, out int tile);
            float* a = phiQ + tile, grad = a + tile, phiK = grad + tile, phiKt = phiK + tile, vt = phiKt + tile;
            float* amat = phiQ + 8 * tile, g = amat + cs * cs, inv = amat + P.Square;
            MapRows<TMap>(q, d, nc, dh, phiQ, pw);
            float* z = state + dh * pw;
            for (int i = 0; i < nc; i++) den[i] = Dot(phiQ + i * pw, z, dh) + Eps;
            if (P.Causal)
            {
                MapRows<TMap>(k, d, nc, dh, phiK, pw);
                ZeroPadded(phiKt, pw, cs, nc);
                AttentionTiles.Transpose(dh, nc, phiK, pw, phiKt, cs);
                AttentionTiles.Mul(nc, dh, cs, phiQ, pw, 1, phiKt, cs, amat, cs, false);
                MaskUpper(amat, cs, nc, cs);
                for (int i = 0; i < nc; i++) den[i] += Sum(amat + i * cs, i + 1);
            }
            for (int i = 0; i < nc; i++)
            {
                inv[i] = 1f / den[i];
                cv[i] = -Dot(dy + (long)i * d, y + (long)i * d, dh) * inv[i];
            }
            CopyRows(dy, d, nc, dh, inv, a, pw, pw);
            // dphi(q)[i, k] = sum_v a[i, v] S^T[v, k] + c_i z[k]
            AttentionTiles.Mul(nc, dh, pw, a, pw, 1, state, pw, grad, pw, false);
            AddOuter(grad, pw, nc, cv, z, pw);
            if (P.Causal)
            {
                ZeroPadded(vt, pw, cs, nc);
                AttentionTiles.Transpose(dh, nc, v, d, vt, cs);
                // G[i, j] = a_i . v_j + c_i, j <= i
                AttentionTiles.Mul(nc, dh, cs, a, pw, 1, vt, cs, g, cs, false);
                for (int i = 0; i < nc; i++) AddScalar(g + i * cs, i + 1, cv[i]);
                MaskUpper(g, cs, nc, cs);
                AttentionTiles.Mul(nc, nc, pw, g, cs, 1, phiK, pw, grad, pw, true);
            }
            float* dq = Io.Dq + (long)b * Io.DqStride + rowOff;
            ChainRows<TMap>(grad, pw, q, d, nc, dh, dq, d, Io.Accumulate);
            // This chunk's backward state replaces its (already consumed) forward slot.
            float* own = P.Slot(Io.Work, pair, chunk);
            AttentionTiles.Mul(dh, nc, pw, a, 1, pw, phiQ, pw, own, pw, false);
            SumRows(phiQ, pw, nc, pw, cv, own + dh * pw);
        }
    }

    /// <summary>m[i * ld + c] += f[i] * z[c] for i &lt; rows, c &lt; width.</summary>
    static void AddOuter(float* m, int ld, int rows, float* f, float* z, int width)
    {
        for (int i = 0; i < rows; i++)
        {
            float* row = m + (long)i * ld;
            if (Simd.Use512)
            {
                var fi = Vector512.Create(f[i]);
                for (int c = 0; c < width; c += 16) Vector512.FusedMultiplyAdd(fi, Vector512.Load(z + c), Vector512.Load(row + c)).Store(row + c);
            }
            else
            {
                var fi = Vector256.Create(f[i]);
                for (int c = 0; c < width; c += 8) Vector256.FusedMultiplyAdd(fi, Vector256.Load(z + c), Vector256.Load(row + c)).Store(row + c);
            }
        }
    }

    static void AddScalar(float* x, int len, float value)
    {
        for (int i = 0; i < len; i++) x[i] += value;
    }

    /// <summary>Backward pass C2, the keys' side, from the combined backward state (dS^T, dz) of the queries at and
    /// after this chunk's end: dphi(k_j) = dS^T' v_j + dz + sum_{i in chunk, i &gt;= j} (a_i . v_j + c_i) phi(q_i),
    /// dk = dphi(k) phi'(k); dv_j = dS phi(k_j) + sum_{i in chunk, i &gt;= j} (phi(q_i) . phi(k_j)) a_i.</summary>
    struct KeyGradJob<TMap> : IParallelJob where TMap : struct, IActivation
    {
        public Plan P;
        public Io Io;

        public void Run(int task)
        {
            var s = P.S;
            int pair = task / P.Chunks, chunk = task % P.Chunks;
            int h = pair % s.Heads, b = pair / s.Heads, d = s.Dim, dh = s.HeadSize, pw = P.Pw, cs = P.Chunk;
            int j0 = chunk * cs, nc = Math.Min(cs, s.SeqLen - j0);
            long rowOff = h * dh + (long)j0 * d;
            float* q = Io.Q + (long)b * Io.QStride + rowOff, k = Io.K + (long)b * Io.KStride + rowOff;
            float* v = Io.V + (long)b * Io.VStride + rowOff, dy = Io.Dy + (long)b * Io.DyStride + rowOff;
            float* dk = Io.Dk + (long)b * Io.DkStride + rowOff, dv = Io.Dv + (long)b * Io.DvStride + rowOff;
            float* dst = P.Slot(Io.Work, pair, P.Causal ? chunk : P.Chunks);   // dS^T[v, k], then dz
            float* dz = dst + dh * pw;

            float* phiK = Tiles(P, out int tile);
            float* grad = phiK + tile, phiQ = grad + tile, a = phiQ + tile, phiKt = a + tile, vt = phiKt + tile, gradT = vt + tile;
            float* amat = phiK + 8 * tile, g = amat + cs * cs, inv = amat + P.Square;
            MapRows<TMap>(k, d, nc, dh, phiK, pw);
            // dphi(k)[j, k] = sum_v v_j[v] dS^T[v, k] + dz[k]
            AttentionTiles.Mul(nc, dh, pw, v, d, 1, dst, pw, grad, pw, false);
            for (int j = 0; j < nc; j++) AddRow(grad + j * pw, dz, pw);
            if (!P.Causal)
            {
                ChainRows<TMap>(grad, pw, k, d, nc, dh, dk, d, Io.Accumulate);
                // dv[j, v] = sum_k phi(k_j)[k] dS[k, v]
                float* ds = P.Slot(Io.Work, pair, P.Chunks + 1);
                AttentionTiles.Mul(nc, dh, pw, phiK, pw, 1, ds, pw, gradT, pw, false);
                WriteRows(gradT, pw, nc, dh, dv, d, Io.Accumulate);
                return;
            }
            float* den = P.Den(Io.Work, pair) + j0, cv = P.C(Io.Work, pair) + j0;
            MapRows<TMap>(q, d, nc, dh, phiQ, pw);
            for (int i = 0; i < nc; i++) inv[i] = 1f / den[i];
            CopyRows(dy, d, nc, dh, inv, a, pw, pw);
            ZeroPadded(vt, pw, cs, nc);
            AttentionTiles.Transpose(dh, nc, v, d, vt, cs);
            ZeroPadded(phiKt, pw, cs, nc);
            AttentionTiles.Transpose(dh, nc, phiK, pw, phiKt, cs);
            // G[i, j] = a_i . v_j + c_i and A[i, j] = phi(q_i) . phi(k_j), both for j <= i
            AttentionTiles.Mul(nc, dh, cs, a, pw, 1, vt, cs, g, cs, false);
            for (int i = 0; i < nc; i++) AddScalar(g + i * cs, i + 1, cv[i]);
            MaskUpper(g, cs, nc, cs);
            AttentionTiles.Mul(nc, dh, cs, phiQ, pw, 1, phiKt, cs, amat, cs, false);
            MaskUpper(amat, cs, nc, cs);
            // dphi(k)[j, k] += sum_i G[i, j] phi(q_i)[k]
            AttentionTiles.Mul(nc, nc, pw, g, 1, cs, phiQ, pw, grad, pw, true);
            ChainRows<TMap>(grad, pw, k, d, nc, dh, dk, d, Io.Accumulate);
            // dv^T[v, j] = sum_k dS^T[v, k] phi(k_j)[k] + sum_i a_i[v] A[i, j]
            AttentionTiles.Mul(dh, dh, cs, dst, pw, 1, phiKt, cs, gradT, cs, false);
            AttentionTiles.Mul(dh, nc, cs, a, 1, pw, amat, cs, gradT, cs, true);
            for (int j = 0; j < nc; j++)
            {
                float* row = dv + (long)j * d;
                if (Io.Accumulate) for (int c = 0; c < dh; c++) row[c] += gradT[c * cs + j];
                else for (int c = 0; c < dh; c++) row[c] = gradT[c * cs + j];
            }
        }
    }

    static void AddRow(float* row, float* x, int width)
    {
        if (Simd.Use512) for (int c = 0; c < width; c += 16) (Vector512.Load(row + c) + Vector512.Load(x + c)).Store(row + c);
        else for (int c = 0; c < width; c += 8) (Vector256.Load(row + c) + Vector256.Load(x + c)).Store(row + c);
    }

    /// <summary>dst rows (= or +=) src rows; inline vectors, as the rows are one head wide (a Span copy per 16 floats
    /// cost 5% of the backward).</summary>
    static void WriteRows(float* src, int ld, int rows, int cols, float* dst, int dstLd, bool accumulate)
    {
        for (int r = 0; r < rows; r++)
        {
            float* s = src + (long)r * ld, d = dst + (long)r * dstLd;
            int c = 0;
            if (Simd.Use512)
                for (; c + 16 <= cols; c += 16)
                {
                    var t = Vector512.Load(s + c);
                    if (accumulate) t += Vector512.Load(d + c);
                    t.Store(d + c);
                }
            for (; c + 8 <= cols; c += 8)
            {
                var t = Vector256.Load(s + c);
                if (accumulate) t += Vector256.Load(d + c);
                t.Store(d + c);
            }
            for (; c < cols; c++) d[c] = accumulate ? d[c] + s[c] : s[c];
        }
    }
}
