// Multi-head softmax attention, F.scaled_dot_product_attention(q, k, v, is_causal) per head with
// scale 1/sqrt(headSize), in O(N) memory: flash-attention tiling. Forward keeps a running max and sum
// per query (online softmax) over blocks of 64 keys and stores only each row's log-sum-exp; backward
// recomputes the probabilities from it. Work runs on blocks of 64 queries (forward, dq) or 64 keys
// (dk, dv), every (sample, head, block) a task, so one long sequence still fills every core and no two
// tasks write the same output (no reduction across threads: results do not depend on the thread count).
//
// Tiles keep the block's own tokens along the vector lanes: in the forward and dq tasks the scores are
// S^T (keys x queries), so the per-query max, sum and rescaling are plain lane-wise vector operations
// and the keys are read in place (a head's columns of a token row); the dk/dv tasks use S (queries x
// keys) the same way. Every product is AttentionTiles.Mul.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Multi-head scaled dot-product attention with the heads interleaved in each token row
/// (<see cref="AttentionShape"/>): y = softmax(q k^T / sqrt(headSize) [+ causal mask]) v per head.</summary>
public static unsafe class SoftmaxAttention
{
    /// <summary>Tokens per block (queries of a forward task, keys of a dk/dv task).</summary>
    internal const int Block = 64;

    [ThreadStatic] static float[]? scratch;

    /// <summary>Floats of the saved statistics: one log-sum-exp per (sample, head, query), [n, heads, N].</summary>
    public static int SaveSize(int n, in AttentionShape s) => n * s.Heads * s.SeqLen;

    /// <summary>Floats of the workspace <see cref="Backward"/> needs: one float per (sample, head, query).</summary>
    public static int WorkspaceSize(int n, in AttentionShape s) => n * s.Heads * s.SeqLen;

    /// <summary>Forward: y = softmax(scale q k^T) v per head, scale = 1/sqrt(headSize); with <paramref name="causal"/>
    /// query i sees keys j &lt;= i. Writes the log-sum-exp of each query's scaled scores to
    /// lse[lseOff + (b * heads + h) * N + i], which <see cref="Backward"/> needs. y must not overlap q, k or v.</summary>
    public static void Forward(int n, in AttentionShape s, bool causal, View q, View k, View v, View y, float[] lse, int lseOff)
    {
        CheckViews(n, s, q, k, v, y);
        KernelUtil.Check(lse, lseOff, SaveSize(n, s), nameof(lse));
        if (n == 0) return;
        int blocks = Blocks(s.SeqLen);
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, py = y.Data, pl = lse)
        {
            var job = new ForwardJob
            {
                Q = pq + q.Offset, K = pk + k.Offset, V = pv + v.Offset, Y = py + y.Offset, Lse = pl + lseOff,
                QStride = q.BatchStride, KStride = k.BatchStride, VStride = v.BatchStride, YStride = y.BatchStride,
                S = s, Pairs = n * s.Heads, Blocks = blocks, Causal = causal, Scale = Scale(s.HeadSize),
            };
            WorkerPool.For(n * s.Heads * blocks, ref job);
        }
    }

    /// <summary>Backward from dy: dq, dk, dv (= or, when <paramref name="accumulate"/>, +=). Needs the forward's
    /// inputs, its output y and its <paramref name="lse"/>, and <see cref="WorkspaceSize"/> floats of
    /// <paramref name="work"/>. The gradients must not overlap any input.</summary>
    public static void Backward(int n, in AttentionShape s, bool causal, View q, View k, View v, View y, View dy,
        float[] lse, int lseOff, float[] work, int workOff, View dq, View dk, View dv, bool accumulate)
    {
        CheckViews(n, s, q, k, v, y);
        KernelUtil.Check(dy, n, s.SampleSize, nameof(dy));
        KernelUtil.Check(dq, n, s.SampleSize, nameof(dq));
        KernelUtil.Check(dk, n, s.SampleSize, nameof(dk));
        KernelUtil.Check(dv, n, s.SampleSize, nameof(dv));
        KernelUtil.Check(lse, lseOff, SaveSize(n, s), nameof(lse));
        KernelUtil.Check(work, workOff, WorkspaceSize(n, s), nameof(work));
        if (n == 0) return;
        int blocks = Blocks(s.SeqLen);
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, py = y.Data, pdy = dy.Data, pl = lse, pw = work,
               pdq = dq.Data, pdk = dk.Data, pdv = dv.Data)
        {
            // D_i = dy_i . y_i, the softmax backward's row term, once per query for every key block that needs it.
            var rows = new RowDotJob
            {
                Dy = pdy + dy.Offset, Y = py + y.Offset, DyStride = dy.BatchStride, YStride = y.BatchStride,
                Out = pw + workOff, S = s, Pairs = n * s.Heads, Blocks = blocks,
            };
            WorkerPool.For(n * s.Heads * blocks, ref rows);
            var job = new BackwardJob
            {
                Q = pq + q.Offset, K = pk + k.Offset, V = pv + v.Offset, Dy = pdy + dy.Offset, Lse = pl + lseOff, Dl = pw + workOff,
                Dq = pdq + dq.Offset, Dk = pdk + dk.Offset, Dv = pdv + dv.Offset,
                QStride = q.BatchStride, KStride = k.BatchStride, VStride = v.BatchStride, DyStride = dy.BatchStride,
                DqStride = dq.BatchStride, DkStride = dk.BatchStride, DvStride = dv.BatchStride,
                S = s, Pairs = n * s.Heads, Blocks = blocks, Causal = causal, Scale = Scale(s.HeadSize), Accumulate = accumulate,
            };
            WorkerPool.For(2 * n * s.Heads * blocks, ref job);
        }
    }

    /// <summary>1/sqrt(headSize), as PyTorch computes it (in double, then used as a float).</summary>
    public static float Scale(int headSize) => (float)(1.0 / Math.Sqrt(headSize));

    static int Blocks(int seqLen) => (seqLen + Block - 1) / Block;

    static void CheckViews(int n, in AttentionShape s, View q, View k, View v, View y)
    {
        s.Validate();
        KernelUtil.Check(q, n, s.SampleSize, nameof(q));
        KernelUtil.Check(k, n, s.SampleSize, nameof(k));
        KernelUtil.Check(v, n, s.SampleSize, nameof(v));
        KernelUtil.Check(y, n, s.SampleSize, nameof(y));
    }

    static float* Tiles(int floats) => Scratch.Aligned(Scratch.Get(ref scratch, floats));

    /// <summary>dst[d * Block + i] = scale * src[i * ld + d] for i &lt; rows, d &lt; dh; lanes rows..Block zero.</summary>
    static void PackTransposed(float* src, int ld, int rows, int dh, float scale, float* dst)
    {
        for (int i = 0; i < rows; i++)
        {
            float* row = src + (long)i * ld;
            for (int d = 0; d < dh; d++) dst[d * Block + i] = row[d] * scale;
        }
        if (rows < Block)
            for (int d = 0; d < dh; d++) new Span<float>(dst + d * Block + rows, Block - rows).Clear();
    }

    /// <summary>Writes (or adds) scale * tile[d * Block + i] to dst[i * ld + d], i &lt; rows, d &lt; dh.</summary>
    static void UnpackTransposed(float* tile, int rows, int dh, float scale, float* dst, int ld, bool accumulate)
    {
        for (int i = 0; i < rows; i++)
        {
            float* row = dst + (long)i * ld;
            if (accumulate) for (int d = 0; d < dh; d++) row[d] += tile[d * Block + i] * scale;
            else for (int d = 0; d < dh; d++) row[d] = tile[d * Block + i] * scale;
        }
    }

    /// <summary>One online-softmax step over a block of scores st[j * Block + i] (keys j &lt; nk down, queries across):
    /// new running max m, p = exp(s - m) in place (0 where masked), l = l * alpha + sum p, alpha = exp(m_old - m).
    /// <paramref name="diag"/>: the block on the diagonal, where key j &gt; query i is masked.</summary>
    static void SoftmaxStep(float* st, int nk, float* m, float* l, float* alpha, bool first, bool diag)
    {
        if (Simd.Use512)
        {
            for (int g = 0; g < Block; g += 16)
            {
                var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) + Vector512.Create(g);
                var ninf = Vector512.Create(float.NegativeInfinity);
                var mx = first ? ninf : Vector512.Load(m + g);
                for (int j = 0; j < nk; j++)
                {
                    var sv = Vector512.Load(st + j * Block + g);
                    if (diag) sv = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(lane, Vector512.Create(j)).AsSingle(), sv, ninf);
                    mx = Vector512.Max(mx, sv);
                }
                var sum = Vector512<float>.Zero;
                for (int j = 0; j < nk; j++)
                {
                    float* p = st + j * Block + g;
                    var e = Vector512.Exp(Vector512.Load(p) - mx);
                    if (diag) e = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(lane, Vector512.Create(j)).AsSingle(), e, Vector512<float>.Zero);
                    e.Store(p);
                    sum += e;
                }
                if (first)
                {
                    sum.Store(l + g);
                }
                else
                {
                    var a = Vector512.Exp(Vector512.Load(m + g) - mx);
                    a.Store(alpha + g);
                    Vector512.FusedMultiplyAdd(Vector512.Load(l + g), a, sum).Store(l + g);
                }
                mx.Store(m + g);
            }
        }
        else
        {
            for (int g = 0; g < Block; g += 8)
            {
                var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) + Vector256.Create(g);
                var ninf = Vector256.Create(float.NegativeInfinity);
                var mx = first ? ninf : Vector256.Load(m + g);
                for (int j = 0; j < nk; j++)
                {
                    var sv = Vector256.Load(st + j * Block + g);
                    if (diag) sv = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(lane, Vector256.Create(j)).AsSingle(), sv, ninf);
                    mx = Vector256.Max(mx, sv);
                }
                var sum = Vector256<float>.Zero;
                for (int j = 0; j < nk; j++)
                {
                    float* p = st + j * Block + g;
                    var e = Vector256.Exp(Vector256.Load(p) - mx);
                    if (diag) e = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(lane, Vector256.Create(j)).AsSingle(), e, Vector256<float>.Zero);
                    e.Store(p);
                    sum += e;
                }
                if (first)
                {
                    sum.Store(l + g);
                }
                else
                {
                    var a = Vector256.Exp(Vector256.Load(m + g) - mx);
                    a.Store(alpha + g);
                    Vector256.FusedMultiplyAdd(Vector256.Load(l + g), a, sum).Store(l + g);
                }
                mx.Store(m + g);
            }
        }
    }

    /// <summary>rows[r * Block + i] *= f[i] for r &lt; count.</summary>
    static void ScaleLanes(float* rows, int count, float* f)
    {
        for (int r = 0; r < count; r++)
        {
            float* p = rows + r * Block;
            if (Simd.Use512)
                for (int g = 0; g < Block; g += 16) (Vector512.Load(p + g) * Vector512.Load(f + g)).Store(p + g);
            else
                for (int g = 0; g < Block; g += 8) (Vector256.Load(p + g) * Vector256.Load(f + g)).Store(p + g);
        }
    }

    /// <summary>Recomputed probabilities and score gradients of one block, tokens of the task along the lanes:
    /// p = exp(s - lse) (0 where masked), then ds = p * (dp - dl) into dp. Row r's lse/dl are
    /// <paramref name="lse"/>[r] when <paramref name="perRow"/>, else lane-wise <paramref name="lse"/>.
    /// Masked (diag): lanes before row r when the lanes are queries (perRow false), lanes after it when keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Probabilities(float* s, float* dp, int rows, bool perRow, float* lse, float* dl, bool diag)
    {
        if (Simd.Use512)
        {
            var baseLane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            for (int r = 0; r < rows; r++)
            {
                var rl = Vector512.Create(perRow ? lse[r] : 0f);
                var rd = Vector512.Create(perRow ? dl[r] : 0f);
                var rv = Vector512.Create(r);
                for (int g = 0; g < Block; g += 16)
                {
                    int at = r * Block + g;
                    var p = Vector512.Exp(Vector512.Load(s + at) - (perRow ? rl : Vector512.Load(lse + g)));
                    if (diag)
                    {
                        var lane = baseLane + Vector512.Create(g);
                        var keep = perRow ? Vector512.LessThanOrEqual(lane, rv) : Vector512.GreaterThanOrEqual(lane, rv);
                        p = Vector512.ConditionalSelect(keep.AsSingle(), p, Vector512<float>.Zero);
                    }
                    p.Store(s + at);
                    (p * (Vector512.Load(dp + at) - (perRow ? rd : Vector512.Load(dl + g)))).Store(dp + at);
                }
            }
        }
        else
        {
            var baseLane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            for (int r = 0; r < rows; r++)
            {
                var rl = Vector256.Create(perRow ? lse[r] : 0f);
                var rd = Vector256.Create(perRow ? dl[r] : 0f);
                var rv = Vector256.Create(r);
                for (int g = 0; g < Block; g += 8)
                {
                    int at = r * Block + g;
                    var p = Vector256.Exp(Vector256.Load(s + at) - (perRow ? rl : Vector256.Load(lse + g)));
                    if (diag)
                    {
                        var lane = baseLane + Vector256.Create(g);
                        var keep = perRow ? Vector256.LessThanOrEqual(lane, rv) : Vector256.GreaterThanOrEqual(lane, rv);
                        p = Vector256.ConditionalSelect(keep.AsSingle(), p, Vector256<float>.Zero);
                    }
                    p.Store(s + at);
                    (p * (Vector256.Load(dp + at) - (perRow ? rd : Vector256.Load(dl + g)))).Store(dp + at);
                }
            }
        }
    }

    struct ForwardJob : IParallelJob
    {
        public float* Q, K, V, Y, Lse;
        public int QStride, KStride, VStride, YStride, Pairs, Blocks;
        public AttentionShape S;
        public bool Causal;
        public float Scale;

        public void Run(int task)
        {
            // Largest tasks first (causal: the last query blocks see the most keys), so the tail of the
            // schedule is short tasks.
            int pair = task % Pairs, qb = Blocks - 1 - task / Pairs;
            int h = pair % S.Heads, b = pair / S.Heads;
            int d = S.Dim, dh = S.HeadSize, seq = S.SeqLen;
            int q0 = qb * Block, nq = Math.Min(Block, seq - q0);
            float* q = Q + (long)b * QStride + h * dh, k = K + (long)b * KStride + h * dh, v = V + (long)b * VStride + h * dh;

            float* qt = Tiles(3 * dh * Block + Block * Block + 3 * Block);
            float* st = qt + dh * Block, ot = st + Block * Block, m = ot + dh * Block, l = m + Block, alpha = l + Block;
            PackTransposed(q + (long)q0 * d, d, nq, dh, Scale, qt);

            int last = Causal ? qb : Blocks - 1;
            for (int kb = 0; kb <= last; kb++)
            {
                int k0 = kb * Block, nk = Math.Min(Block, seq - k0);
                // S^T[j, i] = k_j . (scale q_i)
                AttentionTiles.Mul(nk, dh, Block, k + (long)k0 * d, d, 1, qt, Block, st, Block, false);
                bool first = kb == 0;
                SoftmaxStep(st, nk, m, l, alpha, first, Causal && kb == qb);
                if (!first) ScaleLanes(ot, dh, alpha);
                // O^T[c, i] += sum_j v_j[c] p[j, i]
                AttentionTiles.Mul(dh, nk, Block, v + (long)k0 * d, 1, d, st, Block, ot, Block, !first);
            }

            float* y = Y + (long)b * YStride + h * dh + (long)q0 * d;
            for (int i = 0; i < nq; i++)
            {
                float inv = 1f / l[i];
                float* row = y + (long)i * d;
                for (int c = 0; c < dh; c++) row[c] = ot[c * Block + i] * inv;
            }
            float* lse = Lse + (long)pair * seq + q0;
            for (int i = 0; i < nq; i++) lse[i] = m[i] + MathF.Log(l[i]);
        }
    }

    struct RowDotJob : IParallelJob
    {
        public float* Dy, Y, Out;
        public int DyStride, YStride, Pairs, Blocks;
        public AttentionShape S;

        public void Run(int task)
        {
            int pair = task % Pairs, blk = task / Pairs;
            int h = pair % S.Heads, b = pair / S.Heads;
            int d = S.Dim, dh = S.HeadSize;
            int i0 = blk * Block, ni = Math.Min(Block, S.SeqLen - i0);
            float* dy = Dy + (long)b * DyStride + h * dh, y = Y + (long)b * YStride + h * dh;
            float* o = Out + (long)pair * S.SeqLen;
            for (int i = i0; i < i0 + ni; i++)
                o[i] = System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<float>(dy + (long)i * d, dh), new ReadOnlySpan<float>(y + (long)i * d, dh));
        }
    }

    struct BackwardJob : IParallelJob
    {
        public float* Q, K, V, Dy, Lse, Dl, Dq, Dk, Dv;
        public int QStride, KStride, VStride, DyStride, DqStride, DkStride, DvStride, Pairs, Blocks;
        public AttentionShape S;
        public bool Causal, Accumulate;
        public float Scale;

        public void Run(int task)
        {
            // Even tasks dk/dv of a key block, odd tasks dq of a query block, largest first in both
            // (causal: early key blocks and late query blocks see the most of the other side).
            int kind = task & 1, rest = task >> 1;
            int pair = rest % Pairs, rank = rest / Pairs;
            if (kind == 0) KeyBlock(pair, rank);
            else QueryBlock(pair, Blocks - 1 - rank);
        }

        /// <summary>dk and dv of keys [k0, k0 + 64): queries down the tiles, this block's keys across.</summary>
        void KeyBlock(int pair, int kb)
        {
            int h = pair % S.Heads, b = pair / S.Heads;
            int d = S.Dim, dh = S.HeadSize, seq = S.SeqLen;
            int k0 = kb * Block, nk = Math.Min(Block, seq - k0);
            float* q = Q + (long)b * QStride + h * dh, dy = Dy + (long)b * DyStride + h * dh;
            float* lse = Lse + (long)pair * seq, dl = Dl + (long)pair * seq;

            float* kt = Tiles(4 * dh * Block + 2 * Block * Block);
            float* vt = kt + dh * Block, dvt = vt + dh * Block, dkt = dvt + dh * Block, s = dkt + dh * Block, ds = s + Block * Block;
            PackTransposed(K + (long)b * KStride + h * dh + (long)k0 * d, d, nk, dh, Scale, kt);
            PackTransposed(V + (long)b * VStride + h * dh + (long)k0 * d, d, nk, dh, 1f, vt);

            bool first = true;
            for (int qb = Causal ? kb : 0; qb < Blocks; qb++)
            {
                int q0 = qb * Block, nq = Math.Min(Block, seq - q0);
                float* qr = q + (long)q0 * d, dyr = dy + (long)q0 * d;
                AttentionTiles.Mul(nq, dh, Block, qr, d, 1, kt, Block, s, Block, false);     // s[i, j] = scale q_i . k_j
                AttentionTiles.Mul(nq, dh, Block, dyr, d, 1, vt, Block, ds, Block, false);   // dp[i, j] = dy_i . v_j
                Probabilities(s, ds, nq, true, lse + q0, dl + q0, Causal && qb == kb);
                AttentionTiles.Mul(dh, nq, Block, dyr, 1, d, s, Block, dvt, Block, !first);  // dv^T[c, j] += dy_i[c] p[i, j]
                AttentionTiles.Mul(dh, nq, Block, qr, 1, d, ds, Block, dkt, Block, !first);  // dk^T[c, j] += q_i[c] ds[i, j]
                first = false;
            }
            UnpackTransposed(dkt, nk, dh, Scale, Dk + (long)b * DkStride + h * dh + (long)k0 * d, d, Accumulate);
            UnpackTransposed(dvt, nk, dh, 1f, Dv + (long)b * DvStride + h * dh + (long)k0 * d, d, Accumulate);
        }

        /// <summary>dq of queries [q0, q0 + 64): keys down the tiles, this block's queries across.</summary>
        void QueryBlock(int pair, int qb)
        {
            int h = pair % S.Heads, b = pair / S.Heads;
            int d = S.Dim, dh = S.HeadSize, seq = S.SeqLen;
            int q0 = qb * Block, nq = Math.Min(Block, seq - q0);
            float* k = K + (long)b * KStride + h * dh, v = V + (long)b * VStride + h * dh;

            float* qt = Tiles(3 * dh * Block + 2 * Block * Block + 2 * Block);
            float* dyt = qt + dh * Block, dqt = dyt + dh * Block, st = dqt + dh * Block, ds = st + Block * Block;
            float* lse = ds + Block * Block, dl = lse + Block;
            PackTransposed(Q + (long)b * QStride + h * dh + (long)q0 * d, d, nq, dh, Scale, qt);
            PackTransposed(Dy + (long)b * DyStride + h * dh + (long)q0 * d, d, nq, dh, 1f, dyt);
            // Padding lanes get finite statistics so that they stay finite (and are never written out).
            for (int i = 0; i < Block; i++)
            {
                lse[i] = i < nq ? Lse[(long)pair * seq + q0 + i] : 0f;
                dl[i] = i < nq ? Dl[(long)pair * seq + q0 + i] : 0f;
            }

            int last = Causal ? qb : Blocks - 1;
            for (int kb = 0; kb <= last; kb++)
            {
                int k0 = kb * Block, nk = Math.Min(Block, seq - k0);
                float* kr = k + (long)k0 * d, vr = v + (long)k0 * d;
                AttentionTiles.Mul(nk, dh, Block, kr, d, 1, qt, Block, st, Block, false);    // s^T[j, i] = k_j . scale q_i
                AttentionTiles.Mul(nk, dh, Block, vr, d, 1, dyt, Block, ds, Block, false);   // dp^T[j, i] = v_j . dy_i
                Probabilities(st, ds, nk, false, lse, dl, Causal && kb == qb);
                AttentionTiles.Mul(dh, nk, Block, kr, 1, d, ds, Block, dqt, Block, kb != 0); // dq^T[c, i] += k_j[c] ds[j, i]
            }
            UnpackTransposed(dqt, nq, dh, Scale, Dq + (long)b * DqStride + h * dh + (long)q0 * d, d, Accumulate);
        }
    }
}
