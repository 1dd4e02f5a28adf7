// Safetensors checkpoints: byte-exact layout (against the reference implementation's own expected bytes
// and a hand-built header), round trips, and rejection of bad files with the store left untouched.
using System.Buffers.Binary;
using System.Text;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;

namespace Authoring.Runtime.Tests.Checkpoints;

public sealed class SafetensorsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("safetensors-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static ParameterStore ConvBn(int seed) => new(
    [
        new ParameterInfo("conv1.weight", [4, 1, 3, 3], ParameterRole.Weight, InitKind.KaimingUniform, 9, 36),
        new ParameterInfo("bn1.weight", [4], ParameterRole.NormWeight, InitKind.KaimingUniform, 4, 4),
        new ParameterInfo("bn1.bias", [4], ParameterRole.NormBias, InitKind.BiasUniform, 4, 4),
        new ParameterInfo("bn1.running_mean", [4], ParameterRole.RunningMean, InitKind.BiasUniform, 4, 4),
        new ParameterInfo("bn1.running_var", [4], ParameterRole.RunningVar, InitKind.Ones, 0, 0),
        new ParameterInfo("fc.weight", [10, 4], ParameterRole.Weight, InitKind.XavierUniform, 4, 10),
    ], seed);

    /// <summary>Builds a file from a header as written (padded here to 8 bytes) and raw data.</summary>
    static byte[] File(string json, ReadOnlySpan<byte> data, bool pad = true)
    {
        var header = Encoding.UTF8.GetBytes(json);
        int n = pad ? (header.Length + 7) & ~7 : header.Length;
        var file = new byte[8 + n + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)n);
        file.AsSpan(8, n).Fill((byte)' ');
        header.CopyTo(file, 8);
        data.CopyTo(file.AsSpan(8 + n));
        return file;
    }

    static byte[] Floats(params float[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    [Fact]
    public void MatchesTheReferenceImplementationsBytes()
    {
        // huggingface/safetensors tensor.rs, test_serialization_forced_alignement: one F32 tensor "attn0" of shape
        // [1, 1, 2, 3] holding 0..5, no metadata. Header 65 bytes of JSON + 7 spaces = 72.
        var store = new ParameterStore([new ParameterInfo("attn0", [1, 1, 2, 3], ParameterRole.Weight, InitKind.Zeros, 1, 1)]);
        for (int i = 0; i < 6; i++) store.Values[i] = i;
        byte[] expected =
        [
            72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
            121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
            115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
            32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
            160, 64,
        ];
        using var ms = new MemoryStream();
        Safetensors.Save(store, ms);
        Assert.Equal(expected, ms.ToArray());
    }

    [Fact]
    public void WritesHeaderWithMetadataInStoreOrderPaddedToEightBytes()
    {
        var store = new ParameterStore(
        [
            new ParameterInfo("fc.weight", [2, 2], ParameterRole.Weight, InitKind.Zeros, 2, 2),
            new ParameterInfo("bn.running_mean", [1], ParameterRole.RunningMean, InitKind.Zeros, 0, 0),
            new ParameterInfo("fc.bias", [2], ParameterRole.Bias, InitKind.Zeros, 2, 2),
        ]);
        float[] values = [1f, -2f, 0.5f, 3f, 7f, -0.25f, 1e-3f];
        values.CopyTo(store.Values, 0);
        const string json =
            "{\"__metadata__\":{\"format\":\"pt\",\"epoch\":\"3\"}," +
            "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," +
            "\"bn.running_mean\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}," +
            "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}";
        var expected = File(json, Floats(values));
        Assert.Equal(0, (expected.Length - 28) % 8); // the data section starts 8-aligned

        string path = Path.Combine(_dir, "small.safetensors");
        Safetensors.Save(store, path, new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "3" });
        var actual = System.IO.File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetString(expected, 8, expected.Length - 36), Encoding.UTF8.GetString(actual, 8, actual.Length - 36));
        Assert.Equal(expected, actual);
        Assert.False(System.IO.File.Exists(path + ".tmp"));
    }

    [Fact]
    public void RoundTripsValuesAndMetadata()
    {
        var a = ConvBn(1);
        var b = ConvBn(2);
        Assert.NotEqual(a.Values, b.Values);
        string path = Path.Combine(_dir, "sub", "ckpt.safetensors"); // the directory is created
        Safetensors.Save(a, path, new Dictionary<string, string> { ["model"] = "ConvBn", ["note"] = "é \"quoted\" <tag>" });
        var meta = Safetensors.Load(b, path);
        Assert.Equal(a.Values, b.Values);
        Assert.Equal("ConvBn", meta["model"]);
        Assert.Equal("é \"quoted\" <tag>", meta["note"]);

        var header = Safetensors.ReadHeader(path);
        Assert.Equal(a.Infos.Select(i => i.Name), header.Tensors.Select(t => t.Name));
        Assert.Equal([4L, 1, 3, 3], header.Tensors[0].Shape);
    }

    [Fact]
    public void LoadsTensorsInAnyOrderAndIgnoresNumBatchesTracked()
    {
        // As PyTorch's save_file writes them: sorted by dtype then name, with an I64 num_batches_tracked.
        var store = new ParameterStore(
        [
            new ParameterInfo("w", [2], ParameterRole.Weight, InitKind.Zeros, 1, 1),
            new ParameterInfo("bn.running_var", [1], ParameterRole.RunningVar, InitKind.Zeros, 0, 0),
        ]);
        var data = new byte[8 + 4 + 8];
        BinaryPrimitives.WriteInt64LittleEndian(data, 938);
        Floats(5f).CopyTo(data, 8);
        Floats(1f, 2f).CopyTo(data, 12);
        var file = File("{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}," +
                        "\"bn.running_var\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}," +
                        "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", data);
        var meta = Safetensors.Load(store, file);
        Assert.Equal([1f, 2f, 5f], store.Values);
        Assert.Empty(meta);
    }

    public static TheoryData<string, string> BadFiles() => new()
    {
        { "truncated", "truncated" },
        { "trailing", "unexpected bytes" },
        { "short", "too short" },
        { "header-past-end", "runs past the end" },
        { "huge-header", "exceeds" },
        { "not-json", "not valid JSON" },
        { "not-object", "does not start with '{'" },
        { "wrong-shape", "tensor 'fc.weight' has shape [4, 10]; the model expects [10, 4]" },
        { "wrong-dtype", "tensor 'fc.weight' has dtype F64; expected F32" },
        { "missing", "tensor 'bn1.running_varx' is not a parameter of this model; missing tensor 'bn1.running_var' expected by the model" },
        { "unknown-name", "tensor 'fc2.weight' is not a parameter of this model" },
        { "overlap", "overlap" },
        { "gap", "leave a gap" },
        { "size-mismatch", "span" },
        { "duplicate", "twice" },
        { "unknown-dtype", "unknown dtype 'F33'" },
        { "negative-dim", "non-negative integers" },
        { "bad-metadata", "is not a string" },
        // One case per remaining branch of the header parser.
        { "empty-header", "does not start with '{'" },
        { "invalid-utf8-name", "not valid UTF-8 (the first invalid sequence is at header byte 2)" },
        { "invalid-utf8-metadata", "not valid UTF-8" },
        { "trailing-garbage", "not valid JSON" },
        { "too-deep", "not valid JSON" },
        { "metadata-not-object", "'__metadata__' must be an object of strings" },
        { "metadata-duplicate", "'__metadata__' names 'epoch' twice" },
        { "entry-not-object", "tensor 'fc.weight': expected an object with dtype, shape and data_offsets" },
        { "dtype-not-string", "tensor 'fc.weight': dtype must be a string" },
        { "field-twice", "tensor 'fc.weight': shape is given twice" },
        { "unknown-field", "tensor 'fc.weight': unknown field 'strides'" },
        { "missing-dtype", "tensor 'fc.weight': missing dtype" },
        { "missing-shape", "tensor 'fc.weight': missing shape" },
        { "missing-offsets", "tensor 'fc.weight': missing data_offsets" },
        { "offsets-count", "data_offsets must be [begin, end], got 3 numbers" },
        { "offsets-reversed", "end before they begin" },
        { "shape-not-array", "tensor 'fc.weight': shape must be an array of non-negative integers" },
        { "fractional-dim", "got 2.5" },
        { "string-dim", "got \"10\"" },
        { "dim-beyond-int64", "got 99999999999999999999" },
        { "shape-overflow", "its byte count overflows 64 bits" },
        { "nan", "tensor 'fc.weight' holds 1 non-finite value (the first, NaN, at index 3)" },
        { "infinity", "tensor 'bn1.running_var' holds 2 non-finite values (the first, +Infinity, at index 0)" },
        { "negative-infinity", "tensor 'conv1.weight' holds 1 non-finite value (the first, -Infinity, at index 35)" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void RejectsBadFilesWithClearMessagesAndLeavesTheStoreUntouched(string kind, string message)
    {
        var source = ConvBn(1);
        using var ms = new MemoryStream();
        Safetensors.Save(source, ms);
        byte[] good = ms.ToArray();
        string goodJson = Encoding.UTF8.GetString(good, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(good)).TrimEnd();
        var data = good.AsSpan(8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(good)).ToArray();
        byte[] Edit(string from, string to)
        {
            Assert.Contains(from, goodJson); // the edit must really apply
            return File(goodJson.Replace(from, to), data);
        }
        int fcStart = 4 * source.OffsetOf(5), fcEnd = fcStart + 160;
        string fcEntry = $"\"fc.weight\":{{\"dtype\":\"F32\",\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcEnd}]}}";
        Assert.Contains(fcEntry, goodJson);
        byte[] Entry(string replacement) => File(goodJson.Replace(fcEntry, "\"fc.weight\":" + replacement), data);
        byte[] WithValues(params (int Tensor, int Index, float Value)[] values)
        {
            var d = (byte[])data.Clone();
            foreach (var (tensor, index, value) in values)
                BinaryPrimitives.WriteSingleLittleEndian(d.AsSpan(4 * (source.OffsetOf(tensor) + index)), value);
            return File(goodJson, d);
        }
        byte[] bad = kind switch
        {
            "truncated" => good[..^4],
            "trailing" => [.. good, 0, 0, 0, 0],
            "short" => good[..5],
            "header-past-end" => [.. BitConverter.GetBytes((ulong)good.Length), .. good[8..]],
            "huge-header" => [.. BitConverter.GetBytes(1UL << 40), .. good[8..]],
            "not-json" => File("{\"fc.weight\": {", data),
            "not-object" => File("[1, 2]", data),
            "wrong-shape" => Edit("\"shape\":[10,4]", "\"shape\":[4,10]"),
            "wrong-dtype" => File(goodJson.Replace($"\"fc.weight\":{{\"dtype\":\"F32\",\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcEnd}]",
                                                   $"\"fc.weight\":{{\"dtype\":\"F64\",\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcStart + 320}]"),
                                  [.. data, .. new byte[160]]),
            "missing" => File(goodJson.Replace("\"bn1.running_var\"", "\"bn1.running_varx\""), data),
            "unknown-name" => Edit("\"fc.weight\"", "\"fc2.weight\""),
            "overlap" => Edit($"\"data_offsets\":[{fcStart},{fcEnd}]", $"\"data_offsets\":[{fcStart - 4},{fcEnd - 4}]"),
            "gap" => Edit($"\"data_offsets\":[{fcStart},{fcEnd}]", $"\"data_offsets\":[{fcStart + 4},{fcEnd + 4}]"),
            "size-mismatch" => Edit($"\"data_offsets\":[{fcStart},{fcEnd}]", $"\"data_offsets\":[{fcStart},{fcEnd - 4}]"),
            "duplicate" => File(goodJson[..^1] + ",\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[" + fcEnd + "," + fcEnd + "]}}", data),
            "unknown-dtype" => Edit("\"dtype\":\"F32\",\"shape\":[10,4]", "\"dtype\":\"F33\",\"shape\":[10,4]"),
            "negative-dim" => Edit("\"shape\":[10,4]", "\"shape\":[-10,4]"),
            "bad-metadata" => File("{\"__metadata__\":{\"epoch\":3}," + goodJson[1..], data),
            "empty-header" => [.. new byte[8], .. data],
            "invalid-utf8-name" => Utf8Edit(File(goodJson, data), "\"conv1.weight\"", 1, 0xFF),
            "invalid-utf8-metadata" => Utf8Edit(File("{\"__metadata__\":{\"note\":\"caf\u00e9\"}," + goodJson[1..], data), "caf", 3, 0xC3, 0x28),
            "trailing-garbage" => File(goodJson + " x", data),
            "too-deep" => File("{\"__metadata__\":" + new string('[', 20) + new string(']', 20) + "," + goodJson[1..], data),
            "metadata-not-object" => File("{\"__metadata__\":\"epoch 3\"," + goodJson[1..], data),
            "metadata-duplicate" => File("{\"__metadata__\":{\"epoch\":\"3\",\"epoch\":\"4\"}," + goodJson[1..], data),
            "entry-not-object" => Entry($"[{fcStart},{fcEnd}]"),
            "dtype-not-string" => Entry($"{{\"dtype\":32,\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcEnd}]}}"),
            "field-twice" => Entry($"{{\"dtype\":\"F32\",\"shape\":[10,4],\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcEnd}]}}"),
            "unknown-field" => Entry($"{{\"dtype\":\"F32\",\"shape\":[10,4],\"strides\":[4,1],\"data_offsets\":[{fcStart},{fcEnd}]}}"),
            "missing-dtype" => Entry($"{{\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcEnd}]}}"),
            "missing-shape" => Entry($"{{\"dtype\":\"F32\",\"data_offsets\":[{fcStart},{fcEnd}]}}"),
            "missing-offsets" => Entry("{\"dtype\":\"F32\",\"shape\":[10,4]}"),
            "offsets-count" => Entry($"{{\"dtype\":\"F32\",\"shape\":[10,4],\"data_offsets\":[{fcStart},{fcEnd},{fcEnd}]}}"),
            "offsets-reversed" => Entry($"{{\"dtype\":\"F32\",\"shape\":[10,4],\"data_offsets\":[{fcEnd},{fcStart}]}}"),
            "shape-not-array" => Entry($"{{\"dtype\":\"F32\",\"shape\":40,\"data_offsets\":[{fcStart},{fcEnd}]}}"),
            "fractional-dim" => Edit("\"shape\":[10,4]", "\"shape\":[2.5,4]"),
            "string-dim" => Edit("\"shape\":[10,4]", "\"shape\":[\"10\",4]"),
            "dim-beyond-int64" => Edit("\"shape\":[10,4]", "\"shape\":[99999999999999999999,4]"),
            "shape-overflow" => Edit("\"shape\":[10,4]", "\"shape\":[4294967296,4294967296]"),
            "nan" => WithValues((5, 3, float.NaN)),
            "infinity" => WithValues((4, 0, float.PositiveInfinity), (4, 3, float.PositiveInfinity)),
            "negative-infinity" => WithValues((0, 35, float.NegativeInfinity)),
            _ => throw new ArgumentException(kind),
        };
        var target = ConvBn(2);
        var before = (float[])target.Values.Clone();
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(target, bad));
        Assert.Contains(message, e.Message);
        Assert.Equal(before, target.Values);

        // Through a file, the message also names the path.
        string path = Path.Combine(_dir, kind + ".safetensors");
        System.IO.File.WriteAllBytes(path, bad);
        var fe = Assert.Throws<InvalidDataException>(() => Safetensors.Load(target, path));
        Assert.Contains(path, fe.Message);
        Assert.Equal(before, target.Values);
    }

    /// <summary>Replaces the byte <paramref name="skip"/> bytes after the first occurrence of <paramref name="marker"/> with <paramref name="bytes"/>.</summary>
    static byte[] Utf8Edit(byte[] file, string marker, int skip, params byte[] bytes)
    {
        int at = file.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker));
        Assert.True(at >= 0);
        bytes.CopyTo(file, at + skip);
        return file;
    }

    [Fact]
    public void MissingFileIsReportedByPath()
    {
        string path = Path.Combine(_dir, "nope.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => Safetensors.Load(ConvBn(1), path));
        Assert.Contains(path, e.Message);
    }
}
