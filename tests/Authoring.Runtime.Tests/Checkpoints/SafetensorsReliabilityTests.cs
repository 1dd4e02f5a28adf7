// Checkpoints under stress: concurrent saves and loads on one path (real threads), failed saves, files
// past 2 and 4 GiB (offsets tested with a synthetic stream; a real round trip behind
// AUTHORING_LARGE_CHECKPOINT_TEST=1), and the non-finite check with its opt-out.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;
using Xunit.Abstractions;

namespace Authoring.Runtime.Tests.Checkpoints;

public sealed class SafetensorsReliabilityTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("safetensors-reliability-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static ParameterStore Store(int length, float fill)
    {
        var s = new ParameterStore(
        [
            new ParameterInfo("a.weight", [length / 2], ParameterRole.Weight, InitKind.Zeros, 1, 1),
            new ParameterInfo("b.weight", [length - length / 2], ParameterRole.Weight, InitKind.Zeros, 1, 1),
        ]);
        Array.Fill(s.Values, fill);
        return s;
    }

    [Fact]
    public void TwoWritersAndAReaderOnOnePathNeverClashAndNeverSeeAPartialFile()
    {
        // Each save holds one value everywhere: writer w's round r writes w * 100000 + r. A file mixing two saves, or
        // a partial one, shows as two different values, a metadata/value disagreement or an InvalidDataException.
        const int Rounds = 1000, Length = 1024;
        string path = Path.Combine(_dir, "shared.safetensors");
        Safetensors.Save(Store(Length, 0), path, new Dictionary<string, string> { ["value"] = "0" });
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int loads = 0;
        using var done = new CountdownEvent(2);
        var clock = Stopwatch.StartNew();

        Thread Writer(int w) => new(() =>
        {
            try
            {
                var store = Store(Length, 0);
                for (int r = 1; r <= Rounds; r++)
                {
                    float v = w * 100000 + r;
                    Array.Fill(store.Values, v);
                    Safetensors.Save(store, path, new Dictionary<string, string> { ["value"] = v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) });
                }
            }
            catch (Exception e) { errors.Enqueue($"writer {w}: {e}"); }
            finally { done.Signal(); }
        });
        var reader = new Thread(() =>
        {
            var store = Store(Length, -1);
            while (!done.IsSet)
            {
                try
                {
                    var meta = Safetensors.Load(store, path);
                    float first = store.Values[0];
                    if (Array.Exists(store.Values, x => x != first)) errors.Enqueue($"load {loads}: a file mixing two saves");
                    if (meta["value"] != first.ToString("R", System.Globalization.CultureInfo.InvariantCulture))
                        errors.Enqueue($"load {loads}: metadata {meta["value"]} with values {first}");
                    loads++;
                }
                catch (Exception e) { errors.Enqueue($"reader: {e.GetType().Name}: {e.Message}"); }
            }
        });
        var writers = new[] { Writer(1), Writer(2) };
        reader.Start();
        foreach (var t in writers) t.Start();
        foreach (var t in writers) t.Join();
        reader.Join();
        output.WriteLine($"{2 * Rounds} saves and {loads} loads in {clock.Elapsed.TotalSeconds:F1} s");

        Assert.True(errors.IsEmpty, $"{errors.Count} errors, the first: " + string.Join("\n", errors.Take(5)));
        Assert.True(loads > 50, $"only {loads} loads overlapped the writers");
        // The last rename won: the file is one writer's final save, and no temporary file is left.
        var last = Store(Length, -1);
        Safetensors.Load(last, path);
        Assert.Contains(last.Values[0], new[] { 100000f + Rounds, 200000f + Rounds });
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void AFailedSaveLeavesTheOldFileAndNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "keep.safetensors");
        Safetensors.Save(Store(10, 1f), path);
        byte[] before = File.ReadAllBytes(path);

        // Fails half-way through writing the data.
        var e = Assert.Throws<IOException>(() => Safetensors.SaveAtomic(path, s =>
        {
            s.Write(new byte[100]);
            throw new IOException("disk full (simulated)");
        }));
        Assert.Equal("disk full (simulated)", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));

        // Fails before writing anything: an invalid tensor name.
        var bad = new ParameterStore([new ParameterInfo("__metadata__", [1], ParameterRole.Weight, InitKind.Zeros, 1, 1)]);
        Assert.Throws<InvalidOperationException>(() => Safetensors.Save(bad, path));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void TemporaryFilesAreUniqueAndHiddenBesideTheTarget()
    {
        string path = Path.Combine(_dir, "t.safetensors");
        var seen = new List<string>();
        for (int i = 0; i < 3; i++)
            Safetensors.SaveAtomic(path, s =>
            {
                var temp = Directory.GetFiles(_dir, ".t.safetensors.*.tmp");
                Assert.Single(temp);
                seen.Add(temp[0]);
                s.WriteByte(1);
            });
        Assert.Equal(3, seen.Distinct().Count());
        Assert.DoesNotContain(path + ".tmp", seen);
    }

    [Fact]
    public void NonFiniteValuesLoadWhenAllowed()
    {
        var source = Store(6, 2f);
        source.Values[1] = float.NaN;
        source.Values[4] = float.NegativeInfinity;
        string path = Path.Combine(_dir, "nan.safetensors");
        Safetensors.Save(source, path);

        var target = Store(6, 0f);
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(target, path));
        Assert.Contains(path, e.Message);
        Assert.Contains("tensor 'a.weight' holds 1 non-finite value (the first, NaN, at index 1)", e.Message);
        Assert.Contains("allowNonFinite: true", e.Message);
        Assert.All(target.Values, v => Assert.Equal(0f, v));

        Safetensors.Load(target, path, allowNonFinite: true);
        Assert.Equal(source.Values, target.Values);
    }

    /// <summary>A read-only stream of <see cref="Length"/> bytes: <paramref name="prefix"/>, zeros, then <paramref name="suffix"/>
    /// at the end, generated on the fly, so a multi-GiB file costs no memory.</summary>
    sealed class SyntheticStream(byte[] prefix, long length, byte[] suffix) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get; set; }
        public long MaxReadPosition { get; private set; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, length - Position);
            for (int i = 0; i < n; i++)
            {
                long p = Position + i;
                buffer[i] = p < prefix.Length ? prefix[p] : p >= length - suffix.Length ? suffix[p - (length - suffix.Length)] : (byte)0;
            }
            Position += n;
            MaxReadPosition = Math.Max(MaxReadPosition, Position);
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            _ => length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    static byte[] Header(string json)
    {
        var h = Encoding.UTF8.GetBytes(json);
        int n = (h.Length + 7) & ~7;
        var b = new byte[8 + n];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)n);
        b.AsSpan(8).Fill((byte)' ');
        h.CopyTo(b, 8);
        return b;
    }

    [Fact]
    public void ReadsATensorStoredBeyondFourGibibytes()
    {
        // A PyTorch-style file whose first tensor is an ignored 4.8 GB counter: the model's tensor starts at data
        // byte 4,800,000,000, past both the int and the uint range.
        const long Big = 600_000_000L * 8;
        var store = new ParameterStore([new ParameterInfo("w", [3], ParameterRole.Weight, InitKind.Zeros, 1, 1)]);
        var header = Header($"{{\"huge.num_batches_tracked\":{{\"dtype\":\"I64\",\"shape\":[600000000],\"data_offsets\":[0,{Big}]}}," +
                            $"\"w\":{{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[{Big},{Big + 12}]}}}}");
        var w = new byte[12];
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteSingleLittleEndian(w.AsSpan(4 * i), 1.5f + i);
        var stream = new SyntheticStream(header, header.Length + Big + 12, w);

        Safetensors.Load(store, stream);
        Assert.Equal([1.5f, 2.5f, 3.5f], store.Values);
        // Only the header and the model's own tensor were read, not the 4.8 GB in between.
        Assert.Equal(stream.Length, stream.MaxReadPosition);
    }

    [Fact]
    public void AHugeDeclaredTensorIsReportedAgainstTheModelWithoutOverflow()
    {
        // 3e9 floats (12 GB) declared: offsets and sizes beyond int range must compare correctly, and the mismatch
        // must be the model's shape, not an OverflowException.
        const long Bytes = 3_000_000_000L * 4;
        var store = new ParameterStore([new ParameterInfo("w", [2], ParameterRole.Weight, InitKind.Zeros, 1, 1)]);
        var header = Header($"{{\"w\":{{\"dtype\":\"F32\",\"shape\":[3000000000],\"data_offsets\":[0,{Bytes}]}}}}");
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(store, new SyntheticStream(header, header.Length + Bytes, [])));
        Assert.Contains("tensor 'w' has shape [3000000000]; the model expects [2]", e.Message);

        // One byte short of what the header declares: truncated, reported with 64-bit counts.
        e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(store, new SyntheticStream(header, header.Length + Bytes - 1, [])));
        Assert.Contains($"tensors need {Bytes} data bytes but only {Bytes - 1} follow the header", e.Message);
    }

    [Fact]
    public void HeadersOfTensorsPastTwoGibibytesCarry64BitOffsets()
    {
        // The header of a 2.4 GB + 4 GB save, built from tensor lengths alone (no data needed to write a header).
        var tensors = new[]
        {
            new TensorRef("a", [600_000_000], [], 0, 600_000_000),
            new TensorRef("b", [1_000_000_000], [], 0, 1_000_000_000),
        };
        string json = Encoding.UTF8.GetString(Safetensors.BuildHeader(tensors, null)).TrimEnd();
        Assert.Equal("{\"a\":{\"dtype\":\"F32\",\"shape\":[600000000],\"data_offsets\":[0,2400000000]}," +
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1000000000],\"data_offsets\":[2400000000,6400000000]}}", json);
    }

    [Fact]
    public void FloatsAreWrittenInBoundedChunks()
    {
        // The writer's chunking (2^18 floats in production; 3 here) is what keeps a > 2 GiB tensor from overflowing a span.
        var values = Enumerable.Range(0, 10).Select(i => i * 0.5f).ToArray();
        var sink = new RecordingStream();
        Safetensors.WriteFloats(sink, values, chunk: 3);
        Assert.Equal([12, 12, 12, 4], sink.Writes);
        var expected = new byte[40];
        for (int i = 0; i < 10; i++) BinaryPrimitives.WriteSingleLittleEndian(expected.AsSpan(4 * i), values[i]);
        Assert.Equal(expected, sink.ToArray());
    }

    sealed class RecordingStream : MemoryStream
    {
        public List<int> Writes { get; } = [];
        public override void Write(ReadOnlySpan<byte> buffer) { Writes.Add(buffer.Length); base.Write(buffer); }
    }

    [Fact]
    public void RoundTripsAFileLargerThanTwoGibibytes()
    {
        // Opt-in (writes 2.2 GB and needs ~7 GB of memory): AUTHORING_LARGE_CHECKPOINT_TEST=1.
        if (Environment.GetEnvironmentVariable("AUTHORING_LARGE_CHECKPOINT_TEST") != "1")
        {
            output.WriteLine("skipped: set AUTHORING_LARGE_CHECKPOINT_TEST=1 to run the 2.2 GB round trip");
            return;
        }
        const int Length = 590_000_000; // 2.36e9 bytes of data
        var store = Store(Length, 0f);
        var v = store.Values;
        for (int i = 0; i < v.Length; i++) v[i] = i % 1000 * 0.25f - (i & 1);
        string path = Path.Combine(_dir, "large.safetensors");
        var clock = Stopwatch.StartNew();
        Safetensors.Save(store, path);
        long size = new FileInfo(path).Length;
        Assert.True(size > (1L << 31), $"{size} bytes");
        Array.Clear(v);
        Safetensors.Load(store, path);
        output.WriteLine($"{size:N0} bytes saved and loaded in {clock.Elapsed.TotalSeconds:F1} s");
        for (int i = 0; i < v.Length; i++)
            if (v[i] != i % 1000 * 0.25f - (i & 1)) Assert.Fail($"value {i} is {v[i]}");
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }
}
