using System.Diagnostics.Metrics;
using Clip;
using Clip.Imaging;
using Microsoft.Extensions.Logging;
using Truss.Server;

namespace Truss.Clip;

/// <summary>
/// The Truss model: CLIP zero-shot image classification with the seed API of Baseten's CLIP truss,
/// <c>{"labels": [...], "image": H×W×3 list | "image_url": "..."}</c> →
/// <c>{"status": "success", "data": {"predictions": [{label: score, ...}]}, "message": null}</c>.
/// Also serves OpenAI-compatible <c>POST /v1/embeddings</c> for texts and images (<see cref="EmbeddingsAsync"/>).
/// Thin by design: the engine in <c>packages/Clip</c> does the work; this class validates the wire format,
/// fetches and decodes the image, and shapes the answer.
/// </summary>
public sealed class Model : ITrussModel, IUtf8TextInputModel, IEmbeddingsModel, IDisposable
{
    private readonly ClipSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ImageFetcher _fetcher;
    private readonly IMeterFactory? _meterFactory;
    private readonly string _servedModelName;
    private ZeroShotClassifier? _classifier;

    /// <summary>Reads <c>model_metadata.clip</c>; <paramref name="modelDirectoryOverride"/> is <c>--model-dir</c>.</summary>
    public Model(ModelContext context, string? modelDirectoryOverride = null)
        : this(context, modelDirectoryOverride, Environment.GetEnvironmentVariable)
    {
    }

    internal Model(ModelContext context, string? modelDirectoryOverride, Func<string, string?> environment)
    {
        _settings = ClipSettings.From(context.Config, modelDirectoryOverride, environment);
        _loggerFactory = context.LoggerFactory;
        _fetcher = new ImageFetcher(_settings.Fetch);
        _meterFactory = context.MeterFactory; // the engine's metrics reach the server's /metrics through it
        _servedModelName = context.Config.ModelName ?? "model";
    }

    /// <summary>The loaded engine (null before <see cref="Load"/>).</summary>
    public ZeroShotClassifier? Classifier => _classifier;

    /// <summary>Loads the ONNX towers, tokenizer and preprocessing, and checks them with one dummy run each.</summary>
    public void Load() => _classifier = ZeroShotClassifier.Load(_settings.Engine, _loggerFactory, _meterFactory);

    /// <summary>
    /// Base64 images and data: URIs arrive as views of the request body and decode from there into a pooled
    /// buffer (see <see cref="InlineImage"/>); labels and URLs are far below this and stay strings.
    /// </summary>
    public int Utf8TextMinBytes => 16 * 1024;

    /// <inheritdoc />
    public async ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken)
    {
        var classifier = _classifier ?? throw new InvalidOperationException("Predict before Load; this is a bug.");
        var request = PredictRequest.Parse(input, _settings.Limits);
        var images = await LoadImagesAsync(classifier, request.Images, cancellationToken);
        try
        {
            var probabilities = await classifier.ClassifyAsync(images, request.Labels, request.Templates, cancellationToken);
            return PredictResponse.Create(request.Labels, probabilities, request.TopK);
        }
        finally
        {
            DisposeAll(images);
        }
    }

    /// <summary>
    /// OpenAI-compatible embeddings (see <see cref="EmbeddingsRequest"/>): L2-normalized CLIP embeddings of texts,
    /// through the label cache, or of images (URLs or data: URIs), through the same fetching, decoding and dynamic
    /// batching as predict. Text and image vectors share one space, so their dot product is the cosine that
    /// predict scores with.
    /// </summary>
    public async ValueTask<object?> EmbeddingsAsync(object? input, CancellationToken cancellationToken)
    {
        var classifier = _classifier ?? throw new InvalidOperationException("Embeddings before Load; this is a bug.");
        var request = EmbeddingsRequest.Parse(input, _settings.Limits, classifier.EmbeddingDim);
        float[] vectors;
        long promptTokens = 0;
        if (request.Images is { } sources)
        {
            var images = await LoadImagesAsync(classifier, sources, cancellationToken);
            try
            {
                vectors = await classifier.EmbedImagesAsync(images, cancellationToken);
            }
            finally
            {
                DisposeAll(images);
            }

            promptTokens = sources.Count * EmbeddingsResponse.TokensPerImage;
        }
        else
        {
            var texts = request.Texts!;
            vectors = new float[texts.Count * classifier.EmbeddingDim];
            classifier.EmbedTexts(texts, vectors, cancellationToken);
            foreach (var text in texts)
            {
                promptTokens += classifier.CountTokens(text);
            }
        }

        return EmbeddingsResponse.Create(vectors, classifier.EmbeddingDim, request.EncodingFormat, _servedModelName, promptTokens);
    }

    public void Dispose()
    {
        _classifier?.Dispose();
        _fetcher.Dispose();
    }

    /// <summary>
    /// Fetches and decodes every image of a request: URLs download concurrently; pixels and base64 decode on this
    /// thread. On failure nothing is left undisposed; on success the caller disposes the images.
    /// </summary>
    private async Task<RgbImage[]> LoadImagesAsync(ZeroShotClassifier classifier, IReadOnlyList<ImageSource> sources, CancellationToken cancellationToken)
    {
        var images = new RgbImage?[sources.Count];
        try
        {
            var loads = new Task[images.Length];
            for (var i = 0; i < images.Length; i++)
            {
                loads[i] = LoadAsync(classifier, sources[i], images, i, cancellationToken);
            }

            // WhenAll waits for every load, also after one fails, so no load is still writing below.
            await Task.WhenAll(loads);
            cancellationToken.ThrowIfCancellationRequested();
            return images!;
        }
        catch
        {
            DisposeAll(images);
            throw;
        }
    }

    private static void DisposeAll(RgbImage?[] images)
    {
        foreach (var image in images)
        {
            image?.Dispose();
        }
    }

    private async Task LoadAsync(ZeroShotClassifier classifier, ImageSource source, RgbImage?[] images, int index, CancellationToken cancellationToken)
    {
        images[index] = source switch
        {
            { Url: { } url } => Decode(classifier, await _fetcher.FetchAsync(url, cancellationToken, source.Field), source.Field),
            { Inline: { } inline } => inline.Decode(bytes => Decode(classifier, bytes, source.Field)),
            _ => PixelArray.ToImage(source.Pixels, classifier.Decoder.Options.MaxPixels, classifier.Decoder.Options.AlphaMode, source.Field),
        };
    }

    private static RgbImage Decode(ZeroShotClassifier classifier, ReadOnlySpan<byte> bytes, string field)
    {
        try
        {
            return classifier.Decoder.Decode(bytes);
        }
        catch (ImageDecodeException e)
        {
            var status = e.Error switch
            {
                ImageDecodeError.TooLarge => 413,
                ImageDecodeError.UnknownFormat => 415,
                _ => 400,
            };
            throw new ModelInputException($"`{field}` is not a usable image: {e.Message}", status, e);
        }
    }
}
