using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="PredictRequest.Parse"/> over generated request objects (random field presence, types and
/// sizes): it accepts a request or throws <see cref="ModelInputException"/> with a 4xx status and a message that
/// names the offending field in backticks, so every rejection is a client error the client can act on.
/// </summary>
public partial class PredictRequestProperties
{
    private static readonly Gen<RequestLimits> Limits = Gen.Frequency(
        (3, Gen.Zip(Gen.Choose(1, 10), Gen.Choose(1, 120), (labels, length) => new RequestLimits(labels, length))),
        (1, Gen.Constant(new RequestLimits(64, 1000))));

    private static readonly Gen<object?> Label = Gen.Frequency(
        (24, Gen.Elements("a cat", "a dog", "a red circle", "x", "猫", "😀 emoji", "tab\there", "  padded  ").Select(s => (object?)s)),
        (3, Generators.WellFormedString.Select(s => (object?)s)),
        (1, Gen.Constant<object?>("")),
        (1, Gen.Elements(" ", "\t\n", "\u00a0", "\u2003\u3000", "\r\n \u2028").Select(s => (object?)s)),
        (1, Gen.Zip(Gen.Choose(100, 5000), Gen.Elements('a', 'é', ' '), (n, c) => (object?)new string(c, n))),
        (1, Generators.Leaf(withBytes: true)));

    private static readonly Gen<object?> Labels = Gen.Frequency(
        (6, Gen.Choose(1, 5).SelectMany(n => Gen.ListOf(Label, n)).Select(items => (object?)new List<object?>(items))),
        (2, Gen.Choose(0, 12).SelectMany(n => Gen.ListOf(Label, n)).Select(items => (object?)new List<object?>(items))),
        (1, Generators.Tree(withBytes: true)));

    private static readonly Gen<object?> Pixels = Gen.Frequency(
        (3, PixelArrayProperties.NestedPixels.Select(c => c.Value)),
        (1, Generators.Tree(withBytes: true)));

    private static readonly Gen<object?> ImageUrl = Gen.Frequency(
        (4, Gen.Elements("http://127.0.0.1/x.png", "https://example.com/cat.jpg", "ftp://x", "not a url", "http://", "//x").Select(s => (object?)s)),
        (1, Gen.Constant<object?>("")),
        (2, Generators.Leaf(withBytes: true)));

    private static readonly Gen<object?> ImageBase64 = Gen.Frequency(
        (3, Generators.Bytes.Select(b => (object?)Convert.ToBase64String(b))),
        (2, Gen.Zip(Gen.Elements("data:image/png;base64,", "DATA:image/jpeg;BASE64,", "data:;base64,", "data:image/png,", "data:base64", "data:,", "data:image/png;base64"),
            Generators.Bytes, (prefix, b) => (object?)(prefix + Convert.ToBase64String(b)))),
        (2, Generators.WellFormedString.Select(s => (object?)s)),
        (1, Gen.Elements<object?>("", "=", "====", "AAA", "AA==AA==", " QQ== ", "QQ\n==")),
        (1, Generators.Bytes.Select(b => (object?)b)),
        (1, Generators.Leaf(withBytes: false)));

    private static readonly Gen<object?> Request = Gen.Frequency(
        (1, Generators.Tree(withBytes: true)),
        (9, from labels in Optional(Labels, 15)
            from sources in Gen.Frequency((6, Gen.Choose(0, 2).Select(i => 1 << i)), (1, Gen.Choose(0, 7)))
            from image in Optional(Pixels, (sources & 1) != 0)
            from url in Optional(ImageUrl, (sources & 2) != 0)
            from base64 in Optional(ImageBase64, (sources & 4) != 0)
            from extra in Gen.Choose(0, 2).SelectMany(n => Gen.ListOf(Gen.Zip(Generators.Key, Generators.Leaf(withBytes: true)), n))
            select (object?)Fields(("labels", labels), ("image", image), ("image_url", url), ("image_base64", base64), extra)));

    [Property(MaxTest = 600, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Parse_GeneratedRequest_AcceptsOrThrowsClientErrorNamingField() =>
        Prop.ForAll(Request.ToArbitrary(), Limits.ToArbitrary(), (request, limits) =>
        {
            PredictRequest? parsed = null;
            var thrown = Outcome.Capture(() => parsed = PredictRequest.Parse(request, limits));

            if (Outcome.IsClientRejection(thrown, FieldInBackticks(), request))
            {
                return;
            }

            AssertAccepted(parsed!, (OrderedDictionary<string, object?>)request!, limits);
        });

    [Property(MaxTest = 200, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Parse_WellFormedRequest_IsAccepted() =>
        Prop.ForAll(WellFormed.ToArbitrary(), request =>
        {
            // The oracle side: a request within the limits with exactly one well-formed source must never be refused.
            var parsed = PredictRequest.Parse(request, new RequestLimits(16, 200));

            Assert.That(parsed.Labels, Is.EqualTo(((List<object?>)request["labels"]!).Cast<string>()));
        });

    private static Gen<OrderedDictionary<string, object?>> WellFormed { get; } =
        from labels in Gen.Choose(1, 16).SelectMany(n => Gen.ListOf(Gen.Elements("a cat", "a dog", "猫", "x y z", "😀"), n))
        from source in Gen.Elements("image", "image_url", "image_base64")
        from bytes in Generators.Bytes.Where(b => b.Length > 0)
        select Fields(
            ("labels", new List<object?>(labels)),
            (source, source switch
            {
                "image" => new List<object?> { new List<object?> { new List<object?> { 1L, 2L, 3L } } },
                "image_url" => "https://example.com/a.png",
                _ => bytes.Length % 2 == 0 ? Convert.ToBase64String(bytes) : "data:image/png;base64," + Convert.ToBase64String(bytes),
            }),
            []);

    /// <summary>Invariants of an accepted request, checked against the input rather than re-deriving Parse's rules.</summary>
    private static void AssertAccepted(PredictRequest parsed, OrderedDictionary<string, object?> fields, RequestLimits limits)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(parsed.Labels, Has.Count.InRange(1, limits.MaxLabels));
            Assert.That(parsed.Labels, Has.All.Matches<string>(l => !string.IsNullOrWhiteSpace(l) && l.Length <= limits.MaxLabelLength));
            Assert.That(parsed.Labels, Is.EqualTo((List<object?>)fields["labels"]!));
            Assert.That(parsed.Images, Has.Count.InRange(1, Math.Max(1, limits.MaxBatchImages)));
            Assert.That(parsed.Images, Has.All.Matches<ImageSource>(i => (i!.Pixels is null ? 0 : 1) + (i.Url is null ? 0 : 1) + (i.Inline is null ? 0 : 1) == 1),
                "exactly one source per image");
            if (fields.GetValueOrDefault("images") is null)
            {
                Assert.That(parsed.Images, Has.Count.EqualTo(1));
                Assert.That(parsed.Images[0].Pixels, Is.SameAs(fields.GetValueOrDefault("image")));
                Assert.That(parsed.Images[0].Url, Is.SameAs(fields.GetValueOrDefault("image_url")));
            }
        }
    }

    /// <summary>A field that is present (possibly with a null value) with odds <paramref name="presentWeight"/>:3, or absent.</summary>
    private static Gen<object?> Optional(Gen<object?> value, int presentWeight) =>
        Gen.Frequency((presentWeight, value.Select(v => (object?)new Present(v))), (3, Gen.Constant<object?>(null)));

    /// <summary>A source field, mostly present when <paramref name="wanted"/> and mostly absent otherwise (a null value counts as absent).</summary>
    private static Gen<object?> Optional(Gen<object?> value, bool wanted) =>
        Gen.Frequency((wanted ? 12 : 1, value.Select(v => (object?)new Present(v))), (wanted ? 1 : 12, Gen.Constant<object?>(null)));

    private static OrderedDictionary<string, object?> Fields(
        (string Name, object? Value) labels, (string Name, object? Value) image, (string Name, object? Value) url, (string Name, object? Value) base64,
        IEnumerable<(string Key, object? Value)> extra)
    {
        var fields = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in extra)
        {
            fields[name] = value;
        }

        foreach (var (name, value) in new[] { labels, image, url, base64 })
        {
            if (value is Present present)
            {
                fields[name] = present.Value;
            }
        }

        return fields;
    }

    private static OrderedDictionary<string, object?> Fields((string Name, object? Value) labels, (string Name, object? Value) source, IEnumerable<(string, object?)> extra) =>
        Fields((labels.Name, new Present(labels.Value)), (source.Name, new Present(source.Value)), ("", null), ("", null), extra);

    /// <summary>A field that is present (possibly with a null value), as opposed to absent.</summary>
    private sealed record Present(object? Value);

    [GeneratedRegex(@"`(labels(\[\d+\])?|image|image_url|image_base64)`")]
    private static partial Regex FieldInBackticks();
}
