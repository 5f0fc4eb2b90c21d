using System.Globalization;
using System.Text;

namespace Truss.Clip.Tests.Properties.Shared;

/// <summary>
/// Helpers for the neutral value tree that both wire formats read into (null, bool, long, double, string,
/// <c>byte[]</c>, <see cref="List{T}"/> of values, <see cref="OrderedDictionary{TKey,TValue}"/> of string to value).
/// </summary>
/// <remarks>Shared, as source, with the fuzz project, which uses the same equality for its write-then-read checks.</remarks>
internal static class ValueTree
{
    /// <summary>
    /// Structural equality that is stricter than <c>Equals</c> where the wire formats could silently drift: the runtime
    /// types must match (a <see cref="long"/> 1 is not a <see cref="double"/> 1.0), doubles compare by bit pattern
    /// (so -0.0 is not 0.0), and maps compare in key order (the reader keeps insertion order, as Python's dict does).
    /// </summary>
    public static bool DeepEquals(object? expected, object? actual)
    {
        switch (expected)
        {
            case null:
                return actual is null;
            case double d:
                return actual is double e && BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(e);
            case byte[] bytes:
                return actual is byte[] other && bytes.AsSpan().SequenceEqual(other);
            case List<object?> list:
                return actual is List<object?> otherList && list.Count == otherList.Count
                    && list.Zip(otherList).All(pair => DeepEquals(pair.First, pair.Second));
            case OrderedDictionary<string, object?> map:
                if (actual is not OrderedDictionary<string, object?> otherMap || map.Count != otherMap.Count)
                {
                    return false;
                }

                for (int i = 0; i < map.Count; i++)
                {
                    var (key, value) = map.GetAt(i);
                    var (otherKey, otherValue) = otherMap.GetAt(i);
                    if (!string.Equals(key, otherKey, StringComparison.Ordinal) || !DeepEquals(value, otherValue))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return actual is not null && expected.GetType() == actual.GetType() && expected.Equals(actual);
        }
    }

    /// <summary>Whether the tree holds a NaN or infinite double, which the JSON reader rejects by design.</summary>
    public static bool HasNonFinite(object? value) => value switch
    {
        double d => !double.IsFinite(d),
        List<object?> list => list.Any(HasNonFinite),
        OrderedDictionary<string, object?> map => map.Values.Any(HasNonFinite),
        _ => false,
    };

    /// <summary>Whether the tree holds raw bytes, which exist in msgpack only.</summary>
    public static bool HasBytes(object? value) => value switch
    {
        byte[] => true,
        List<object?> list => list.Any(HasBytes),
        OrderedDictionary<string, object?> map => map.Values.Any(HasBytes),
        _ => false,
    };

    /// <summary>A short, readable rendering for failure messages (types shown, long strings and lists elided).</summary>
    public static string Describe(object? value, int budget = 400)
    {
        var builder = new StringBuilder();
        Append(builder, value, budget);
        return builder.Length > budget ? builder.ToString(0, budget) + "…" : builder.ToString();
    }

    private static void Append(StringBuilder builder, object? value, int budget)
    {
        if (builder.Length > budget)
        {
            return;
        }

        switch (value)
        {
            case null:
                builder.Append("null");
                break;
            case string s:
                builder.Append('"').Append(s.Length > 40 ? s[..40] + $"…({s.Length} chars)" : s).Append('"');
                break;
            case double d:
                builder.Append(d.ToString("R", CultureInfo.InvariantCulture)).Append('d');
                break;
            case long l:
                builder.Append(l.ToString(CultureInfo.InvariantCulture)).Append('L');
                break;
            case byte[] bytes:
                builder.Append("bytes[").Append(bytes.Length).Append(']');
                break;
            case List<object?> list:
                builder.Append('[');
                foreach (var item in list)
                {
                    Append(builder, item, budget);
                    builder.Append(", ");
                }

                builder.Append(']');
                break;
            case OrderedDictionary<string, object?> map:
                builder.Append('{');
                foreach (var (key, item) in map)
                {
                    builder.Append('"').Append(key).Append("\": ");
                    Append(builder, item, budget);
                    builder.Append(", ");
                }

                builder.Append('}');
                break;
            default:
                builder.Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append(" (").Append(value.GetType().Name).Append(')');
                break;
        }
    }
}
