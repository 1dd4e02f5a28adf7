// Checkpoints in Hugging Face's safetensors format, so a model trained here loads in PyTorch with
// safetensors.torch.load_file. Layout (https://github.com/huggingface/safetensors):
//   8 bytes   N, unsigned little-endian header length (N is padded so the data starts 8-aligned)
//   N bytes   UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}
//             padded with spaces; offsets are relative to the data section, which they must cover exactly
//   rest      raw little-endian tensor bytes, here in ParameterStore order.
// Loading validates the whole file against the store before writing a single value.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Authoring.Runtime.Checkpoints;

/// <summary>Saves and loads a <see cref="ParameterStore"/> as a safetensors file (F32 tensors named as PyTorch's state_dict).</summary>
public static class Safetensors
{
    /// <summary>Largest header accepted, the limit of the reference implementation (100 MB).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    const string MetadataKey = "__metadata__";

    /// <summary>Writes every tensor of <paramref name="store"/> (parameters and running statistics) to <paramref name="path"/>.
    /// The file is written next to its destination and moved into place, so a crash never leaves a torn checkpoint.</summary>
    /// <param name="store">The tensors to save.</param>
    /// <param name="path">Destination file; its directory is created if missing.</param>
    /// <param name="metadata">Optional string pairs stored under "__metadata__" (omitted when null or empty).</param>
    public static void Save(ParameterStore store, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string temp = full + ".tmp";
        using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            Save(store, fs, metadata);
            fs.Flush(flushToDisk: true);
        }
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Writes every tensor of <paramref name="store"/> to <paramref name="stream"/> in safetensors layout.</summary>
    /// <param name="store">The tensors to save.</param>
    /// <param name="stream">A writable stream, left open.</param>
    /// <param name="metadata">Optional string pairs stored under "__metadata__" (omitted when null or empty).</param>
    public static void Save(ParameterStore store, Stream stream, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = BuildHeader(store, metadata);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        stream.Write(len);
        stream.Write(header);
        WriteFloats(stream, store.Values);
    }

    /// <summary>The padded JSON header <see cref="Save(ParameterStore, Stream, IReadOnlyDictionary{string, string}?)"/> writes.</summary>
    internal static byte[] BuildHeader(ParameterStore store, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        // Relaxed escaping writes names and metadata as plain UTF-8, as serde_json does; JSON stays valid.
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(v, $"metadata[{k}]");
                    w.WriteString(k, v);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            for (int i = 0; i < store.Infos.Count; i++)
            {
                var info = store.Infos[i];
                if (info.Name == MetadataKey) throw new InvalidOperationException($"A tensor cannot be named '{MetadataKey}'.");
                // The store is contiguous in this order, so data offsets are just 4 * value offsets.
                if (store.OffsetOf(i) * 4L != offset) throw new InvalidOperationException("ParameterStore tensors are not contiguous.");
                w.WriteStartObject(info.Name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in info.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + 4L * info.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += 4L * info.Length;
            }
            w.WriteEndObject();
        }
        int n = (int)ms.Length;
        // Pad with spaces so the data section starts at an 8-byte boundary (8 + N is a multiple of 8).
        int padded = (n + 7) & ~7;
        for (int i = n; i < padded; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    static void WriteFloats(Stream stream, float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }
        Span<byte> b = stackalloc byte[4];
        foreach (float v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(b, v);
            stream.Write(b);
        }
    }

    /// <summary>Loads <paramref name="path"/> into <paramref name="store"/>. Every tensor of the store must be present
    /// with its shape and dtype F32; PyTorch's "*.num_batches_tracked" counters are accepted and ignored; any other
    /// extra tensor is an error. Nothing is written to the store unless the whole file is valid.</summary>
    /// <returns>The "__metadata__" pairs (empty when absent).</returns>
    /// <exception cref="InvalidDataException">The file is malformed or does not match the store; the message names the tensor and what was expected.</exception>
    public static IReadOnlyDictionary<string, string> Load(ParameterStore store, string path)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        byte[] bytes = File.ReadAllBytes(path);
        try { return Load(store, bytes); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>Loads a whole safetensors file held in <paramref name="file"/> into <paramref name="store"/>, with the
    /// validation of <see cref="Load(ParameterStore, string)"/>.</summary>
    /// <returns>The "__metadata__" pairs (empty when absent).</returns>
    public static IReadOnlyDictionary<string, string> Load(ParameterStore store, ReadOnlySpan<byte> file)
    {
        ArgumentNullException.ThrowIfNull(store);
        var header = ReadHeader(file, out int dataStart);
        long dataLength = file.Length - dataStart;

        // Offsets: sorted by begin they must tile [0, dataLength) with no gap or overlap (the reference rule).
        var byOffset = header.Tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long expect = 0;
        foreach (var t in byOffset)
        {
            if (t.Begin != expect)
                throw Bad(t.Begin < expect
                    ? $"tensor '{t.Name}' data_offsets [{t.Begin}, {t.End}] overlap the previous tensor, which ends at {expect}."
                    : $"tensor '{t.Name}' data_offsets [{t.Begin}, {t.End}] leave a gap: expected it to begin at {expect}.");
            long bytes = t.Elements * DtypeSize(t.Dtype);
            if (t.End - t.Begin != bytes)
                throw Bad($"tensor '{t.Name}' has shape {FormatShape(t.Shape)} and dtype {t.Dtype} ({bytes} bytes) but data_offsets [{t.Begin}, {t.End}] span {t.End - t.Begin} bytes.");
            expect = t.End;
        }
        if (expect != dataLength)
            throw Bad(expect > dataLength
                ? $"the file is truncated: tensors need {expect} data bytes but only {dataLength} follow the header."
                : $"{dataLength - expect} unexpected bytes follow the last tensor (data must end at byte {expect}).");

        // Match against the store: names, dtypes and shapes, all checked before any copy.
        var found = new int[store.Infos.Count];
        Array.Fill(found, -1);
        var unexpected = new List<string>();
        for (int k = 0; k < header.Tensors.Count; k++)
        {
            var t = header.Tensors[k];
            int idx = -1;
            for (int i = 0; i < store.Infos.Count; i++)
                if (store.Infos[i].Name == t.Name) { idx = i; break; }
            if (idx < 0)
            {
                // PyTorch's state_dict carries BatchNorm step counters; this runtime has no use for them.
                if (t.Name.EndsWith(".num_batches_tracked", StringComparison.Ordinal)) continue;
                unexpected.Add($"'{t.Name}'");
                continue;
            }
            var info = store.Infos[idx];
            if (t.Dtype != "F32")
                throw Bad($"tensor '{t.Name}' has dtype {t.Dtype}; expected F32 (convert with tensor.float() before saving).");
            if (!t.Shape.SequenceEqual(info.Shape.Select(d => (long)d)))
                throw Bad($"tensor '{t.Name}' has shape {FormatShape(t.Shape)}; the model expects {FormatShape(info.Shape.Select(d => (long)d))}.");
            found[idx] = k;
        }
        var missing = Enumerable.Range(0, store.Infos.Count).Where(i => found[i] < 0).Select(i => $"'{store.Infos[i].Name}'").ToList();
        // Names are reported together: a renamed tensor shows up as one unexpected and one missing name.
        if (unexpected.Count > 0 || missing.Count > 0)
        {
            var parts = new List<string>();
            if (unexpected.Count > 0)
                parts.Add($"{Plural(unexpected.Count, "tensor")} {Join(unexpected)} {(unexpected.Count > 1 ? "are not parameters" : "is not a parameter")} of this model");
            if (missing.Count > 0)
                parts.Add($"missing {Plural(missing.Count, "tensor")} {Join(missing)} expected by the model");
            throw Bad($"{string.Join("; ", parts)} (the model's tensors: {ExpectedNames(store)}).");
        }

        // Valid: now copy.
        var data = file[dataStart..];
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var t = header.Tensors[found[i]];
            var src = data.Slice((int)t.Begin, (int)(t.End - t.Begin));
            var dst = store.Value(i);
            if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
            else for (int j = 0; j < dst.Length; j++) dst[j] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * j)..]);
        }
        return header.Metadata;
    }

    /// <summary>Reads only the header of a safetensors file: tensor names, dtypes, shapes and the metadata.</summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var fs = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        if (fs.ReadAtLeast(len, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"{path}: the file is {fs.Length} bytes, too short for the 8-byte header length.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (n > MaxHeaderBytes || 8 + (long)n > fs.Length)
            throw new InvalidDataException($"{path}: header length {n} is invalid for a file of {fs.Length} bytes.");
        var buf = new byte[8 + (int)n];
        len.CopyTo(buf);
        fs.ReadExactly(buf.AsSpan(8));
        try { return ReadHeader(buf, out _); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    static SafetensorsHeader ReadHeader(ReadOnlySpan<byte> file, out int dataStart)
    {
        if (file.Length < 8) throw Bad($"the file is {file.Length} bytes, too short for the 8-byte header length.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > MaxHeaderBytes) throw Bad($"header length {n} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?).");
        if (8 + (long)n > file.Length) throw Bad($"header length {n} runs past the end of the {file.Length}-byte file (truncated?).");
        dataStart = 8 + (int)n;
        var json = file[8..dataStart];
        if (json.Length == 0 || json[0] != (byte)'{') throw Bad("the header does not start with '{'.");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json.ToArray()); }
        catch (JsonException e) { throw Bad($"the header is not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad("the header is not a JSON object.");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensor>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw Bad($"the header names '{prop.Name}' twice.");
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad($"'{MetadataKey}' must be an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"'{MetadataKey}' entry '{m.Name}' is not a string.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseTensor(prop.Name, prop.Value));
            }
            return new SafetensorsHeader(tensors, metadata);
        }
    }

    static SafetensorsTensor ParseTensor(string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad($"tensor '{name}': expected an object with dtype, shape and data_offsets.");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dtype":
                    if (p.Value.ValueKind != JsonValueKind.String) throw Bad($"tensor '{name}': dtype must be a string.");
                    dtype = p.Value.GetString();
                    break;
                case "shape": shape = ReadUInts(name, "shape", p.Value); break;
                case "data_offsets": offsets = ReadUInts(name, "data_offsets", p.Value); break;
                default: throw Bad($"tensor '{name}': unknown field '{p.Name}' (expected dtype, shape, data_offsets).");
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw Bad($"tensor '{name}': missing {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}.");
        if (DtypeSize(dtype) == 0) throw Bad($"tensor '{name}': unknown dtype '{dtype}'.");
        if (offsets.Length != 2) throw Bad($"tensor '{name}': data_offsets must be [begin, end], got {offsets.Length} numbers.");
        if (offsets[1] < offsets[0]) throw Bad($"tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}] end before they begin.");
        long elements = 1;
        foreach (long d in shape)
        {
            try { elements = checked(elements * d); }
            catch (OverflowException) { throw Bad($"tensor '{name}': shape {FormatShape(shape)} overflows."); }
        }
        if (elements > int.MaxValue) throw Bad($"tensor '{name}': shape {FormatShape(shape)} is too large.");
        return new SafetensorsTensor(name, dtype, shape, elements, offsets[0], offsets[1]);
    }

    static long[] ReadUInts(string name, string field, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Bad($"tensor '{name}': {field} must be an array of non-negative integers.");
        var r = new long[e.GetArrayLength()];
        int i = 0;
        foreach (var x in e.EnumerateArray())
        {
            // Bounded by the file size later; int range here keeps all arithmetic overflow-free.
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out long v) || v < 0 || v > int.MaxValue)
                throw Bad($"tensor '{name}': {field} must be an array of non-negative integers below 2^31, got {x.GetRawText()}.");
            r[i++] = v;
        }
        return r;
    }

    /// <summary>Bytes per element of a safetensors dtype; 0 when unknown.</summary>
    static long DtypeSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => 0,
    };

    static string Plural(int n, string word) => n > 1 ? word + "s" : word;

    static string Join(List<string> names) =>
        names.Count <= 8 ? string.Join(", ", names) : string.Join(", ", names.Take(8)) + $" and {names.Count - 8} more";

    static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    static string ExpectedNames(ParameterStore store)
    {
        var names = store.Infos.Select(i => i.Name).ToList();
        return names.Count <= 12 ? string.Join(", ", names) : string.Join(", ", names.Take(12)) + $", ... ({names.Count} in all)";
    }

    static InvalidDataException Bad(string message) => new("Invalid safetensors checkpoint: " + message);
}

/// <summary>One tensor entry of a safetensors header.</summary>
/// <param name="Name">Tensor name (a PyTorch state_dict key).</param>
/// <param name="Dtype">Safetensors dtype string, e.g. "F32".</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Elements">Product of the dimensions.</param>
/// <param name="Begin">Start of its bytes in the data section.</param>
/// <param name="End">End (exclusive) of its bytes in the data section.</param>
public sealed record SafetensorsTensor(string Name, string Dtype, long[] Shape, long Elements, long Begin, long End);

/// <summary>The parsed header of a safetensors file.</summary>
/// <param name="Tensors">Tensor entries in header order.</param>
/// <param name="Metadata">The "__metadata__" pairs (empty when absent).</param>
public sealed record SafetensorsHeader(IReadOnlyList<SafetensorsTensor> Tensors, IReadOnlyDictionary<string, string> Metadata);
