// Deploy checkpoints that hold tensors of more than one dtype, in the same safetensors layout as Safetensors.Save:
// a binary layer's weights are stored as bits (U64 words, 1 bit per weight, BitPack's layout) next to the float
// epilogue (F32 scale and shift), so the file, not only memory, is 32x smaller than fp32 for the binary weights.
// The store-based Safetensors API stays F32-only (it loads into a ParameterStore); this one moves raw tensors and
// leaves their meaning to the layer that wrote them (PackedBinaryConv.ToTensors / FromTensors). Saving is atomic
// (Safetensors.SaveAtomic); loading validates the header with Safetensors' parser, then every tensor's byte span
// against its dtype and shape and the data section, before returning anything.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Authoring.Runtime.Checkpoints;

/// <summary>One tensor of a <see cref="PackedCheckpoint"/>: safetensors dtype ("U64", "F32", ...), shape and
/// little-endian bytes.</summary>
public sealed record RawTensor(string Name, string Dtype, long[] Shape, byte[] Bytes)
{
    /// <summary>U64 words (packed bits).</summary>
    public static RawTensor U64(string name, long[] shape, ReadOnlySpan<ulong> words) => new(name, "U64", shape, LittleEndian(words));

    /// <summary>F32 values.</summary>
    public static RawTensor F32(string name, long[] shape, ReadOnlySpan<float> values) => new(name, "F32", shape, LittleEndian(values));

    /// <summary>The words of a U64 tensor.</summary>
    public ulong[] AsU64() => Dtype == "U64" ? FromLittleEndian<ulong>(Bytes) : throw new InvalidDataException($"tensor '{Name}' is {Dtype}, not U64.");

    /// <summary>The values of an F32 tensor.</summary>
    public float[] AsF32() => Dtype == "F32" ? FromLittleEndian<float>(Bytes) : throw new InvalidDataException($"tensor '{Name}' is {Dtype}, not F32.");

    static byte[] LittleEndian<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var b = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian) Swap<T>(b);
        return b;
    }

    static T[] FromLittleEndian<T>(byte[] bytes) where T : unmanaged
    {
        var b = (byte[])bytes.Clone();
        if (!BitConverter.IsLittleEndian) Swap<T>(b);
        return MemoryMarshal.Cast<byte, T>(b).ToArray();
    }

    static void Swap<T>(byte[] b) where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        for (int i = 0; i < b.Length; i += size) b.AsSpan(i, size).Reverse();
    }
}

/// <summary>Saves and loads deploy checkpoints of mixed dtypes (see the file header).</summary>
public static class PackedCheckpoint
{
    /// <summary>Writes <paramref name="tensors"/> (in order) and <paramref name="metadata"/> to <paramref name="path"/>, atomically.</summary>
    public static void Save(string path, IReadOnlyList<RawTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] header = Header(tensors, metadata);
        Safetensors.SaveAtomic(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            s.Write(len);
            s.Write(header);
            foreach (var t in tensors) s.Write(t.Bytes);
        });
    }

    /// <summary>Every tensor of <paramref name="path"/> by name, and its metadata.</summary>
    /// <exception cref="InvalidDataException">The header is malformed, or a tensor's bytes do not match its dtype and
    /// shape or lie outside the data section; the message names the file and the tensor.</exception>
    public static (IReadOnlyDictionary<string, RawTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Deploy checkpoint '{path}' does not exist.", path);
        // One open file for header and data: a concurrent save renames over the path, and the reader keeps the old file.
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        SafetensorsHeader header;
        long dataStart;
        try { header = Safetensors.ReadHeader(fs, fs.Length, out dataStart); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        long dataLength = fs.Length - dataStart;
        var r = new Dictionary<string, RawTensor>(StringComparer.Ordinal);
        foreach (var t in header.Tensors)
        {
            long size = t.Dtype switch { "U8" or "I8" or "BOOL" => 1, "F32" or "I32" or "U32" => 4, "U64" or "I64" or "F64" => 8, _ => 0 };
            if (size == 0) throw Bad(path, $"tensor '{t.Name}' has dtype {t.Dtype}, which deploy checkpoints do not use.");
            if (t.End - t.Begin != t.Elements * size)
                throw Bad(path, $"tensor '{t.Name}' ({t.Dtype}, {t.Elements} elements) spans {t.End - t.Begin} bytes, expected {t.Elements * size}.");
            if (t.End > dataLength) throw Bad(path, $"tensor '{t.Name}' ends at data byte {t.End} but the data section has {dataLength} (truncated?).");
            if (t.End - t.Begin > Array.MaxLength) throw Bad(path, $"tensor '{t.Name}' is too large to load into one array.");
            var bytes = new byte[t.End - t.Begin];
            fs.Seek(dataStart + t.Begin, SeekOrigin.Begin);
            fs.ReadExactly(bytes);
            r[t.Name] = new RawTensor(t.Name, t.Dtype, t.Shape, bytes);
        }
        return (r, header.Metadata);
    }

    /// <summary>Writes every tensor of <paramref name="store"/>: its floats as F32 and its packed bits
    /// (<see cref="ParameterStore.Bits"/>) as U64, under their names, with <paramref name="metadata"/>.</summary>
    public static void SaveStore(ParameterStore store, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var tensors = new List<RawTensor>();
        var values = store.Values;
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var info = store.Infos[i];
            tensors.Add(RawTensor.F32(info.Name, Array.ConvertAll(info.Shape, d => (long)d), values.AsSpan(store.OffsetOf(i), info.Length)));
        }
        if (store.Bits is { } bits)
            for (int i = 0; i < bits.Infos.Count; i++)
            {
                var info = bits.Infos[i];
                tensors.Add(RawTensor.U64(info.Name, Array.ConvertAll(info.Shape, d => (long)d), bits.Words.AsSpan(bits.OffsetOf(i), info.Length)));
            }
        Save(path, tensors, metadata);
    }

    /// <summary>Loads a file <see cref="SaveStore"/> wrote into <paramref name="store"/>: every float and bit tensor of the
    /// store must be in the file with its dtype and shape, and the file must hold nothing else. Nothing is written into
    /// the store unless all of them match.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or truncated, or a tensor is missing, extra, of another
    /// dtype or shape; the message names the file and the tensor.</exception>
    public static IReadOnlyDictionary<string, string> LoadStore(ParameterStore store, string path)
    {
        ArgumentNullException.ThrowIfNull(store);
        var (tensors, metadata) = Load(path);
        RawTensor Get(string name, string dtype, int[] shape)
        {
            if (!tensors.TryGetValue(name, out var t)) throw Bad(path, $"no tensor '{name}' ({dtype} [{string.Join(", ", shape)}]): the file was written for another model.");
            if (t.Dtype != dtype) throw Bad(path, $"tensor '{name}' is {t.Dtype}, the model stores it as {dtype}.");
            if (!t.Shape.SequenceEqual(Array.ConvertAll(shape, d => (long)d)))
                throw Bad(path, $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], the model's is [{string.Join(", ", shape)}].");
            return t;
        }
        var floats = new float[store.Infos.Count][];
        for (int i = 0; i < floats.Length; i++) floats[i] = Get(store.Infos[i].Name, "F32", store.Infos[i].Shape).AsF32();
        var bits = store.Bits;
        var words = new ulong[bits?.Infos.Count ?? 0][];
        for (int i = 0; i < words.Length; i++) words[i] = Get(bits!.Infos[i].Name, "U64", bits.Infos[i].Shape).AsU64();
        int expected = floats.Length + words.Length;
        if (tensors.Count != expected)
        {
            var known = new HashSet<string>(store.Infos.Select(i => i.Name).Concat(bits?.Infos.Select(i => i.Name) ?? []), StringComparer.Ordinal);
            throw Bad(path, $"tensor '{tensors.Keys.First(k => !known.Contains(k))}' is not one of the model's: the file was written for another model.");
        }
        var values = store.Values;
        for (int i = 0; i < floats.Length; i++) floats[i].CopyTo(values, store.OffsetOf(i));
        for (int i = 0; i < words.Length; i++) words[i].CopyTo(bits!.Words, bits.OffsetOf(i));
        bits?.MarkChanged();
        return metadata;
    }

    static InvalidDataException Bad(string path, string message) => new($"{path}: Invalid deploy checkpoint: {message}");

    static byte[] Header(IReadOnlyList<RawTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                if (t.Name == "__metadata__" || !names.Add(t.Name)) throw new InvalidOperationException($"Tensor name '{t.Name}' is reserved or used twice.");
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.Dtype);
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Bytes.LongLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Bytes.LongLength;
            }
            w.WriteEndObject();
        }
        // Spaces pad the header so the data section starts 8-aligned, as Safetensors.BuildHeader does.
        while ((ms.Length & 7) != 0) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
