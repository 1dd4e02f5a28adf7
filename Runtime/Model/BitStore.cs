// Packed bit tensors of a model (a deploy model's binary weights: 1 bit per weight, BitPack's layout) in one flat ulong
// array, the typed twin of ParameterStore's float array. Bits are never routed through float storage. The store hangs off
// the model's ParameterStore (ParameterStore.Bits), so it travels wherever the parameters go (a GPU twin, checkpoints).
namespace Authoring.Runtime;

/// <summary>One named tensor of 64-bit words in a <see cref="BitStore"/>.</summary>
public sealed record BitTensorInfo(string Name, int[] Shape)
{
    /// <summary>Number of words.</summary>
    public int Length
    {
        get
        {
            int n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }
}

/// <summary>Named packed-bit tensors in one flat word array.</summary>
public sealed class BitStore
{
    readonly int[] _offsets;
    readonly Dictionary<string, int> _byName;

    /// <summary>Lays out the tensors in the given order, all words zero.</summary>
    public BitStore(IReadOnlyList<BitTensorInfo> infos)
    {
        ArgumentNullException.ThrowIfNull(infos);
        Infos = infos;
        _offsets = new int[infos.Count];
        _byName = new Dictionary<string, int>(infos.Count, StringComparer.Ordinal);
        int total = 0;
        for (int i = 0; i < infos.Count; i++)
        {
            _offsets[i] = total;
            total = checked(total + infos[i].Length);
            if (!_byName.TryAdd(infos[i].Name, i)) throw new ArgumentException($"Duplicate bit tensor name '{infos[i].Name}'.", nameof(infos));
        }
        Words = new ulong[total];
    }

    /// <summary>The tensors, in storage order.</summary>
    public IReadOnlyList<BitTensorInfo> Infos { get; }

    /// <summary>All words. Whoever writes them calls <see cref="MarkChanged"/> so device copies upload again.</summary>
    public ulong[] Words { get; }

    /// <summary>Bumped by <see cref="MarkChanged"/>: a device copy uploaded at this version is current.</summary>
    public long Version { get; private set; }

    /// <summary>Records that <see cref="Words"/> changed.</summary>
    public void MarkChanged() => Version++;

    /// <summary>Index of the tensor named <paramref name="name"/>.</summary>
    public int IndexOf(string name) =>
        _byName.TryGetValue(name, out int i) ? i : throw new KeyNotFoundException($"No bit tensor named '{name}'.");

    /// <summary>Offset of tensor <paramref name="index"/> in <see cref="Words"/>.</summary>
    public int OffsetOf(int index) => _offsets[index];

    /// <summary>Words of the tensor named <paramref name="name"/>.</summary>
    public Span<ulong> Tensor(string name)
    {
        int i = IndexOf(name);
        return Words.AsSpan(_offsets[i], Infos[i].Length);
    }

    /// <summary>Bytes of all words.</summary>
    public long Bytes => Words.LongLength * sizeof(ulong);
}
