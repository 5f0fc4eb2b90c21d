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

    /// <summary>Bytes of downloaded images held now, across requests (<c>fetch.max_bytes_in_flight</c>).</summary>
    internal long DownloadBytesInFlight => _fetcher.BytesInFlight;

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
        using var images = await PrepareImagesAsync(classifier, request.Images, cancellationToken);
        var probabilities = await classifier.ClassifyAsync(
            request.Images.Count, images.LoadAsync, request.Labels, request.Templates, cancellationToken, images.Slot);
        return PredictResponse.Create(request.Labels, probabilities, request.TopK);
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
            using var images = await PrepareImagesAsync(classifier, sources, cancellationToken);
            vectors = await classifier.EmbedImagesAsync(sources.Count, images.LoadAsync, cancellationToken, images.Slot);

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
    /// Fetches every image URL of a request concurrently, then takes one of the engine's preprocessing slots: a slow
    /// download holds no slot. The engine then decodes the images one at a time through
    /// <see cref="PreparedImages.LoadAsync"/>, under the slot, preprocesses and disposes each before the next, and
    /// gives the slot back (also on failure), so a request holds one decoded image at a time
    /// (<see cref="ZeroShotClassifier.ClassifyAsync(int, Func{int, CancellationToken, ValueTask{RgbImage}}, IReadOnlyList{string}, IReadOnlyList{string}?, CancellationToken, PreprocessingSlot?)"/>).
    /// Pass the slot to the engine at once (it is held until the engine gives it back), and dispose the result when
    /// the request ends: downloads not decoded by then give their room back.
    /// </summary>
    private async Task<PreparedImages> PrepareImagesAsync(
        ZeroShotClassifier classifier, IReadOnlyList<ImageSource> sources, CancellationToken cancellationToken)
    {
        var downloads = await FetchAllAsync(sources, cancellationToken);
        try
        {
            return new PreparedImages(classifier, sources, downloads, await classifier.PreprocessingSlots.EnterAsync(cancellationToken));
        }
        catch
        {
            PreparedImages.DisposeAll(downloads);
            throw;
        }
    }

    /// <summary>
    /// The downloads behind each URL source, fetched concurrently (null entries elsewhere); null when there are none.
    /// When one fails, the others are still awaited, then released.
    /// </summary>
    private async Task<ImageDownload?[]?> FetchAllAsync(IReadOnlyList<ImageSource> sources, CancellationToken cancellationToken)
    {
        ImageDownload?[]? downloads = null;
        List<Task>? fetches = null;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i].Url is not null)
            {
                downloads ??= new ImageDownload?[sources.Count];
                (fetches ??= []).Add(FetchIntoAsync(sources[i], downloads, i, cancellationToken));
            }
        }

        if (fetches is null)
        {
            return null;
        }

        try
        {
            // WhenAll waits for every fetch, also after one fails, so none is left running when the request ends.
            await Task.WhenAll(fetches);
            cancellationToken.ThrowIfCancellationRequested();
            return downloads;
        }
        catch
        {
            PreparedImages.DisposeAll(downloads);
            throw;
        }
    }

    private async Task FetchIntoAsync(ImageSource source, ImageDownload?[] downloads, int index, CancellationToken cancellationToken) =>
        downloads[index] = await _fetcher.FetchAsync(source.Url!, cancellationToken, source.Field);

    /// <summary>
    /// A request's images ready to decode one at a time. Encoded images decode through
    /// <see cref="ZeroShotClassifier.DecodeAsync"/>, so across requests no more pixels are decoded at once than
    /// <c>image.max_pixels_in_flight</c> allows. Pixel arrays do not reserve: they are built from JSON numbers already
    /// parsed, whose memory (8 bytes or more of JSON per pixel, within the body limit) far exceeds the 3 bytes per
    /// pixel of the image. A download gives its room back once decoded; <see cref="Dispose"/> releases the rest.
    /// </summary>
    private sealed class PreparedImages(
        ZeroShotClassifier classifier, IReadOnlyList<ImageSource> sources, ImageDownload?[]? downloads, PreprocessingSlot slot) : IDisposable
    {
        /// <summary>The preprocessing slot taken for the request, for the engine to give back.</summary>
        public PreprocessingSlot Slot => slot;

        /// <summary>Decodes image <paramref name="index"/> (the engine's loader).</summary>
        public ValueTask<RgbImage> LoadAsync(int index, CancellationToken cancellationToken)
        {
            var source = sources[index];
            switch (source)
            {
                case { Url: not null }:
                    var download = downloads![index]!;
                    downloads[index] = null;
                    return DecodeDownloadAsync(download, source.Field, cancellationToken);
                case { Inline: { } inline }:
                    return inline.DecodeAsync(bytes => Model.DecodeAsync(classifier, bytes, source.Field, cancellationToken));
                default:
                    return new ValueTask<RgbImage>(
                        PixelArray.ToImage(source.Pixels, classifier.Decoder.Options.MaxPixels, classifier.Decoder.Options.AlphaMode, source.Field));
            }
        }

        /// <summary>Releases the downloads that were not decoded (the request failed or was cancelled first).</summary>
        public void Dispose() => DisposeAll(downloads);

        public static void DisposeAll(ImageDownload?[]? downloads)
        {
            if (downloads is null)
            {
                return;
            }

            for (var i = 0; i < downloads.Length; i++)
            {
                downloads[i]?.Dispose();
                downloads[i] = null;
            }
        }

        private async ValueTask<RgbImage> DecodeDownloadAsync(ImageDownload download, string field, CancellationToken cancellationToken)
        {
            using (download)
            {
                return await Model.DecodeAsync(classifier, download.Bytes, field, cancellationToken);
            }
        }
    }

    private static ValueTask<RgbImage> DecodeAsync(
        ZeroShotClassifier classifier, ReadOnlyMemory<byte> bytes, string field, CancellationToken cancellationToken)
    {
        try
        {
            var decoding = classifier.DecodeAsync(bytes, cancellationToken);
            return decoding.IsCompleted ? decoding : MapFailureAsync(decoding, field);
        }
        catch (ImageDecodeException e)
        {
            throw NotAnImage(e, field);
        }

        static async ValueTask<RgbImage> MapFailureAsync(ValueTask<RgbImage> decoding, string field)
        {
            try
            {
                return await decoding.ConfigureAwait(false);
            }
            catch (ImageDecodeException e)
            {
                throw NotAnImage(e, field);
            }
        }
    }

    private static ModelInputException NotAnImage(ImageDecodeException e, string field)
    {
        var status = e.Error switch
        {
            ImageDecodeError.TooLarge => 413,
            ImageDecodeError.UnknownFormat => 415,
            _ => 400,
        };
        return new ModelInputException($"`{field}` is not a usable image: {e.Message}", status, e);
    }
}
