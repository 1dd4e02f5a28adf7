// Checkpoints in Hugging Face's safetensors format, so a model trained here loads in PyTorch with
// safetensors.torch.load_file. Layout (https://github.com/huggingface/safetensors):
//   8 bytes   N, unsigned little-endian header length (N is padded so the data starts 8-aligned)
//   N bytes   UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}
//             padded with spaces; offsets are relative to the data section, which they must cover exactly
//   rest      raw little-endian tensor bytes, here in ParameterStore order.
// Files are streamed in both directions with 64-bit offsets, so their size is limited only by the store
// (a float[] of up to Array.MaxLength values). Saving writes a uniquely named temporary file beside the
// target, flushes it to disk and renames it over the target, so concurrent saves never clash and a reader
// never sees a partial file. Loading validates the header and stages the data, then checks every value is
// finite (unless asked not to), before writing a single value into the store.
using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Authoring.Runtime.Checkpoints;

/// <summary>Saves and loads a <see cref="ParameterStore"/> as a safetensors file (F32 tensors named as PyTorch's state_dict).</summary>
public static class Safetensors
{
    /// <summary>Largest header accepted, the limit of the reference implementation (100 MB).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    const string MetadataKey = "__metadata__";

    /// <summary>Floats per read or write call: 1 MiB, so no byte span ever exceeds int range whatever the tensor size.</summary>
    internal const int ChunkFloats = 1 << 18;

    /// <summary>Writes every tensor of <paramref name="store"/> (parameters and running statistics) to <paramref name="path"/>.
    /// The file is written under a unique temporary name in the same directory, flushed to disk and renamed over
    /// <paramref name="path"/>: a crash or a concurrent save never leaves a torn or mixed checkpoint, and a failed
    /// save leaves the previous file as it was and no temporary file behind.</summary>
    /// <param name="store">The tensors to save.</param>
    /// <param name="path">Destination file; its directory is created if missing.</param>
    /// <param name="metadata">Optional string pairs stored under "__metadata__" (omitted when null or empty).</param>
    public static void Save(ParameterStore store, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var tensors = TensorsOf(store);
        byte[] header = BuildHeader(tensors, metadata);
        SaveAtomic(path, s => Write(s, header, tensors));
    }

    /// <summary>Writes every tensor of <paramref name="store"/> to <paramref name="stream"/> in safetensors layout.</summary>
    /// <param name="store">The tensors to save.</param>
    /// <param name="stream">A writable stream, left open.</param>
    /// <param name="metadata">Optional string pairs stored under "__metadata__" (omitted when null or empty).</param>
    public static void Save(ParameterStore store, Stream stream, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(stream);
        var tensors = TensorsOf(store);
        Write(stream, BuildHeader(tensors, metadata), tensors);
    }

    /// <summary>Writes named tensors (any arrays) as one safetensors file at <paramref name="path"/>, atomically.</summary>
    internal static void Save(IReadOnlyList<TensorRef> tensors, string path, IReadOnlyDictionary<string, string>? metadata)
    {
        byte[] header = BuildHeader(tensors, metadata);
        SaveAtomic(path, s => Write(s, header, tensors));
    }

    /// <summary>Runs <paramref name="write"/> on a new temporary file in <paramref name="path"/>'s directory, flushes it to
    /// disk and renames it over <paramref name="path"/> (rename(2) on Unix: atomic, and the last rename wins). On any
    /// failure the temporary file is deleted and <paramref name="path"/> is left as it was.</summary>
    internal static void SaveAtomic(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        Directory.CreateDirectory(dir);
        // Unique per call (CreateNew fails rather than share a name), hidden, and in the target's directory so the
        // rename stays within one file system.
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); }
            catch (IOException) { } // best effort: the original error is the one to report
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    static void Write(Stream stream, byte[] header, IReadOnlyList<TensorRef> tensors)
    {
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        stream.Write(len);
        stream.Write(header);
        foreach (var t in tensors) WriteFloats(stream, t.Data.AsSpan(t.Offset, t.Length));
    }

    /// <summary>The tensors of a store, in storage order, as views of its values.</summary>
    internal static TensorRef[] TensorsOf(ParameterStore store)
    {
        // A float file would silently drop the packed bits (and a load would leave them stale).
        if (store.Bits is { Infos.Count: > 0 })
            throw new InvalidOperationException("This model's parameters include packed bit tensors (binary weights): save and load it with PackedCheckpoint.SaveStore / LoadStore (the generated Save / Load of a deploy model).");
        var r = new TensorRef[store.Infos.Count];
        for (int i = 0; i < r.Length; i++)
            r[i] = new TensorRef(store.Infos[i].Name, store.Infos[i].Shape, store.Values, store.OffsetOf(i), store.Infos[i].Length);
        return r;
    }

    /// <summary>The padded JSON header for <paramref name="store"/>, as <see cref="Save(ParameterStore, Stream, IReadOnlyDictionary{string, string}?)"/> writes it.</summary>
    internal static byte[] BuildHeader(ParameterStore store, IReadOnlyDictionary<string, string>? metadata) => BuildHeader(TensorsOf(store), metadata);

    internal static byte[] BuildHeader(IReadOnlyList<TensorRef> tensors, IReadOnlyDictionary<string, string>? metadata)
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
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in tensors)
            {
                if (t.Name == MetadataKey) throw new InvalidOperationException($"A tensor cannot be named '{MetadataKey}'.");
                if (!names.Add(t.Name)) throw new InvalidOperationException($"Two tensors are named '{t.Name}'.");
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + 4L * t.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += 4L * t.Length;
            }
            w.WriteEndObject();
        }
        int n = (int)ms.Length;
        // Pad with spaces so the data section starts at an 8-byte boundary (8 + N is a multiple of 8).
        int padded = (n + 7) & ~7;
        for (int i = n; i < padded; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    /// <summary>Writes floats little-endian in chunks: a single byte span over more than 2^29 floats would overflow.</summary>
    internal static void WriteFloats(Stream stream, ReadOnlySpan<float> values, int chunk = ChunkFloats)
    {
        if (BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < values.Length; i += chunk)
                stream.Write(MemoryMarshal.AsBytes(values.Slice(i, Math.Min(chunk, values.Length - i))));
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
    /// extra tensor is an error. Values must be finite unless <paramref name="allowNonFinite"/>. Nothing is written
    /// to the store unless the whole file is valid. The file is streamed, so its size is not limited to 2 GiB.</summary>
    /// <param name="store">Receives the values.</param>
    /// <param name="path">The checkpoint.</param>
    /// <param name="allowNonFinite">Accept NaN and infinite values (by default they are an error: a checkpoint of a diverged run).</param>
    /// <returns>The "__metadata__" pairs (empty when absent).</returns>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, does not match the store or holds a non-finite value;
    /// the message names the file, the tensor and what was expected.</exception>
    public static IReadOnlyDictionary<string, string> Load(ParameterStore store, string path, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        return Load(TensorsOf(store), path, allowNonFinite, IgnoredByStore);
    }

    /// <summary>Loads named tensors from <paramref name="path"/> (see <see cref="Load(ParameterStore, string, bool)"/>).</summary>
    internal static IReadOnlyDictionary<string, string> Load(IReadOnlyList<TensorRef> targets, string path, bool allowNonFinite, Func<string, bool>? ignore)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        // Delete sharing: a concurrent save may rename over the file while it is read; the reader keeps the old one.
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        try { return Load(targets, fs, allowNonFinite, ignore); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>Loads a whole safetensors file held in <paramref name="file"/> into <paramref name="store"/>, with the
    /// validation of <see cref="Load(ParameterStore, string, bool)"/> (messages do not name a file).</summary>
    /// <returns>The "__metadata__" pairs (empty when absent).</returns>
    public static unsafe IReadOnlyDictionary<string, string> Load(ParameterStore store, ReadOnlySpan<byte> file, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (file.IsEmpty) return Load(TensorsOf(store), new MemoryStream([], writable: false), allowNonFinite, IgnoredByStore);
        fixed (byte* p = file)
        {
            using var s = new UnmanagedMemoryStream(p, file.Length);
            return Load(TensorsOf(store), s, allowNonFinite, IgnoredByStore);
        }
    }

    /// <summary>Loads a safetensors file from a seekable <paramref name="stream"/> (read from its start to its
    /// <see cref="Stream.Length"/>) into <paramref name="store"/>, with the validation of <see cref="Load(ParameterStore, string, bool)"/>.</summary>
    /// <returns>The "__metadata__" pairs (empty when absent).</returns>
    public static IReadOnlyDictionary<string, string> Load(ParameterStore store, Stream stream, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek || !stream.CanRead) throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        return Load(TensorsOf(store), stream, allowNonFinite, IgnoredByStore);
    }

    /// <summary>PyTorch's state_dict carries BatchNorm step counters; this runtime has no use for them.</summary>
    static bool IgnoredByStore(string name) => name.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    static IReadOnlyDictionary<string, string> Load(IReadOnlyList<TensorRef> targets, Stream stream, bool allowNonFinite, Func<string, bool>? ignore)
    {
        try { return LoadCore(targets, stream, allowNonFinite, ignore); }
        catch (EndOfStreamException e) { throw Bad($"the data ended before the stream's reported length ({e.Message}); was the file changed while being read?"); }
    }

    static IReadOnlyDictionary<string, string> LoadCore(IReadOnlyList<TensorRef> targets, Stream stream, bool allowNonFinite, Func<string, bool>? ignore)
    {
        stream.Position = 0;
        long fileLength = stream.Length;
        var header = ReadHeader(stream, fileLength, out long dataStart);
        long dataLength = fileLength - dataStart;
        CheckOffsets(header, dataLength);

        // Match against the targets: names, dtypes and shapes, all checked before any data is read.
        var found = new int[targets.Count];
        Array.Fill(found, -1);
        var byName = new Dictionary<string, int>(targets.Count, StringComparer.Ordinal);
        for (int i = 0; i < targets.Count; i++) byName[targets[i].Name] = i;
        var unexpected = new List<string>();
        for (int k = 0; k < header.Tensors.Count; k++)
        {
            var t = header.Tensors[k];
            if (!byName.TryGetValue(t.Name, out int idx))
            {
                if (ignore?.Invoke(t.Name) == true) continue;
                unexpected.Add($"'{t.Name}'");
                continue;
            }
            var target = targets[idx];
            if (t.Dtype != "F32")
                throw Bad($"tensor '{t.Name}' has dtype {t.Dtype}; expected F32 (convert with tensor.float() before saving).");
            if (!t.Shape.SequenceEqual(target.Shape.Select(d => (long)d)))
                throw Bad($"tensor '{t.Name}' has shape {FormatShape(t.Shape)}; the model expects {FormatShape(target.Shape.Select(d => (long)d))}.");
            found[idx] = k;
        }
        var missing = Enumerable.Range(0, targets.Count).Where(i => found[i] < 0).Select(i => $"'{targets[i].Name}'").ToList();
        // Names are reported together: a renamed tensor shows up as one unexpected and one missing name.
        if (unexpected.Count > 0 || missing.Count > 0)
        {
            var parts = new List<string>();
            if (unexpected.Count > 0)
                parts.Add($"{Plural(unexpected.Count, "tensor")} {Join(unexpected)} {(unexpected.Count > 1 ? "are not parameters" : "is not a parameter")} of this model");
            if (missing.Count > 0)
                parts.Add($"missing {Plural(missing.Count, "tensor")} {Join(missing)} expected by the model");
            throw Bad($"{string.Join("; ", parts)} (the model's tensors: {ExpectedNames(targets)}).");
        }

        // Stage every tensor, then check, then copy: an error or a short read leaves the targets untouched.
        long total = 0;
        foreach (var t in targets) total += t.Length;
        if (total > Array.MaxLength) throw Bad($"the tensors hold {total} values, more than one array can stage ({Array.MaxLength}).");
        var staged = GC.AllocateUninitializedArray<float>((int)total);
        long at = 0;
        var starts = new long[targets.Count];
        for (int i = 0; i < targets.Count; i++)
        {
            var t = header.Tensors[found[i]];
            starts[i] = at;
            var dst = staged.AsSpan((int)at, targets[i].Length);
            stream.Position = dataStart + t.Begin;
            ReadFloats(stream, dst);
            if (!allowNonFinite && !TensorPrimitives.IsFiniteAll<float>(dst))
            {
                int first = 0, count = 0;
                for (int j = dst.Length - 1; j >= 0; j--) if (!float.IsFinite(dst[j])) { first = j; count++; }
                throw Bad($"tensor '{t.Name}' holds {count} non-finite {(count > 1 ? "values" : "value")} (the first, {Describe(dst[first])}, at index {first}): " +
                          "the checkpoint of a diverged run? Load with allowNonFinite: true to read it anyway.");
            }
            at += targets[i].Length;
        }
        for (int i = 0; i < targets.Count; i++)
            staged.AsSpan((int)starts[i], targets[i].Length).CopyTo(targets[i].Data.AsSpan(targets[i].Offset, targets[i].Length));
        return header.Metadata;
    }

    static void ReadFloats(Stream stream, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i += ChunkFloats)
        {
            var part = dst.Slice(i, Math.Min(ChunkFloats, dst.Length - i));
            var bytes = MemoryMarshal.AsBytes(part);
            stream.ReadExactly(bytes);
            if (!BitConverter.IsLittleEndian)
                for (int j = 0; j < part.Length; j++) part[j] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * j, 4));
        }
    }

    /// <summary>Offsets: sorted by begin they must tile [0, dataLength) with no gap or overlap (the reference rule).</summary>
    static void CheckOffsets(SafetensorsHeader header, long dataLength)
    {
        var byOffset = header.Tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long expect = 0;
        foreach (var t in byOffset)
        {
            if (t.Begin != expect)
                throw Bad(t.Begin < expect
                    ? $"tensor '{t.Name}' data_offsets [{t.Begin}, {t.End}] overlap the previous tensor, which ends at {expect}."
                    : $"tensor '{t.Name}' data_offsets [{t.Begin}, {t.End}] leave a gap: expected it to begin at {expect}.");
            long bytes = t.Elements * DtypeSize(t.Dtype); // elements * size was checked not to overflow when parsed
            if (t.End - t.Begin != bytes)
                throw Bad($"tensor '{t.Name}' has shape {FormatShape(t.Shape)} and dtype {t.Dtype} ({bytes} bytes) but data_offsets [{t.Begin}, {t.End}] span {t.End - t.Begin} bytes.");
            expect = t.End;
        }
        if (expect != dataLength)
            throw Bad(expect > dataLength
                ? $"the file is truncated: tensors need {expect} data bytes but only {dataLength} follow the header."
                : $"{dataLength - expect} unexpected bytes follow the last tensor (data must end at byte {expect}).");
    }

    /// <summary>Reads only the header of a safetensors file: tensor names, dtypes, shapes and the metadata.</summary>
    /// <exception cref="InvalidDataException">The header is malformed; the message names the file.</exception>
    public static SafetensorsHeader ReadHeader(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        try { return ReadHeader(fs, fs.Length, out _); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>Parses the length prefix and the JSON header; every malformation is an <see cref="InvalidDataException"/>.</summary>
    internal static SafetensorsHeader ReadHeader(Stream stream, long fileLength, out long dataStart)
    {
        if (fileLength < 8) throw Bad($"the file is {fileLength} bytes, too short for the 8-byte header length.");
        Span<byte> len = stackalloc byte[8];
        stream.ReadExactly(len);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (n > MaxHeaderBytes) throw Bad($"header length {n} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?).");
        if (8 + (long)n > fileLength) throw Bad($"header length {n} runs past the end of the {fileLength}-byte file (truncated?).");
        dataStart = 8 + (long)n;
        var json = new byte[(int)n];
        stream.ReadExactly(json);
        return ParseHeader(json);
    }

    /// <summary>The JSON header, checked as the reference implementation does: valid UTF-8, one object, no
    /// duplicate keys, every tensor entry exactly dtype / shape / data_offsets with non-negative integers.</summary>
    internal static SafetensorsHeader ParseHeader(byte[] json)
    {
        if (json.Length == 0 || json[0] != (byte)'{') throw Bad("the header does not start with '{'.");
        // System.Text.Json reads invalid UTF-8 inside strings without complaint and throws InvalidOperationException
        // only when the string is decoded: check the whole header first.
        if (!Utf8.IsValid(json)) throw Bad($"the header is not valid UTF-8 (the first invalid sequence is at header byte {FirstInvalidUtf8(json)}).");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw Bad($"the header is not valid JSON: {e.Message}"); }
        using (doc)
        {
            // An object: the text starts with '{' and parsed as one JSON value.
            var root = doc.RootElement;
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
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad($"'{MetadataKey}' names '{m.Name}' twice.");
                    }
                    continue;
                }
                tensors.Add(ParseTensor(prop.Name, prop.Value));
            }
            return new SafetensorsHeader(tensors, metadata);
        }
    }

    static int FirstInvalidUtf8(byte[] bytes)
    {
        int at = 0;
        while (at < bytes.Length && Rune.DecodeFromUtf8(bytes.AsSpan(at), out _, out int consumed) == System.Buffers.OperationStatus.Done) at += consumed;
        return at;
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
                    if (dtype is not null) throw Bad($"tensor '{name}': dtype is given twice.");
                    if (p.Value.ValueKind != JsonValueKind.String) throw Bad($"tensor '{name}': dtype must be a string.");
                    dtype = p.Value.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw Bad($"tensor '{name}': shape is given twice.");
                    shape = ReadUInts(name, "shape", p.Value);
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Bad($"tensor '{name}': data_offsets is given twice.");
                    offsets = ReadUInts(name, "data_offsets", p.Value);
                    break;
                default: throw Bad($"tensor '{name}': unknown field '{p.Name}' (expected dtype, shape, data_offsets).");
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw Bad($"tensor '{name}': missing {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}.");
        long size = DtypeSize(dtype);
        if (size == 0) throw Bad($"tensor '{name}': unknown dtype '{dtype}'.");
        if (offsets.Length != 2) throw Bad($"tensor '{name}': data_offsets must be [begin, end], got {offsets.Length} numbers.");
        if (offsets[1] < offsets[0]) throw Bad($"tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}] end before they begin.");
        long elements = 1;
        try
        {
            foreach (long d in shape) elements = checked(elements * d);
            _ = checked(elements * size);
        }
        catch (OverflowException) { throw Bad($"tensor '{name}': shape {FormatShape(shape)} of dtype {dtype} is larger than any file can hold (its byte count overflows 64 bits)."); }
        return new SafetensorsTensor(name, dtype, shape, elements, offsets[0], offsets[1]);
    }

    static long[] ReadUInts(string name, string field, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array) throw Bad($"tensor '{name}': {field} must be an array of non-negative integers.");
        var r = new long[e.GetArrayLength()];
        int i = 0;
        foreach (var x in e.EnumerateArray())
        {
            // Any 64-bit value: offsets are bounded by the file's length later, shapes by the overflow check.
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt64(out long v) || v < 0)
                throw Bad($"tensor '{name}': {field} must be an array of non-negative integers (64-bit), got {x.GetRawText()}.");
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

    static string Describe(float v) => float.IsNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity";

    static string Plural(int n, string word) => n > 1 ? word + "s" : word;

    static string Join(List<string> names) =>
        names.Count <= 8 ? string.Join(", ", names) : string.Join(", ", names.Take(8)) + $" and {names.Count - 8} more";

    static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    static string ExpectedNames(IReadOnlyList<TensorRef> targets)
    {
        var names = targets.Select(i => i.Name).ToList();
        return names.Count <= 12 ? string.Join(", ", names) : string.Join(", ", names.Take(12)) + $", ... ({names.Count} in all)";
    }

    static InvalidDataException Bad(string message) => new("Invalid safetensors checkpoint: " + message);
}

/// <summary>A named tensor to save or load: <paramref name="Length"/> floats of <paramref name="Data"/> from <paramref name="Offset"/>.</summary>
internal readonly record struct TensorRef(string Name, int[] Shape, float[] Data, int Offset, int Length);

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
