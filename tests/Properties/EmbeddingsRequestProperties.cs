using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="EmbeddingsRequest.Parse"/> over generated <c>/v1/embeddings</c> bodies (random field
/// presence and types, token-id arrays, mixed lists, sizes around the limits): it accepts a request or throws
/// <see cref="ModelInputException"/> with a 4xx status and a message that names the offending field in backticks;
/// an accepted request holds exactly the texts or images that were sent, within the limits.
/// </summary>
public partial class EmbeddingsRequestProperties
{
    private const int Dimensions = 16;

    private static readonly Gen<RequestLimits> Limits =
        from inputs in Gen.Choose(1, 6)
        from length in Gen.Choose(1, 40)
        from images in Gen.Choose(1, 4)
        select new RequestLimits(10, 10, MaxBatchImages: images, MaxEmbeddingInputs: inputs, MaxEmbeddingInputLength: length);

    private static readonly Gen<object?> Text = Gen.Frequency(
        (10, Gen.Elements("a cat", "a red circle", "猫", "😀", " ", "x").Select(s => (object?)s)),
        (3, Generators.WellFormedString.Select(s => (object?)s)),
        (2, Gen.Elements<object?>("http://127.0.0.1/a.png", "https://example.com/cat.jpg", "data:image/png;base64,aGVsbG8=", "data:image/png,xx", "ftp://x", "data:;base64,@@")),
        (1, Gen.Constant<object?>("")),
        (1, Generators.Leaf(withBytes: true)),
        (1, Gen.Choose(0, 3).SelectMany(n => Gen.ListOf(Generators.Int64.Select(v => (object?)v), n)).Select(ids => (object?)new List<object?>(ids))));

    private static readonly Gen<object?> Input = Gen.Frequency(
        (4, Text),
        (6, Gen.Choose(0, 8).SelectMany(n => Gen.ListOf(Text, n)).Select(items => (object?)new List<object?>(items))),
        (1, Gen.Choose(1, 5).SelectMany(n => Gen.ListOf(Generators.Int64.Select(v => (object?)v), n)).Select(ids => (object?)new List<object?>(ids))),
        (1, Generators.Tree(withBytes: true)));

    private static readonly Gen<object?> Modality = Gen.Frequency(
        (6, Gen.Elements<object?>("text", "image")),
        (1, Gen.Elements<object?>("audio", "IMAGE", "video", "")),
        (1, Generators.Leaf(withBytes: false)));

    private static readonly Gen<object?> Encoding = Gen.Frequency(
        (6, Gen.Elements<object?>("float", "base64")),
        (1, Gen.Elements<object?>("binary", "Float", "")),
        (1, Generators.Leaf(withBytes: false)));

    private static readonly Gen<object?> DimensionsField = Gen.Frequency(
        (4, Gen.Constant<object?>((long)Dimensions)),
        (2, Generators.Int64.Select(v => (object?)v)),
        (1, Generators.Leaf(withBytes: false)));

    private static readonly Gen<object?> Name = Gen.Frequency(
        (6, Gen.Elements<object?>("text-embedding-3-small", "truss-clip", "")),
        (1, Generators.Leaf(withBytes: true)));

    private static readonly Gen<object?> Request = Gen.Frequency(
        (1, Generators.Tree(withBytes: true)),
        (9, from input in Optional(Input, 12)
            from modality in Optional(Modality, 2)
            from encoding in Optional(Encoding, 2)
            from dimensions in Optional(DimensionsField, 2)
            from model in Optional(Name, 3)
            from user in Optional(Name, 1)
            from extra in Gen.Choose(0, 2).SelectMany(n => Gen.ListOf(Gen.Zip(Generators.Key, Generators.Leaf(withBytes: true)), n))
            select (object?)Fields(extra, ("input", input), ("modality", modality), ("encoding_format", encoding), ("dimensions", dimensions), ("model", model), ("user", user))));

    [Property(MaxTest = 600, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Parse_GeneratedRequest_AcceptsOrThrowsClientErrorNamingField() =>
        Prop.ForAll(Request.ToArbitrary(), Limits.ToArbitrary(), (request, limits) =>
        {
            EmbeddingsRequest? parsed = null;
            var thrown = Outcome.Capture(() => parsed = EmbeddingsRequest.Parse(request, limits, Dimensions));

            if (Outcome.IsClientRejection(thrown, FieldInBackticks(), request))
            {
                return;
            }

            AssertAccepted(parsed!, (OrderedDictionary<string, object?>)request!, limits);
        });

    [Property(MaxTest = 200, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Parse_WellFormedTextRequest_IsAcceptedWithTheSameTexts() =>
        Prop.ForAll(WellFormedTexts.ToArbitrary(), texts =>
        {
            // The oracle side: non-empty strings within the limits, in either of OpenAI's two forms, are never refused.
            var limits = new RequestLimits(10, 10, MaxEmbeddingInputs: 2048, MaxEmbeddingInputLength: 32768);
            object input = texts.Count == 1 ? texts[0] : new List<object?>(texts);

            var parsed = EmbeddingsRequest.Parse(new OrderedDictionary<string, object?> { ["input"] = input, ["model"] = "m" }, limits, Dimensions);

            Assert.That(parsed.Texts, Is.EqualTo(texts));
        });

    private static Gen<List<string>> WellFormedTexts { get; } =
        Gen.Choose(1, 20).SelectMany(n => Gen.ListOf(Generators.WellFormedString.Where(s => s.Length > 0), n)).Select(texts => texts.ToList());

    /// <summary>Invariants of an accepted request, checked against the input rather than re-deriving Parse's rules.</summary>
    private static void AssertAccepted(EmbeddingsRequest parsed, OrderedDictionary<string, object?> fields, RequestLimits limits)
    {
        var input = fields["input"];
        var items = input as List<object?> ?? [input];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(parsed.Texts is null, Is.Not.EqualTo(parsed.Images is null), "exactly one of texts and images");
            Assert.That(fields.GetValueOrDefault("dimensions"), Is.Null.Or.EqualTo((long)Dimensions));
            if (parsed.Texts is { } texts)
            {
                Assert.That(fields.GetValueOrDefault("modality"), Is.Null.Or.EqualTo("text"));
                Assert.That(texts, Is.EqualTo(items), "the texts as sent, in order");
                Assert.That(texts, Has.Count.InRange(1, limits.MaxEmbeddingInputs));
                Assert.That(texts, Has.All.Matches<string>(t => t!.Length >= 1 && t.Length <= limits.MaxEmbeddingInputLength));
            }
            else
            {
                Assert.That(fields["modality"], Is.EqualTo("image"));
                Assert.That(parsed.Images, Has.Count.EqualTo(items.Count).And.Count.InRange(1, limits.MaxBatchImages));
                Assert.That(parsed.Images, Has.All.Matches<ImageSource>(i => (i!.Url is null) != (i.Inline is null) && i.Pixels is null));
            }
        }
    }

    /// <summary>A field that is present (possibly with a null value) with odds <paramref name="presentWeight"/>:3, or absent.</summary>
    private static Gen<object?> Optional(Gen<object?> value, int presentWeight) =>
        Gen.Frequency((presentWeight, value.Select(v => (object?)new Present(v))), (3, Gen.Constant<object?>(null)));

    private static OrderedDictionary<string, object?> Fields(IEnumerable<(string Key, object? Value)> extra, params (string Name, object? Value)[] known)
    {
        var fields = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in extra)
        {
            fields[name] = value;
        }

        foreach (var (name, value) in known)
        {
            if (value is Present present)
            {
                fields[name] = present.Value;
            }
            else
            {
                fields.Remove(name); // an extra key may have taken a known name; absent means absent
            }
        }

        return fields;
    }

    /// <summary>A field that is present (possibly with a null value), as opposed to absent.</summary>
    private sealed record Present(object? Value);

    [GeneratedRegex(@"`(input(\[\d+\])?|modality|encoding_format|dimensions|model|user)`")]
    private static partial Regex FieldInBackticks();
}
