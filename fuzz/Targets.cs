using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using Clip.Imaging;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip.Fuzz;

/// <summary>An invariant of a target broke on an input that was otherwise accepted (a finding, like a crash).</summary>
internal sealed class FuzzInvariantException(string message) : Exception(message);

/// <summary>
/// One fuzz target: feeds an input through the same calls the server makes and returns a short label of how it
/// ended (used for statistics and as a cheap novelty signal by the mutational runner). The documented rejections
/// (<see cref="InvalidPayloadException"/>, <see cref="ModelInputException"/> with a 4xx status,
/// <see cref="ImageDecodeException"/>) are caught and labelled; anything else escapes, and an escaping exception is
/// a finding for every driver (the built-in runner, AFL++ via SharpFuzz, libFuzzer).
/// </summary>
internal sealed partial class FuzzTarget
{
    /// <summary>Small limits so that mutated requests cross them often (the production defaults are 1000/1000).</summary>
    private static RequestLimits Limits => new(MaxLabels: 16, MaxLabelLength: 200, MaxEmbeddingInputs: 16, MaxEmbeddingInputLength: 200);

    /// <summary>The embedding size the embeddings parser checks <c>dimensions</c> against (ViT-B/32's).</summary>
    private const int EmbeddingDimensions = 512;

    private readonly Func<byte[], string> _run;

    private FuzzTarget(string name, Func<byte[], string> run, IReadOnlyList<byte[]> tokens, int maxLength)
    {
        Name = name;
        _run = run;
        Tokens = tokens;
        MaxLength = maxLength;
    }

    // Lazy, like everything from the product assemblies here: under AFL those assemblies are instrumented, and
    // instrumented code must not run before SharpFuzz has mapped AFL's coverage memory (it would write through a null
    // pointer), so nothing may touch them before Fuzzer.OutOfProcess.Run.
    private static readonly Lazy<ImageDecoder> LazyDecoder = new(() => new(new ImageDecodeOptions(maxPixels: 4_000_000)));
    private static readonly Lazy<ClipPreprocessor> LazyPreprocessor = new(() => new());

    /// <summary>
    /// Decoder limits for fuzzing: the production per-side limits, but 4 MP instead of 50 MP, so that a mutated
    /// header claiming a large (yet allowed) size costs milliseconds rather than a 200 MB fill per input.
    /// </summary>
    private static ImageDecoder Decoder => LazyDecoder.Value;

    private static ClipPreprocessor Preprocessor => LazyPreprocessor.Value;

    [ThreadStatic]
    private static float[]? t_tensor;

    /// <summary>The targets by name.</summary>
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>(StringComparer.Ordinal)
    {
        ["json"] = new("json", Json, ByteMutator.JsonTokens, 16 * 1024),
        ["msgpack"] = new("msgpack", MsgPack, ByteMutator.MsgPackTokens, 16 * 1024),
        ["image"] = new("image", Image, ByteMutator.ImageTokens, 64 * 1024),
    };

    /// <summary>The target's name (also its corpus folder name).</summary>
    public string Name { get; }

    /// <summary>Dictionary tokens for the mutator.</summary>
    public IReadOnlyList<byte[]> Tokens { get; }

    /// <summary>Largest input the mutator produces for this target.</summary>
    public int MaxLength { get; }

    /// <summary>Runs one input; returns the outcome label, or throws on a finding.</summary>
    public string Run(byte[] input) => _run(input);

    /// <summary>JSON body → value tree → predict request → pixels or encoded image, as the JSON predict route does.</summary>
    private static string Json(byte[] input)
    {
        object? value;
        try
        {
            value = JsonPayloadReader.Read(input);
        }
        catch (InvalidPayloadException e)
        {
            Require(e.Message.StartsWith("Invalid JSON payload: ", StringComparison.Ordinal), $"unexpected JSON error wording: {e.Message}");
            return "json-rejected " + Label(JsonReason(e.Message));
        }

        if (!ValueTree.HasNonFinite(value))
        {
            // Differential check: the server's writer and reader agree (NaN/Infinity excepted, refused by design).
            var again = JsonPayloadReader.Read(Encoding.UTF8.GetBytes(PythonJsonWriter.Serialize(value)));
            Require(ValueTree.DeepEquals(value, again), $"JSON write/read round trip changed {ValueTree.Describe(value)} into {ValueTree.Describe(again)}");
        }

        // The server hands Model long strings as views of the body (Utf8Text); a low threshold exercises them here.
        var views = JsonPayloadReader.Read(input.AsMemory(), utf8TextMinBytes: 8);
        return "json-ok " + Request(views) + " " + Embeddings(views);
    }

    /// <summary>msgpack body → value tree → predict request → pixels or encoded image, as the binary predict route does.</summary>
    private static string MsgPack(byte[] input)
    {
        object? value;
        try
        {
            value = MsgPackPayload.Read(input);
        }
        catch (InvalidPayloadException e)
        {
            Require(e.Message.StartsWith("Invalid msgpack payload: ", StringComparison.Ordinal), $"unexpected msgpack error wording: {e.Message}");
            return "msgpack-rejected " + Label(e.Message);
        }

        var buffer = new ArrayBufferWriter<byte>();
        MsgPackPayload.Write(buffer, value);
        var again = MsgPackPayload.Read(buffer.WrittenMemory);
        Require(ValueTree.DeepEquals(value, again), $"msgpack write/read round trip changed {ValueTree.Describe(value)} into {ValueTree.Describe(again)}");
        return "msgpack-ok " + Request(value) + " " + Embeddings(value);
    }

    /// <summary>Encoded image → <see cref="RgbImage"/> → CLIP tensor, as the image_base64/image_url paths do.</summary>
    private static string Image(byte[] input)
    {
        RgbImage image;
        try
        {
            image = Decoder.Decode(input);
        }
        catch (ImageDecodeException e)
        {
            Require(e.Message.Length > 0, "empty ImageDecodeException message");
            return $"image-rejected {e.Error} {Label(e.Message)}";
        }

        using (image)
        {
            Require(image.Width >= 1 && image.Height >= 1, $"decoded a {image.Width}x{image.Height} image");
            Require((long)image.Width * image.Height <= Decoder.Options.MaxPixels, $"decoded {image.Width}x{image.Height}, over the pixel limit");
            Require(image.Pixels.Length == image.Width * image.Height * 3, $"pixel buffer of {image.Pixels.Length} bytes for {image.Width}x{image.Height}");
            var tensor = t_tensor ??= new float[Preprocessor.TensorLength];
            Preprocessor.Preprocess(image, tensor);
            foreach (var x in tensor)
            {
                Require(float.IsFinite(x), "non-finite value in the preprocessed tensor");
            }

            return $"image-ok {(image.Width == 1 || image.Height == 1 ? "line" : image.Width * image.Height < 64 ? "tiny" : "larger")}";
        }
    }

    /// <summary>The model's request validation, then the pixel array or image bytes it selects.</summary>
    private static string Request(object? value)
    {
        PredictRequest request;
        try
        {
            request = PredictRequest.Parse(value, Limits);
        }
        catch (ModelInputException e)
        {
            Require(e.StatusCode is >= 400 and <= 499, $"request rejected with status {e.StatusCode}: {e.Message}");
            Require(FieldInBackticks().IsMatch(e.Message), $"rejection does not name a field: {e.Message}");
            return $"request-rejected {e.StatusCode} {Label(e.Message)}";
        }

        var outcome = "url-accepted";
        foreach (var source in request.Images)
        {
            if (source.Pixels is not null)
            {
                try
                {
                    using var image = PixelArray.ToImage(source.Pixels, Decoder.Options.MaxPixels, AlphaMode.Black, source.Field);
                    Require(image.Pixels.Length == image.Width * image.Height * 3, "pixel array image has a wrong buffer length");
                    outcome = "pixels-ok";
                }
                catch (ModelInputException e)
                {
                    Require(e.StatusCode is 400 or 413 or 422 && e.Message.StartsWith("`" + source.Field + "`", StringComparison.Ordinal),
                        $"unexpected pixel rejection {e.StatusCode}: {e.Message}");
                    return $"pixels-rejected {e.StatusCode} {Label(e.Message)}";
                }
            }
            else if (source.Inline is not null)
            {
                try
                {
                    using var image = source.Inline.Decode(bytes => Decoder.Decode(bytes));
                    outcome = "bytes-decoded";
                }
                catch (ImageDecodeException e)
                {
                    return $"bytes-rejected {e.Error}";
                }
            }
        }

        return outcome;
    }

    /// <summary>The same body as a <c>/v1/embeddings</c> request: accepted with texts or images, or a 4xx naming a field.</summary>
    private static string Embeddings(object? value)
    {
        EmbeddingsRequest request;
        try
        {
            request = EmbeddingsRequest.Parse(value, Limits, EmbeddingDimensions);
        }
        catch (ModelInputException e)
        {
            Require(e.StatusCode is >= 400 and <= 499, $"embeddings request rejected with status {e.StatusCode}: {e.Message}");
            Require(EmbeddingsFieldInBackticks().IsMatch(e.Message), $"embeddings rejection does not name a field: {e.Message}");
            return $"embeddings-rejected {e.StatusCode} {Label(e.Message)}";
        }

        Require((request.Texts is null) != (request.Images is null), "an embeddings request has both or neither of texts and images");
        if (request.Texts is { } texts)
        {
            Require(texts.Count is >= 1 and <= 16, $"{texts.Count} texts accepted");
            foreach (var text in texts)
            {
                Require(text.Length is >= 1 and <= 200, $"a text of {text.Length} characters accepted");
            }

            return "embeddings-texts";
        }

        var images = request.Images!;
        Require(images.Count is >= 1 and <= 32, $"{images.Count} images accepted");
        foreach (var image in images)
        {
            Require((image.Url is null) != (image.Inline is null) && image.Pixels is null, "an image input is not exactly one URL or one byte string");
        }

        return "embeddings-images";
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }

    /// <summary>A message with its numbers and quoted values removed, so that labels group by kind of error.</summary>
    private static string Label(string message)
    {
        var label = Numbers().Replace(message, "#");
        return label.Length > 60 ? label[..60] : label;
    }

    /// <summary>
    /// The first sentence of a JSON error's reason, without the position and without the input excerpt that
    /// System.Text.Json quotes at its start ("'tru' is an invalid JSON literal"), which would make every label new.
    /// </summary>
    private static string JsonReason(string message)
    {
        var reason = QuotedExcerpt().Replace(message, "'…'");
        int sentence = reason.IndexOf(". ", StringComparison.Ordinal);
        return sentence > 0 ? reason[..sentence] : Position().Replace(reason, "");
    }

    [GeneratedRegex(@"`(labels(\[\d+\])?|image|image_url|image_base64)`")]
    private static partial Regex FieldInBackticks();

    [GeneratedRegex(@"`(input(\[\d+\])?|modality|encoding_format|dimensions|model|user)`")]
    private static partial Regex EmbeddingsFieldInBackticks();

    [GeneratedRegex(@"(?<=^Invalid JSON payload: )'.*?'(?= (is|was) )", RegexOptions.Singleline)]
    private static partial Regex QuotedExcerpt();

    [GeneratedRegex(@": line \d+ column \d+ \(char \d+\)$")]
    private static partial Regex Position();

    [GeneratedRegex(@"\d+|'[^']*'|""[^""]*""")]
    private static partial Regex Numbers();
}
