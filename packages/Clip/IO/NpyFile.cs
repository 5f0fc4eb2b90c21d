using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Clip.IO;

/// <summary>A float32 array read from or written to a <c>.npy</c> file: C-order data plus its shape.</summary>
public sealed class NpyArray
{
    /// <summary>Wraps <paramref name="data"/> (not copied) with <paramref name="shape"/> (copied).</summary>
    /// <param name="data">Elements in C (row-major) order.</param>
    /// <param name="shape">Dimensions, each ≥ 0; empty for a scalar.</param>
    /// <exception cref="ArgumentException">The element count does not match the shape.</exception>
    public NpyArray(float[] data, ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        long count = NpyFile.ElementCount(shape);
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Shape ({NpyFile.FormatShape(shape)}) needs {count} elements, the data has {data.Length}.", nameof(data));
        }

        Data = data;
        Shape = shape.ToArray();
    }

    /// <summary>Dimensions, outermost first (numpy's <c>shape</c>).</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The elements in C order; owned by this instance's creator, not copied.</summary>
    public float[] Data { get; }
}

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files holding little-endian float32 (<c>&lt;f4</c>) arrays in C order, the format of
/// <c>np.save</c> for <c>np.float32</c> arrays. Used for reference tensors in tests and by the CLI to dump tensors.
/// </summary>
/// <remarks>
/// Reads format versions 1.0, 2.0 and 3.0 and accepts any key order, quoting and whitespace numpy produces in the
/// header dictionary; writes version 1.0 with the header padded so the data starts on a 64-byte boundary, as numpy
/// does. Other dtypes and Fortran order are rejected with <see cref="InvalidDataException"/>. Stateless and thread-safe.
/// </remarks>
public static class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a float32 <c>.npy</c> file.</summary>
    /// <param name="path">File path.</param>
    /// <returns>The array.</returns>
    /// <exception cref="InvalidDataException">Not an <c>.npy</c> file, or not a little-endian float32 C-order array.</exception>
    public static NpyArray ReadFloat32(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadFloat32(stream);
    }

    /// <summary>Reads a float32 <c>.npy</c> array from the current position of <paramref name="stream"/>.</summary>
    /// <param name="stream">A readable stream; left open, positioned after the array.</param>
    /// <returns>The array.</returns>
    /// <exception cref="InvalidDataException">Not an <c>.npy</c> file, or not a little-endian float32 C-order array.</exception>
    /// <exception cref="EndOfStreamException">The data is shorter than the header promises.</exception>
    public static NpyArray ReadFloat32(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> preamble = stackalloc byte[8];
        stream.ReadExactly(preamble);
        if (!preamble[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a .npy file: the \\x93NUMPY magic is missing.");
        }

        byte major = preamble[6];
        int headerLength;
        if (major == 1)
        {
            Span<byte> length = stackalloc byte[2];
            stream.ReadExactly(length);
            headerLength = length[0] | (length[1] << 8);
        }
        else if (major is 2 or 3)
        {
            Span<byte> length = stackalloc byte[4];
            stream.ReadExactly(length);
            headerLength = (int)Math.Min(BitConverter.ToUInt32(length), int.MaxValue);
            if (headerLength > 1 << 20)
            {
                throw new InvalidDataException($"The .npy header claims {headerLength} bytes; refusing more than 1 MiB.");
            }
        }
        else
        {
            throw new InvalidDataException($"Unsupported .npy format version {major}.{preamble[7]}.");
        }

        byte[] headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        (string descr, bool fortranOrder, int[] shape) = HeaderParser.Parse(header);

        if (descr != "<f4")
        {
            throw new InvalidDataException($"Only little-endian float32 ('<f4') arrays are supported, this one is '{descr}'.");
        }

        if (fortranOrder && shape.Length > 1)
        {
            throw new InvalidDataException("Fortran-order arrays are not supported; save with np.ascontiguousarray.");
        }

        long count = ElementCount(shape);
        if (count > Array.MaxLength)
        {
            throw new InvalidDataException($"The array ({FormatShape(shape)}) has too many elements ({count}).");
        }

        ThrowIfBigEndianHost();
        var data = new float[count];
        stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
        return new NpyArray(data, shape);
    }

    /// <summary>Writes a float32 array as a version 1.0 <c>.npy</c> file, replacing any existing file.</summary>
    /// <param name="path">File path.</param>
    /// <param name="data">Elements in C order.</param>
    /// <param name="shape">Dimensions; their product must equal <c>data.Length</c>.</param>
    /// <exception cref="ArgumentException">The element count does not match the shape.</exception>
    public static void WriteFloat32(string path, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        using var stream = File.Create(path);
        WriteFloat32(stream, data, shape);
    }

    /// <summary>Writes a float32 array in <c>.npy</c> version 1.0 format at the current position of <paramref name="stream"/>.</summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <param name="data">Elements in C order.</param>
    /// <param name="shape">Dimensions; their product must equal <c>data.Length</c>.</param>
    /// <exception cref="ArgumentException">The element count does not match the shape.</exception>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> data, ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(stream);
        long count = ElementCount(shape);
        if (count != data.Length)
        {
            throw new ArgumentException($"Shape ({FormatShape(shape)}) needs {count} elements, the data has {data.Length}.", nameof(data));
        }

        ThrowIfBigEndianHost();
        // numpy's own layout: a dict literal, then spaces and '\n' so that magic + version + length + header is a
        // multiple of 64 bytes.
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({FormatShape(shape)}), }}";
        const int PreambleLength = 10;
        int unpadded = PreambleLength + dict.Length + 1;
        int padding = (64 - (unpadded % 64)) % 64;
        int headerLength = dict.Length + padding + 1;
        if (headerLength > ushort.MaxValue)
        {
            throw new ArgumentException($"The shape has too many dimensions for a version 1.0 header ({shape.Length}).", nameof(shape));
        }

        byte[] preambleAndHeader = new byte[PreambleLength + headerLength];
        Magic.CopyTo(preambleAndHeader);
        preambleAndHeader[6] = 1;
        preambleAndHeader[7] = 0;
        preambleAndHeader[8] = (byte)headerLength;
        preambleAndHeader[9] = (byte)(headerLength >> 8);
        Encoding.ASCII.GetBytes(dict, preambleAndHeader.AsSpan(PreambleLength));
        preambleAndHeader.AsSpan(PreambleLength + dict.Length, padding).Fill((byte)' ');
        preambleAndHeader[^1] = (byte)'\n';
        stream.Write(preambleAndHeader);
        stream.Write(MemoryMarshal.AsBytes(data));
    }

    internal static long ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int dimension in shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"Negative dimension in shape ({FormatShape(shape)}).", nameof(shape));
            }

            count = checked(count * dimension);
        }

        return count;
    }

    /// <summary>Python tuple contents: "3, 224, 224", "5," for one dimension, "" for a scalar.</summary>
    internal static string FormatShape(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 1)
        {
            return shape[0].ToString(CultureInfo.InvariantCulture) + ",";
        }

        var builder = new StringBuilder();
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    private static void ThrowIfBigEndianHost()
    {
        // Data is copied as raw bytes; '<f4' then equals the host layout only on little-endian machines.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException(".npy float32 I/O assumes a little-endian host.");
        }
    }

    /// <summary>
    /// Parses the header dictionary, a Python literal such as
    /// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 224, 224), }</c>.
    /// </summary>
    private ref struct HeaderParser
    {
        private readonly ReadOnlySpan<char> _text;
        private int _position;

        private HeaderParser(ReadOnlySpan<char> text)
        {
            _text = text;
            _position = 0;
        }

        public static (string Descr, bool FortranOrder, int[] Shape) Parse(string header)
        {
            var parser = new HeaderParser(header);
            string? descr = null;
            bool? fortranOrder = null;
            int[]? shape = null;

            parser.Expect('{');
            while (!parser.TryConsume('}'))
            {
                string key = parser.ReadString();
                parser.Expect(':');
                switch (key)
                {
                    case "descr":
                        descr = parser.ReadString();
                        break;
                    case "fortran_order":
                        fortranOrder = parser.ReadBool();
                        break;
                    case "shape":
                        shape = parser.ReadShape();
                        break;
                    default:
                        throw parser.Error($"unexpected key '{key}'");
                }

                if (!parser.TryConsume(','))
                {
                    parser.Expect('}');
                    break;
                }
            }

            if (descr is null || fortranOrder is null || shape is null)
            {
                throw new InvalidDataException($"The .npy header lacks 'descr', 'fortran_order' or 'shape': {header.Trim()}");
            }

            return (descr, fortranOrder.Value, shape);
        }

        private string ReadString()
        {
            SkipWhitespace();
            if (_position >= _text.Length || _text[_position] is not ('\'' or '"'))
            {
                throw Error("expected a quoted string");
            }

            char quote = _text[_position++];
            int end = _text[_position..].IndexOf(quote);
            if (end < 0)
            {
                throw Error("unterminated string");
            }

            string value = _text.Slice(_position, end).ToString();
            _position += end + 1;
            return value;
        }

        private bool ReadBool()
        {
            SkipWhitespace();
            if (_text[_position..].StartsWith("True"))
            {
                _position += 4;
                return true;
            }

            if (_text[_position..].StartsWith("False"))
            {
                _position += 5;
                return false;
            }

            throw Error("expected True or False");
        }

        private int[] ReadShape()
        {
            Expect('(');
            var dimensions = new List<int>(4);
            while (!TryConsume(')'))
            {
                SkipWhitespace();
                int start = _position;
                while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
                {
                    _position++;
                }

                // numpy may write Python 2 longs ("3L") in old files.
                if (_position == start
                    || !int.TryParse(_text[start.._position], NumberStyles.None, CultureInfo.InvariantCulture, out int dimension))
                {
                    throw Error("expected a non-negative dimension");
                }

                TryConsume('L');
                dimensions.Add(dimension);
                if (!TryConsume(','))
                {
                    Expect(')');
                    break;
                }
            }

            return [.. dimensions];
        }

        private void Expect(char expected)
        {
            if (!TryConsume(expected))
            {
                throw Error($"expected '{expected}'");
            }
        }

        private bool TryConsume(char expected)
        {
            SkipWhitespace();
            if (_position < _text.Length && _text[_position] == expected)
            {
                _position++;
                return true;
            }

            return false;
        }

        private void SkipWhitespace()
        {
            while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
            {
                _position++;
            }
        }

        private readonly InvalidDataException Error(string what) =>
            new($"Malformed .npy header at offset {_position}: {what} in {_text.ToString().Trim()}");
    }
}
