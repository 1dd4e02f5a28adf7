// A minimal protocol-buffers encoder, enough to write ONNX's ModelProto and the messages inside it
// (https://protobuf.dev/programming-guides/encoding/): varints, 32-bit floats, length-delimited bytes,
// strings and nested messages, packed repeated integers. Nested messages are encoded into their own
// writer first, because a length-delimited field needs its length before its bytes. Export runs once
// per model, so clarity wins over speed here; no dependency on a protobuf library.
using System.Buffers.Binary;
using System.Text;

namespace Authoring.Runtime.Onnx;

/// <summary>Appends protobuf-encoded fields to a growable buffer.</summary>
internal sealed class ProtoWriter
{
    const int Varint = 0, Fixed32 = 5, LengthDelimited = 2;

    byte[] _buf = new byte[64];
    int _len;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _len);

    /// <summary>An int64 (or int32, enum, bool) field as a varint; negative values take ten bytes, as protobuf's int64.</summary>
    public ProtoWriter Int64(int field, long value)
    {
        Tag(field, Varint);
        WriteVarint((ulong)value);
        return this;
    }

    /// <summary>A float field (fixed 32 bits, little-endian).</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, Fixed32);
        Span<byte> b = Reserve(4);
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        return this;
    }

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        value.CopyTo(Reserve(value.Length));
        return this;
    }

    /// <summary>A string field (UTF-8).</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>An embedded message field.</summary>
    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.Written);

    /// <summary>A repeated int64 field, packed (parsers accept packed encoding for every repeated scalar field).</summary>
    public ProtoWriter PackedInt64(int field, ReadOnlySpan<long> values)
    {
        if (values.IsEmpty) return this;
        var inner = new ProtoWriter();
        foreach (long v in values) inner.WriteVarint((ulong)v);
        return Bytes(field, inner.Written);
    }

    /// <summary>A repeated float field, packed.</summary>
    public ProtoWriter PackedFloat(int field, ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return this;
        var bytes = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        return Bytes(field, bytes);
    }

    void Tag(int field, int wireType) => WriteVarint((ulong)((uint)field << 3 | (uint)wireType));

    void WriteVarint(ulong v)
    {
        while (v >= 0x80)
        {
            Reserve(1)[0] = (byte)(v | 0x80);
            v >>= 7;
        }
        Reserve(1)[0] = (byte)v;
    }

    Span<byte> Reserve(int n)
    {
        if (_len + n > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        var s = _buf.AsSpan(_len, n);
        _len += n;
        return s;
    }
}
