using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;

namespace Truss.Server.Serialization;

/// <summary>
/// Writes a result the way the Python truss server does (<c>json.dumps</c> with its defaults), so that responses are
/// byte-identical to the Python CLIP truss: separators <c>", "</c> and <c>": "</c>, <c>ensure_ascii</c> escaping,
/// Python's float repr (<c>1e-05</c>, <c>1.0</c>, <c>NaN</c>), and <see cref="float"/> values written as their
/// widened double (numpy float32 → <c>0.9876543283462524</c>).
/// </summary>
/// <remarks>
/// Hand-written because System.Text.Json cannot produce Python's separators, float repr or NaN literals.
/// Anything that is not a JSON-like value (for example <c>byte[]</c>) raises
/// <see cref="ResultSerializationException"/>, as <c>json.dumps</c> raises TypeError.
/// </remarks>
public static class PythonJsonWriter
{
    private const int MaxDepth = 256;

    /// <summary>Serializes <paramref name="value"/> into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, object? value) => WriteValue(output, value, 0);

    /// <summary>Serializes <paramref name="value"/> to a string (tests, CLI output).</summary>
    public static string Serialize(object? value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, value);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Python's <c>repr(float)</c>: shortest round-trip digits, exponent form when exp &lt; -4 or ≥ 16.</summary>
    public static string FormatDouble(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        if (value == 0)
        {
            return double.IsNegative(value) ? "-0.0" : "0.0";
        }

        // "E16" is not shortest; "R" is, so take its digits and exponent and lay them out Python's way.
        var roundTrip = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = roundTrip[0] == '-';
        var body = negative ? roundTrip[1..] : roundTrip;
        var exponent = 0;
        var e = body.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }

        var dot = body.IndexOf('.');
        var digits = dot >= 0 ? body[..dot] + body[(dot + 1)..] : body;
        var pointPosition = (dot >= 0 ? dot : body.Length) + exponent; // digits before the decimal point
        var leadingZeros = 0;
        while (leadingZeros < digits.Length - 1 && digits[leadingZeros] == '0')
        {
            leadingZeros++;
        }

        digits = digits[leadingZeros..].TrimEnd('0');
        pointPosition -= leadingZeros;
        if (digits.Length == 0)
        {
            digits = "0";
        }

        var decimalExponent = pointPosition - 1;
        var builder = new StringBuilder(32);
        if (negative)
        {
            builder.Append('-');
        }

        if (decimalExponent < -4 || decimalExponent >= 16)
        {
            builder.Append(digits[0]);
            if (digits.Length > 1)
            {
                builder.Append('.').Append(digits, 1, digits.Length - 1);
            }

            builder.Append('e').Append(decimalExponent < 0 ? '-' : '+')
                .Append(Math.Abs(decimalExponent).ToString("00", CultureInfo.InvariantCulture));
        }
        else if (pointPosition <= 0)
        {
            builder.Append("0.").Append('0', -pointPosition).Append(digits);
        }
        else if (pointPosition >= digits.Length)
        {
            builder.Append(digits).Append('0', pointPosition - digits.Length).Append(".0");
        }
        else
        {
            builder.Append(digits, 0, pointPosition).Append('.').Append(digits, pointPosition, digits.Length - pointPosition);
        }

        return builder.ToString();
    }

    private static void WriteValue(IBufferWriter<byte> output, object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ResultSerializationException("ValueError: Circular reference detected");
        }

        switch (value)
        {
            case null:
                WriteAscii(output, "null");
                break;
            case bool b:
                WriteAscii(output, b ? "true" : "false");
                break;
            case string s:
                WriteString(output, s);
                break;
            case double d:
                WriteAscii(output, FormatDouble(d));
                break;
            case float f:
                WriteAscii(output, FormatDouble(f));
                break;
            case Half h:
                WriteAscii(output, FormatDouble((double)h));
                break;
            case decimal m:
                WriteAscii(output, FormatDouble((double)m));
                break;
            case long or int or short or sbyte or byte or ushort or uint or ulong:
                WriteAscii(output, Convert.ToString(value, CultureInfo.InvariantCulture)!);
                break;
            case byte[]:
                throw new ResultSerializationException("TypeError: Object of type bytes is not JSON serializable");
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                WriteObject(output, pairs, depth);
                break;
            case IDictionary dictionary:
                WriteDictionary(output, dictionary, depth);
                break;
            case IEnumerable sequence:
                WriteArray(output, sequence, depth);
                break;
            default:
                throw new ResultSerializationException(
                    $"TypeError: Object of type {value.GetType().Name} is not JSON serializable");
        }
    }

    private static void WriteObject(IBufferWriter<byte> output, IEnumerable<KeyValuePair<string, object?>> pairs, int depth)
    {
        WriteAscii(output, "{");
        var first = true;
        foreach (var (key, item) in pairs)
        {
            if (!first)
            {
                WriteAscii(output, ", ");
            }

            first = false;
            WriteString(output, key);
            WriteAscii(output, ": ");
            WriteValue(output, item, depth + 1);
        }

        WriteAscii(output, "}");
    }

    private static void WriteDictionary(IBufferWriter<byte> output, IDictionary dictionary, int depth)
    {
        WriteAscii(output, "{");
        var first = true;
        foreach (DictionaryEntry entry in dictionary)
        {
            if (entry.Key is not string key)
            {
                throw new ResultSerializationException(
                    $"TypeError: keys must be str, int, float, bool or None, not {entry.Key.GetType().Name}");
            }

            if (!first)
            {
                WriteAscii(output, ", ");
            }

            first = false;
            WriteString(output, key);
            WriteAscii(output, ": ");
            WriteValue(output, entry.Value, depth + 1);
        }

        WriteAscii(output, "}");
    }

    private static void WriteArray(IBufferWriter<byte> output, IEnumerable sequence, int depth)
    {
        WriteAscii(output, "[");
        var first = true;
        foreach (var item in sequence)
        {
            if (!first)
            {
                WriteAscii(output, ", ");
            }

            first = false;
            WriteValue(output, item, depth + 1);
        }

        WriteAscii(output, "]");
    }

    private static void WriteString(IBufferWriter<byte> output, string value)
    {
        // ensure_ascii: everything outside ' '..'~' is escaped, astral characters as surrogate pairs (UTF-16 units).
        var span = output.GetSpan(value.Length + 2);
        var written = 0;
        span[written++] = (byte)'"';
        foreach (var c in value)
        {
            if (span.Length - written < 8)
            {
                output.Advance(written);
                span = output.GetSpan(Math.Max(64, value.Length));
                written = 0;
            }

            switch (c)
            {
                case '"':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'"';
                    break;
                case '\\':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'\\';
                    break;
                case '\n':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'n';
                    break;
                case '\r':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'r';
                    break;
                case '\t':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'t';
                    break;
                case '\b':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'b';
                    break;
                case '\f':
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'f';
                    break;
                case >= ' ' and <= '~':
                    span[written++] = (byte)c;
                    break;
                default:
                    span[written++] = (byte)'\\';
                    span[written++] = (byte)'u';
                    ((int)c).TryFormat(span[written..], out _, "x4", CultureInfo.InvariantCulture);
                    written += 4;
                    break;
            }
        }

        if (span.Length - written < 1)
        {
            output.Advance(written);
            span = output.GetSpan(1);
            written = 0;
        }

        span[written++] = (byte)'"';
        output.Advance(written);
    }

    private static void WriteAscii(IBufferWriter<byte> output, string ascii)
    {
        var span = output.GetSpan(ascii.Length);
        for (var i = 0; i < ascii.Length; i++)
        {
            span[i] = (byte)ascii[i];
        }

        output.Advance(ascii.Length);
    }
}

/// <summary>The model returned something the wire format cannot carry (answered 500, error code 500).</summary>
public sealed class ResultSerializationException(string message) : Exception(message);
