// Reader for the IDX format of (Fashion-)MNIST, gzip-compressed as distributed: a big-endian magic
// 0x0000TTDD (TT = element type, 0x08 = unsigned byte; DD = number of dimensions), DD big-endian int32
// dimensions, then the elements row-major. Only unsigned-byte files are needed and supported.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Authoring.Runtime.Data;

/// <summary>Reads gzip-compressed IDX files of unsigned bytes.</summary>
public static class Idx
{
    /// <summary>Magic of a 1-D unsigned-byte IDX file (labels).</summary>
    public const int LabelsMagic = 0x00000801;
    /// <summary>Magic of a 3-D unsigned-byte IDX file (images: count, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Reads a gzip IDX file whose magic must be <paramref name="expectedMagic"/>.</summary>
    /// <param name="path">The .gz file.</param>
    /// <param name="expectedMagic"><see cref="LabelsMagic"/> or <see cref="ImagesMagic"/> (any 0x000008DD works).</param>
    /// <param name="dims">The dimensions from the header.</param>
    /// <returns>The elements, row-major.</returns>
    /// <exception cref="InvalidDataException">Wrong magic, truncated data, trailing data or a corrupt gzip stream; the message names the file.</exception>
    public static byte[] Read(string path, int expectedMagic, out int[] dims)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if ((expectedMagic & ~0xFF) != 0x0800)
            throw new ArgumentOutOfRangeException(nameof(expectedMagic), $"0x{expectedMagic:X8} is not an unsigned-byte IDX magic (0x000008NN).");
        try
        {
            using var file = File.OpenRead(path);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            Span<byte> word = stackalloc byte[4];
            if (gz.ReadAtLeast(word, 4, throwOnEndOfStream: false) < 4)
                throw new InvalidDataException($"{path}: too short for an IDX header.");
            int magic = BinaryPrimitives.ReadInt32BigEndian(word);
            if (magic != expectedMagic)
                throw new InvalidDataException($"{path}: IDX magic is 0x{magic:X8}, expected 0x{expectedMagic:X8} ({Describe(expectedMagic)}).");
            dims = new int[expectedMagic & 0xFF];
            long total = 1;
            for (int i = 0; i < dims.Length; i++)
            {
                if (gz.ReadAtLeast(word, 4, throwOnEndOfStream: false) < 4)
                    throw new InvalidDataException($"{path}: truncated IDX header (dimension {i} missing).");
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(word);
                if (dims[i] < 0) throw new InvalidDataException($"{path}: dimension {i} is negative ({dims[i]}).");
                total *= dims[i];
                if (total > Array.MaxLength) throw new InvalidDataException($"{path}: dimensions {string.Join(" x ", dims[..(i + 1)])} are too large.");
            }
            var data = new byte[total];
            int got = gz.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (got < data.Length)
                throw new InvalidDataException($"{path}: truncated: header promises {total} bytes ({string.Join(" x ", dims)}) but only {got} follow.");
            if (gz.ReadByte() >= 0)
                throw new InvalidDataException($"{path}: unexpected data after the {total} bytes the header promises ({string.Join(" x ", dims)}).");
            return data;
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // GZipStream's own corruption errors do not say which file.
            throw new InvalidDataException($"{path}: not a valid gzip file ({e.Message}).", e);
        }
    }

    /// <summary>Reads a gzip IDX label file (magic 0x00000801).</summary>
    public static byte[] ReadLabels(string path) => Read(path, LabelsMagic, out _);

    /// <summary>Reads a gzip IDX image file (magic 0x00000803) of <paramref name="count"/> images of <paramref name="rows"/> x <paramref name="columns"/> pixels.</summary>
    public static byte[] ReadImages(string path, out int count, out int rows, out int columns)
    {
        var data = Read(path, ImagesMagic, out var dims);
        (count, rows, columns) = (dims[0], dims[1], dims[2]);
        return data;
    }

    static string Describe(int magic) => magic switch
    {
        LabelsMagic => "unsigned-byte labels, 1 dimension",
        ImagesMagic => "unsigned-byte images, 3 dimensions",
        _ => $"unsigned bytes, {magic & 0xFF} dimensions",
    };
}
