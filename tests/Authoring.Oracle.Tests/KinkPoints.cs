// The points where the reference's derivative jumps: ReLU-family corners and max-pool ties. A gradient is only
// well defined away from them; within round-off of one, two correct float computations may take different sides
// (our float32 and the float64 reference, or two float32 libraries) and then disagree by a whole routed gradient,
// which is no kernel bug. (That is how SmallCnnFashionSample failed on AVX-512 machines: a pool2 window holding
// 0.5058211 and 0.5058213, 4e-7 apart; libtorch's float32 picked one element, the exact answer the other.)
//
// While a KinkPoints watch is open, the reference ops of TorchOracle (Relu, Relu6, Hardswish, Hardsigmoid,
// MaxPool2d) record every input element within Near of such a point, and can be told to take the other side at
// given elements: the forward value stays exactly PyTorch's, only the derivative used there is the one-sided
// derivative from the other side (for a max-pool window: the runner-up receives the gradient). A parity check
// first compares with the plain reference; only if that fails does it retry with the near points resolved the
// other way (AssertSomeResolution), so the normal path is untouched and a kernel bug is not excused: it would
// have to coincide, within the tolerance, with the exact effect of flipping one or two elements that sit within
// round-off of a corner.
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

/// <summary>An element of a reference op's input within <see cref="KinkPoints.Near"/> of a point where the op's
/// derivative jumps. <paramref name="Call"/> numbers the watched op calls of one forward pass in order;
/// <paramref name="Element"/> is the flat (row-major) index of the input element, or of the output element for a
/// max-pool window; <paramref name="Margin"/> is its distance to the corner (for a window: its top value's lead
/// over the runner-up) relative to the tensor's largest magnitude.</summary>
public readonly record struct Kink(int Call, string Op, long Element, double Margin);

/// <summary>Records and resolves the reference's near-kink elements during one forward pass (one per thread at a time).</summary>
public sealed class KinkPoints : IDisposable
{
    /// <summary>Distance to a kink, relative to the op input's largest magnitude, under which the element is
    /// recorded. Our float32 forward values at these ops differ from the float64 reference by about 1e-7 and at most
    /// 1e-6 of that scale (measured on SmallCnn's pre-activations, the largest sums here), so an element further
    /// away than 1e-5 is resolved the same way by both sides: 10x the worst measured error.</summary>
    public const double Near = 1e-5;

    /// <summary>A retry flips each of the <c>Singles</c> nearest points alone, then each pair of the <c>Pairs</c>
    /// nearest: at most 12 + 6 more reference passes. A point flips only where our error there exceeds its margin
    /// (our error is about 1e-7 of scale, the margins up to 1e-5), so the nearest are the likely ones, and two at
    /// once is already improbable.</summary>
    const int Singles = 12, Pairs = 4;

    [ThreadStatic] static KinkPoints? active;

    readonly HashSet<(int Call, long Element)> _flip;
    readonly List<Kink> _found = new();
    int _calls;

    KinkPoints(IEnumerable<Kink>? flip) => _flip = flip is null ? new() : flip.Select(k => (k.Call, k.Element)).ToHashSet();

    /// <summary>Opens a watch on this thread: the watched ops record near-kink elements and take the other side at
    /// the elements of <paramref name="flip"/> (from an earlier watch of the same forward pass).</summary>
    public static KinkPoints Watch(IEnumerable<Kink>? flip = null)
    {
        if (active is not null) throw new InvalidOperationException("A KinkPoints watch is already open on this thread.");
        return active = new KinkPoints(flip);
    }

    /// <summary>The near-kink elements recorded so far, in call order.</summary>
    public IReadOnlyList<Kink> Found => _found;

    /// <summary>Closes the watch.</summary>
    public void Dispose() => active = null;

    /// <summary>Passes when <paramref name="mismatch"/> finds nothing wrong with the plain reference
    /// <paramref name="first"/>, or with a reference recomputed by <paramref name="rerun"/> with one of the nearest
    /// <paramref name="kinks"/>, or two of the very nearest, resolved the other way; otherwise fails with the plain
    /// reference's mismatch.</summary>
    public static void AssertSomeResolution<TReference>(TReference first, IReadOnlyList<Kink> kinks,
        Func<IReadOnlyList<Kink>, TReference> rerun, Func<TReference, string?> mismatch)
    {
        string? plain = mismatch(first);
        if (plain is null) return;
        var nearest = kinks.OrderBy(k => k.Margin).Take(Singles).ToList();
        foreach (var flip in Subsets(nearest))
        {
            if (mismatch(rerun(flip)) is null) return;
        }
        Assert.Fail(kinks.Count == 0
            ? plain
            : $"{plain}\n(no resolution of the reference's {kinks.Count} near-kink elements matches either; nearest: " +
              string.Join(", ", nearest.Take(4).Select(k => $"{k.Op} call {k.Call} element {k.Element} margin {k.Margin:E1}")) + ")");
    }

    static IEnumerable<IReadOnlyList<Kink>> Subsets(List<Kink> nearestFirst)
    {
        foreach (var k in nearestFirst) yield return new[] { k };
        int pairs = Math.Min(Pairs, nearestFirst.Count);
        for (int i = 0; i < pairs; i++)
            for (int j = i + 1; j < pairs; j++) yield return new[] { nearestFirst[i], nearestFirst[j] };
    }

    /// <summary>An elementwise op <paramref name="f"/> whose derivative jumps at <paramref name="corners"/>.</summary>
    internal static TorchTensor Elementwise(string op, TorchTensor x, Func<TorchTensor, TorchTensor> f, params double[] corners)
    {
        var watch = active;
        if (watch is null) return f(x);
        int call = watch._calls++;
        var flips = new List<long>();
        foreach (var (c0, i) in watch._flip) if (c0 == call) flips.Add(i);
        double[]? z = null;
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
        {
            var flat = x.detach().flatten().to(torch.float64);
            double scale = Math.Max(flat.abs().max().item<double>(), double.Epsilon);
            foreach (double c in corners)
            {
                var distance = (flat - c).abs();
                foreach (long i in Indices(distance < Near * scale))
                    watch._found.Add(new Kink(call, op, i, distance[i].item<double>() / scale));
            }
            if (flips.Count > 0) z = flat.data<double>().ToArray();
        }
        if (z is null) return f(x);

        // z: x, except that each flipped element is mirrored to the other side of its nearest corner. The
        // derivative of f at z is then x's derivative with those elements' sides swapped. (An element exactly on a
        // corner goes to the upper side, which for ReLU is the side PyTorch does not take there; computed float64
        // values do not land exactly on a corner, so the other ops' conventions there do not matter.) The corners here are far
        // apart and the pieces linear (Hardswish's middle piece has a derivative of slope 1/3), so the mirrored
        // point's derivative is the one-sided limit, or for Hardswish within 2/3 Near of the input's scale.
        foreach (long i in flips)
        {
            double c = corners.MinBy(c => Math.Abs(z[i] - c));
            double d = Math.Max(Math.Abs(z[i] - c), 1e-12);
            z[i] = z[i] > c ? c - d : c + d;
        }
        TorchTensor slope;
        using (var scope = torch.NewDisposeScope())
        {
            var at = torch.tensor(z, x.shape, torch.float64).to(x.dtype).requires_grad_(true);
            slope = torch.autograd.grad(new[] { f(at).sum() }, new[] { at })[0].detach().MoveToOuterDisposeScope();
        }
        // Value exactly f(x); gradient slope elementwise.
        var xd = x.detach();
        return f(xd) + (x - xd) * slope;
    }

    /// <summary>Max pooling (stride defaults to the kernel, -inf padding) whose windows' ties are recorded and,
    /// where flipped, route the gradient to the window's runner-up.</summary>
    internal static TorchTensor MaxPool2d(TorchTensor x, int kernel, int stride, int padding, Func<TorchTensor, TorchTensor> pool)
    {
        var watch = active;
        if (watch is null) return pool(x);
        int call = watch._calls++;
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        long ho = (h + 2 * padding - kernel) / stride + 1, wo = (w + 2 * padding - kernel) / stride + 1;
        var flips = new HashSet<long>();
        foreach (var (c0, i) in watch._flip) if (c0 == call) flips.Add(i);
        long[]? chosen = null;
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
        {
            var xd = x.detach().to(torch.float64);
            double scale = Math.Max(xd.abs().max().item<double>(), double.Epsilon);
            var windows = F.pad(xd, new long[] { padding, padding, padding, padding }, value: double.NegativeInfinity)
                .unfold(2, kernel, stride).unfold(3, kernel, stride).reshape(n, c, ho, wo, kernel * kernel);
            var (top, local) = windows.topk(2, dim: -1);
            var gap = (top.select(-1, 0) - top.select(-1, 1)).flatten();
            // Exact ties (gap 0) are not recorded: in float64 they come from copies (upsampling) or from
            // saturated values (ReLU zeros), which our float32 holds bit for bit too, and whichever copy takes the
            // gradient, the copy's backward sums it or the saturating op's backward zeroes it alike.
            foreach (long i in Indices((gap < Near * scale) & (gap > 0)))
                watch._found.Add(new Kink(call, "max_pool2d", i, gap[i].item<double>() / scale));
            if (flips.Count > 0)
            {
                var pick = local.select(-1, 0).flatten().data<long>().ToArray();
                var second = local.select(-1, 1).flatten().data<long>().ToArray();
                chosen = new long[pick.Length];
                for (long o = 0; o < pick.Length; o++)
                {
                    long l = flips.Contains(o) ? second[o] : pick[o];
                    long oy = o / wo % ho, ox = o % wo;
                    long iy = oy * stride - padding + l / kernel, ix = ox * stride - padding + l % kernel;
                    chosen[o] = iy * w + ix;
                }
            }
        }
        if (chosen is null) return pool(x);
        // Value exactly PyTorch's pool; gradient to the chosen element of each window.
        var index = torch.tensor(chosen, new[] { n, c, ho * wo }, torch.int64);
        var routed = x.flatten(2).gather(2, index).reshape(n, c, ho, wo);
        return pool(x.detach()) + (routed - routed.detach());
    }

    static long[] Indices(TorchTensor mask) => mask.nonzero().flatten().data<long>().ToArray();
}
