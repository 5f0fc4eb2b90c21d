using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Truss.Server.Serialization;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="PythonJsonWriter"/>: whatever a model returns (without NaN/Infinity, which Python's
/// json also writes as non-standard literals), the response is valid JSON by an independent parser
/// (System.Text.Json) and pure ASCII (<c>ensure_ascii</c>), and floats are Python's repr.
/// </summary>
public class PythonJsonWriterProperties
{
    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Serialize_AnyTree_IsAsciiJsonAcceptedBySystemTextJson() =>
        Prop.ForAll(Generators.Tree(withBytes: false).ToArbitrary(), tree =>
        {
            var json = PythonJsonWriter.Serialize(tree);

            Assert.That(json.All(c => c is >= ' ' and <= '~'), Is.True, () => $"not printable ASCII: {json}");
            Assert.That(() => JsonDocument.Parse(json).Dispose(), Throws.Nothing, () => json);
        });

    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Serialize_AnyUtf16String_IsAsciiJsonStringThatDecodesBack() =>
        Prop.ForAll(Generators.AnyUtf16String.ToArbitrary(), text =>
        {
            // Lone surrogates included: a model can return any .NET string, and ensure_ascii escapes them as \udXXX.
            var json = PythonJsonWriter.Serialize(text);

            Assert.That(json.All(c => c is >= ' ' and <= '~'), Is.True, () => $"not printable ASCII: {json}");
            using var document = JsonDocument.Parse(json);
            if (!HasLoneSurrogate(text))
            {
                Assert.That(document.RootElement.GetString(), Is.EqualTo(text));
            }
        });

    [Property(MaxTest = 500, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property FormatDouble_FiniteDouble_IsPythonReprThatParsesBackExactly() =>
        Prop.ForAll(Generators.FiniteDouble.ToArbitrary(), value =>
        {
            var text = PythonJsonWriter.FormatDouble(value);
            var parsed = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            using var document = JsonDocument.Parse(text);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(BitConverter.DoubleToInt64Bits(parsed), Is.EqualTo(BitConverter.DoubleToInt64Bits(value)), () => text);
                // Python's repr always marks a float ("1.0", "1e+16"), so clients read back a float, never an int.
                Assert.That(text, Does.Contain(".").Or.Contain("e"));
                // Exponent form exactly when the decimal exponent is below -4 or at least 16.
                var magnitude = Math.Abs(value);
                Assert.That(text.Contains('e'), Is.EqualTo(magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e16)), () => text);
                Assert.That(document.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Number), () => text);
            }
        });

    private static bool HasLoneSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }
}
