using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Clip.Inference;

/// <summary>
/// Both CLIP towers of one model directory, loaded once and shared. <see cref="ImageEncoder"/> and
/// <see cref="TextEncoder"/> are thread-safe; <see cref="Dispose"/> releases them and every ONNX Runtime session
/// and must not race with running calls.
/// </summary>
public sealed class ClipModel : IDisposable
{
    private readonly InferenceSession? _sharedSession;

    private ClipModel(
        ClipModelDescriptor descriptor, ImageEncoder imageEncoder, TextEncoder textEncoder, InferenceSession? sharedSession)
    {
        Descriptor = descriptor;
        ImageEncoder = imageEncoder;
        TextEncoder = textEncoder;
        _sharedSession = sharedSession;
    }

    /// <summary>What loading discovered: layout, both towers, preprocessing and tokenization values.</summary>
    public ClipModelDescriptor Descriptor { get; }

    /// <summary>The image tower; owned by this model.</summary>
    public ImageEncoder ImageEncoder { get; }

    /// <summary>The text tower; owned by this model.</summary>
    public TextEncoder TextEncoder { get; }

    /// <summary>
    /// Loads a model: resolves the layout and files, reads the sidecar JSON files, creates the ONNX Runtime
    /// sessions (CUDA when requested and usable, otherwise CPU with one warning), binds the tensor names, element
    /// types and fixed sizes from the graph metadata, runs one probe per tower (embedding dim, whether the output is
    /// already normalized) and checks that both towers produce embeddings of the same length.
    /// </summary>
    /// <param name="options">Where the files are and how to run them.</param>
    /// <param name="logger">Receives the load summary and the CUDA fallback warning.</param>
    /// <returns>The loaded model; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">Two options contradict each other.</exception>
    /// <exception cref="ClipModelException">A file is missing or unusable, or the towers disagree; the message names
    /// the file, the tensor and what was expected versus found.</exception>
    public static ClipModel Load(ClipModelOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        long started = Stopwatch.GetTimestamp();

        ClipModelFiles files = ClipModelFiles.Resolve(options);
        ClipSidecars sidecars = ClipSidecars.Read(files.ModelDirectory, files.Layout, logger);
        var factory = new OnnxSessionFactory(options, logger);

        InferenceSession? imageSession = null;
        InferenceSession? textSession = null;
        ImageEncoder? imageEncoder = null;
        TextEncoder? textEncoder = null;
        bool combined = files.Layout == ClipModelLayout.Combined;
        try
        {
            imageSession = factory.Create(files.ImageModelPath, out ExecutionProviderKind imageProvider);
            imageEncoder = new ImageEncoder(
                imageSession, ownsSession: !combined, TowerBindings.BindImage(imageSession, files, options, sidecars),
                imageProvider, options.UseIoBinding);

            ExecutionProviderKind textProvider = imageProvider;
            textSession = combined ? imageSession : factory.Create(files.TextModelPath, out textProvider);
            bool padWithEndOfText = sidecars.PadWithEndOfText ?? false;
            textEncoder = new TextEncoder(
                textSession, ownsSession: !combined, TowerBindings.BindText(textSession, files, options, sidecars),
                textProvider, padWithEndOfText, sidecars.VocabSize);

            ClipModelDescriptor descriptor = Describe(files, sidecars, imageEncoder, textEncoder, padWithEndOfText, logger);
            var model = new ClipModel(descriptor, imageEncoder, textEncoder, combined ? imageSession : null);
            logger.LogInformation(
                "Loaded {Layout} CLIP model from {ModelDirectory} in {ElapsedMs:F0} ms: embedding dim {EmbeddingDim}, " +
                "image {ImageSize}px on {ImageProvider} (batch {ImageBatch}, normalized {ImageNormalized}), text on " +
                "{TextProvider} (batch {TextBatch}, {IdsType} ids, normalized {TextNormalized}), sidecars {Sidecars}",
                files.Layout,
                files.ModelDirectory,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                descriptor.EmbeddingDim,
                descriptor.ImageSize,
                descriptor.Image.ExecutionProvider,
                descriptor.Image.FixedBatchSize?.ToString() ?? "dynamic",
                descriptor.Image.OutputNormalized,
                descriptor.Text.ExecutionProvider,
                descriptor.Text.FixedBatchSize?.ToString() ?? "dynamic",
                descriptor.Text.IdsElementType,
                descriptor.Text.OutputNormalized,
                sidecars.FilesRead);
            return model;
        }
        catch
        {
            // Until an encoder exists its session belongs to this method; afterwards the encoder owns it (split),
            // or it is the shared combined session, which only this method and the model ever own.
            textEncoder?.Dispose();
            imageEncoder?.Dispose();
            if (combined || imageEncoder is null)
            {
                imageSession?.Dispose();
            }

            if (!combined && textEncoder is null)
            {
                textSession?.Dispose();
            }

            throw;
        }
    }

    /// <summary>Disposes both encoders and every session.</summary>
    public void Dispose()
    {
        TextEncoder.Dispose();
        ImageEncoder.Dispose();
        _sharedSession?.Dispose();
    }

    private static ClipModelDescriptor Describe(
        ClipModelFiles files,
        ClipSidecars sidecars,
        ImageEncoder imageEncoder,
        TextEncoder textEncoder,
        bool padWithEndOfText,
        ILogger logger)
    {
        ImageTowerDescriptor image = imageEncoder.Descriptor;
        TextTowerDescriptor text = textEncoder.Descriptor;
        if (image.EmbeddingDim != text.EmbeddingDim)
        {
            throw new ClipModelException(
                $"The towers disagree on the embedding dim: image tower '{image.ModelPath}' output " +
                $"'{image.OutputName}' has {image.EmbeddingDim}, text tower '{text.ModelPath}' output " +
                $"'{text.OutputName}' has {text.EmbeddingDim}. The two files do not belong to the same CLIP model.");
        }

        if (sidecars.EmbeddingDim is { } claimed && claimed != image.EmbeddingDim)
        {
            logger.LogWarning(
                "Sidecar config in {ModelDirectory} says the embedding dim is {ClaimedDim} but both towers return " +
                "{EmbeddingDim}; using the towers' value",
                files.ModelDirectory, claimed, image.EmbeddingDim);
        }

        return new ClipModelDescriptor
        {
            Layout = files.Layout,
            ModelDirectory = files.ModelDirectory,
            Image = image,
            Text = text,
            EmbeddingDim = image.EmbeddingDim,
            ImageSize = image.ImageSize,
            ResizeSize = sidecars.ResizeSize ?? image.ImageSize,
            ResizeMode = sidecars.ResizeMode ?? ImageResizeMode.Shortest,
            Interpolation = sidecars.Interpolation ?? ImageInterpolation.Bicubic,
            CenterCrop = sidecars.CenterCrop ?? true,
            ImageMean = sidecars.Mean ?? ClipModelDescriptor.OpenAiMean,
            ImageStd = sidecars.Std ?? ClipModelDescriptor.OpenAiStd,
            ContextLength = textEncoder.ContextLength,
            PadWithEndOfText = padWithEndOfText,
            VocabSize = sidecars.VocabSize,
            SidecarFiles = sidecars.FilesRead,
        };
    }
}
