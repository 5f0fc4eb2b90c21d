using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// FsCheck generators for the inputs the server parses: neutral value trees, JSON-ish text, raw bytes and mutation
/// recipes. Built from <see cref="Gen"/> combinators (not <c>System.Random</c>) so that a property's
/// <c>Replay</c> seed reproduces every case exactly.
/// </summary>
internal static class Generators
{
    /// <summary>Any 32-bit integer, uniformly (FsCheck's default int generator stays near zero).</summary>
    public static Gen<int> AnyInt { get; } = Gen.Choose(int.MinValue, int.MaxValue);

    /// <summary>Non-negative integers for <see cref="Mutation"/> operands.</summary>
    public static Gen<int> Operand { get; } = Gen.Choose(0, int.MaxValue);

    /// <summary>Longs: small ones (pixel values), the edges, and full-range bit patterns.</summary>
    public static Gen<long> Int64 { get; } = Gen.Frequency(
        (4, Gen.Choose(-300, 1100).Select(i => (long)i)),
        (2, Gen.Zip(AnyInt, AnyInt, (high, low) => ((long)high << 32) | (uint)low)),
        (1, Gen.Elements(long.MinValue, long.MaxValue, long.MinValue + 1, long.MaxValue - 1, int.MinValue, int.MaxValue, (long)int.MaxValue + 1, 1L << 53, (1L << 53) + 1)));

    /// <summary>
    /// Finite doubles: integral ones (which must still come back as doubles), decimal fractions, the exponent-form
    /// edges of Python's repr (1e-05, 1e+16), subnormals, extremes, negative zero, and arbitrary bit patterns.
    /// </summary>
    public static Gen<double> FiniteDouble { get; } = Gen.Frequency(
        (3, Gen.Zip(Gen.Choose(-100_000, 100_000), Gen.Choose(1, 1000), (n, d) => (double)n / d)),
        (2, Gen.Zip(AnyInt, AnyInt, (high, low) => BitConverter.Int64BitsToDouble(((long)high << 32) | (uint)low)).Where(double.IsFinite)),
        (2, Gen.Elements(
            0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 255.0, 1e-5, 0.0001, 1e-4 * 0.99, 1e16, 9999999999999998.0, 1e15, 1e22, 1e23, 123456789.125,
            double.Epsilon, -double.Epsilon, double.MaxValue, double.MinValue, 2.2250738585072014e-308, 0.9876543283462524,
            (double)float.MaxValue, 1.0 / 3.0, 5e-324, 9007199254740993.0)),
        (1, Gen.Zip(Gen.Choose(-400, 400), Gen.Choose(1, 99), (exponent, mantissa) => mantissa * Math.Pow(10, exponent)).Where(double.IsFinite)));

    /// <summary>Characters that are whole Unicode scalar values on their own or as a surrogate pair.</summary>
    public static Gen<string> ScalarText { get; } = Gen.Frequency(
        (6, Gen.Choose(0x20, 0x7E).Select(c => ((char)c).ToString())),
        (2, Gen.Choose(0x00, 0x1F).Select(c => ((char)c).ToString())),
        (2, Gen.Elements('"', '\\', '/', '\u007f', '\u0085', '\u00a0', '\u2028', '\u2029', '\ufeff', '\ufffd', 'é', 'ß', '€').Select(c => c.ToString())),
        (2, Gen.Choose(0x80, 0xD7FF).Select(c => ((char)c).ToString())),
        (1, Gen.Choose(0xE000, 0xFFFF).Select(c => ((char)c).ToString())),
        (1, Gen.Choose(0x10000, 0x10FFFF).Select(char.ConvertFromUtf32)));

    /// <summary>Well-formed UTF-16 strings (no lone surrogates), mostly short, sometimes a few thousand characters.</summary>
    public static Gen<string> WellFormedString { get; } = Gen.Frequency(
        (8, Gen.Choose(0, 12).SelectMany(n => Gen.ListOf(ScalarText, n)).Select(parts => string.Concat(parts))),
        (1, Gen.Zip(Gen.Choose(100, 3000), ScalarText, (n, unit) => string.Concat(Enumerable.Repeat(unit, n)))));

    /// <summary>Arbitrary UTF-16 strings, lone surrogates included (what a .NET model could hand the writer).</summary>
    public static Gen<string> AnyUtf16String { get; } = Gen.Frequency(
        (3, WellFormedString),
        (1, Gen.Choose(0, 10).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 0xFFFF).Select(c => (char)c), n)).Select(chars => new string(chars))));

    /// <summary>Map keys: mostly short, including the request's own field names so that trees look like requests.</summary>
    public static Gen<string> Key { get; } = Gen.Frequency(
        (3, Gen.Elements("labels", "image", "image_url", "image_base64", "a", "", " ", "é", "😀", "__proto__")),
        (2, WellFormedString));

    /// <summary>Random bytes, length 0 to 200, sometimes behind a UTF-8 BOM (which the JSON reader skips).</summary>
    public static Gen<byte[]> Bytes { get; } = Gen.Choose(0, 200)
        .SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), n))
        .SelectMany(bytes => Gen.Elements(bytes, [0xEF, 0xBB, 0xBF, .. bytes]));

    /// <summary>Any mutation; positions and table indexes are full-range and reduced by <see cref="ByteMutator.Apply"/>.</summary>
    public static Gen<Mutation> Mutation { get; } =
        from kind in Gen.Elements(Enum.GetValues<MutationKind>())
        from a in Operand
        from b in Operand
        from c in Operand
        select new Mutation(kind, a, b, c);

    /// <summary>1 to <paramref name="max"/> stacked mutations.</summary>
    public static Gen<Mutation[]> Mutations(int max) => Gen.Choose(1, max).SelectMany(n => Gen.ArrayOf(Mutation, n));

    /// <summary>
    /// A neutral value tree of depth at most 4: null, bool, long, finite double, string (and <c>byte[]</c> when
    /// <paramref name="withBytes"/>), lists and string-keyed ordered maps. Doubles are finite because NaN and
    /// Infinity do not survive the JSON reader (by design), and strings well-formed because lone surrogates do not
    /// survive UTF-8.
    /// </summary>
    public static Gen<object?> Tree(bool withBytes) => Gen.Sized(size => Tree(Math.Min(size, 24), depth: 4, withBytes));

    /// <summary>A leaf value of the tree (no containers).</summary>
    public static Gen<object?> Leaf(bool withBytes)
    {
        var leaves = new List<(int, Gen<object?>)>
        {
            (1, Gen.Constant<object?>(null)),
            (1, Gen.Elements<object?>(true, false)),
            (3, Int64.Select(v => (object?)v)),
            (3, FiniteDouble.Select(v => (object?)v)),
            (3, WellFormedString.Select(v => (object?)v)),
        };
        if (withBytes)
        {
            leaves.Add((1, Gen.Choose(0, 40).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), n)).Select(v => (object?)v)));
        }

        return Gen.Frequency(leaves);
    }

    /// <summary>
    /// JSON-ish text: a soup of JSON tokens, numbers at the edges of long/double, escapes (including lone
    /// surrogate escapes), literals JSON does not have (NaN, comments, single quotes), deep nesting and stray
    /// non-UTF-8 bytes. Mostly invalid, sometimes valid; the point is to walk the reader's error paths.
    /// </summary>
    public static Gen<byte[]> JsonSoup { get; } = Gen.Choose(0, 40)
        .SelectMany(n => Gen.ListOf(JsonFragment, n))
        .Select(parts => parts.SelectMany(p => p).ToArray());

    /// <summary>A valid JSON document (a generated tree in Python's format) with 1 to 4 byte-level mutations.</summary>
    public static Gen<byte[]> MutatedJson { get; } =
        from tree in Tree(withBytes: false)
        from mutations in Mutations(4)
        select mutations.Aggregate(
            Encoding.UTF8.GetBytes(PythonJsonWriter.Serialize(tree)),
            (bytes, mutation) => ByteMutator.Apply(bytes, mutation, [], ByteMutator.JsonTokens));

    private static Gen<byte[]> JsonFragment { get; } = Gen.Frequency(
        (6, Gen.Elements(ByteMutator.JsonTokens.ToArray())),
        (3, Gen.Elements(" ", ",", ":", "\n", "{", "}", "[", "]", "\"", "'", "a", "e", "E", "+", "-", ".", "0", "1", "9", "\\u", "u", "tru", "nul").Select(Encoding.UTF8.GetBytes)),
        (2, WellFormedString.Select(s => Encoding.UTF8.GetBytes(PythonJsonWriter.Serialize(s)))),
        (2, FiniteDouble.Select(d => Encoding.UTF8.GetBytes(PythonJsonWriter.FormatDouble(d)))),
        (1, Gen.Choose(0x80, 0xFF).Select(b => new[] { (byte)b })),
        (1, Gen.Elements<byte[]>([0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xEF, 0xBB, 0xBF], [0x00])),
        (1, Gen.Choose(1, 200).Select(n => Encoding.ASCII.GetBytes(new string('[', n)))),
        (1, Gen.Choose(1, 400).Select(n => Encoding.ASCII.GetBytes(new string('9', n)))));

    private static Gen<object?> Tree(int size, int depth, bool withBytes)
    {
        var leaf = Leaf(withBytes);
        if (depth == 0 || size <= 1)
        {
            return leaf;
        }

        var child = Tree(size / 2, depth - 1, withBytes);
        var list = Gen.Choose(0, Math.Min(size, 8))
            .SelectMany(n => Gen.ListOf(child, n))
            .Select(items => (object?)new List<object?>(items));
        var map = Gen.Choose(0, Math.Min(size, 6))
            .SelectMany(n => Gen.ListOf(Gen.Zip(Key, child), n))
            .Select(pairs =>
            {
                var result = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, value) in pairs)
                {
                    result[key] = value;
                }

                return (object?)result;
            });
        return Gen.Frequency((4, leaf), (2, list), (2, map));
    }
}
