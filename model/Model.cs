using Clip;
using Clip.Imaging;
using Microsoft.Extensions.Logging;
using Truss.Server;

namespace Truss.Clip;

/// <summary>
/// The Truss model: CLIP zero-shot image classification with the seed API of Baseten's CLIP truss,
/// <c>{"labels": [...], "image": H×W×3 list | "image_url": "..."}</c> →
/// <c>{"status": "success", "data": {"predictions": [{label: score, ...}]}, "message": null}</c>.
/// Thin by design: the engine in <c>packages/Clip</c> does the work; this class validates the wire format,
/// fetches and decodes the image, and shapes the answer.
/// </summary>
public sealed class Model : ITrussModel, IDisposable
{
    private readonly ClipSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ImageFetcher _fetcher;
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
    }

    /// <summary>The loaded engine (null before <see cref="Load"/>).</summary>
    public ZeroShotClassifier? Classifier => _classifier;

    /// <summary>Loads the ONNX towers, tokenizer and preprocessing, and checks them with one dummy run each.</summary>
    public void Load() => _classifier = ZeroShotClassifier.Load(_settings.Engine, _loggerFactory);

    /// <inheritdoc />
    public async ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken)
    {
        var classifier = _classifier ?? throw new InvalidOperationException("Predict before Load; this is a bug.");
        var request = PredictRequest.Parse(input, _settings.Limits);
        using var image = request switch
        {
            { ImageUrl: { } url } => Decode(classifier, await _fetcher.FetchAsync(url, cancellationToken), "image_url"),
            { ImageBytes: { } bytes } => Decode(classifier, bytes, "image_base64"),
            _ => PixelArray.ToImage(request.PixelArray, classifier.Decoder.Options.MaxPixels, classifier.Decoder.Options.AlphaMode),
        };
        cancellationToken.ThrowIfCancellationRequested();
        return PredictResponse.Create(request.Labels, classifier.Classify([image], request.Labels));
    }

    public void Dispose()
    {
        _classifier?.Dispose();
        _fetcher.Dispose();
    }

    private static RgbImage Decode(ZeroShotClassifier classifier, byte[] bytes, string field)
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
