using System.Buffers;
using System.Diagnostics.Metrics;
using Clip.Batching;
using Clip.Diagnostics;
using Clip.Embeddings;
using Clip.Imaging;
using Clip.Inference;
using Clip.Tokenization;
using Microsoft.Extensions.Logging;

namespace Clip;

/// <summary>
/// The CLIP engine's facade: decoded images and label texts in, zero-shot probabilities (or embeddings) out.
/// Composes the tokenizer, the Pillow-exact preprocessor, the two ONNX towers and the label-embedding cache.
/// Created once at load; every method is thread-safe.
/// </summary>
public sealed class ZeroShotClassifier : IDisposable
{
    /// <summary>Most texts <see cref="EmbedTexts"/> sends through the text tower in one run.</summary>
    public const int TextRowsPerRun = 64;

    private readonly ClipModel _model;
    private readonly ClipTokenizer _tokenizer;
    private readonly ClipPreprocessor _preprocessor;
    private readonly LabelEmbeddingCache _labelCache;
    private readonly string _modelId;
    private readonly ImageBatcher? _batcher;
    private readonly ClipMetrics _metrics;
    private long _textRowsEncoded;

    private ZeroShotClassifier(
        ClipEngineOptions options, ClipModel model, ClipTokenizer tokenizer, ClipPreprocessor preprocessor, IMeterFactory? meterFactory)
    {
        Options = options;
        _model = model;
        _tokenizer = tokenizer;
        _preprocessor = preprocessor;
        _labelCache = new LabelEmbeddingCache(options.LabelCacheCapacity);
        _modelId = model.Descriptor.ModelDirectory + "#" + model.Descriptor.Layout;
        var batching = model.Descriptor.Image.FixedBatchSize is null ? options.Batching : null;
        PreprocessingSlots = new PreprocessingSlots(options.PreprocessThreads > 0 ? options.PreprocessThreads : PreprocessingSlots.Unbounded);
        DecodeBudget = new DecodeBudget(options.EffectiveMaxPixelsInFlight);
        _metrics = new ClipMetrics(
            meterFactory, _labelCache, batching is null ? null : () => _batcher!.QueuedRequests, () => PreprocessingSlots.Waiting, DecodeBudget);
        var decode = options.Decode;
        Decoder = new ImageDecoder(options.FastJpegDecode
            ? new ImageDecodeOptions(decode.MaxPixels, decode.MaxWidth, decode.MaxHeight, decode.ApplyExifOrientation, decode.AlphaMode)
            {
                FastJpegMinShortSide = 2 * preprocessor.Size,
                JpegDecoder = decode.JpegDecoder,
            }
            : decode)
        {
            Metrics = _metrics,
        };
        if (batching is not null)
        {
            _batcher = new ImageBatcher(EncodeImages, preprocessor.TensorLength, model.Descriptor.EmbeddingDim, batching);
        }
    }

    /// <summary>The dynamic batcher, when batching is on and the image tower allows it.</summary>
    public ImageBatcher? Batcher => _batcher;

    /// <summary>
    /// Bounds the requests that decode and preprocess at the same time (<see cref="ClipEngineOptions.PreprocessThreads"/>):
    /// <c>ClassifyAsync</c> and <c>EmbedImagesAsync</c> decode (when given a loader) and preprocess while holding a slot,
    /// and a caller that also downloads takes one first and hands it to them.
    /// </summary>
    public PreprocessingSlots PreprocessingSlots { get; }

    /// <summary>
    /// Bounds the pixels decoded at the same time by <see cref="DecodeAsync"/> across all requests
    /// (<see cref="ClipEngineOptions.MaxPixelsInFlight"/>).
    /// </summary>
    public DecodeBudget DecodeBudget { get; }

    /// <summary>The options this engine was loaded with.</summary>
    public ClipEngineOptions Options { get; }

    /// <summary>What load discovered about the model (layout, tensor names, sizes, provider).</summary>
    public ClipModelDescriptor Descriptor => _model.Descriptor;

    /// <summary>The preprocessing actually applied (sidecars merged with overrides).</summary>
    public ClipPreprocessOptions Preprocessing => _preprocessor.Options;

    /// <summary>The tokenizer (thread-safe).</summary>
    public ClipTokenizer Tokenizer => _tokenizer;

    /// <summary>The decoder for encoded images, with the configured limits.</summary>
    public ImageDecoder Decoder { get; }

    /// <summary>
    /// Decodes an encoded image once <see cref="DecodeBudget"/> has room for it: the header is read first (no pixels),
    /// the image's pixel count is reserved, waiting in arrival order while other requests' decoded images fill the
    /// budget, and the reservation is held by the returned image until it is disposed. The server's loaders decode
    /// through this; <see cref="Decoder"/> decodes without reserving.
    /// </summary>
    /// <param name="encoded">The complete encoded file; read in place, and not needed once this completes.</param>
    /// <param name="cancellationToken">Cancels the wait for room.</param>
    /// <returns>An upright RGB image the caller owns and must dispose (which gives its room back).</returns>
    /// <exception cref="ImageDecodeException">As <see cref="ImageDecoder.Decode(ReadOnlySpan{byte})"/>, before anything is reserved when the header is at fault.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting for room.</exception>
    public ValueTask<RgbImage> DecodeAsync(ReadOnlyMemory<byte> encoded, CancellationToken cancellationToken)
    {
        var header = Decoder.ReadHeader(encoded.Span);
        var reserving = DecodeBudget.ReserveAsync(header.Pixels, cancellationToken);
        return reserving.IsCompletedSuccessfully
            ? new ValueTask<RgbImage>(DecodeReserved(encoded.Span, reserving.Result))
            : DecodeWhenReservedAsync(encoded, reserving);
    }

    private async ValueTask<RgbImage> DecodeWhenReservedAsync(ReadOnlyMemory<byte> encoded, ValueTask<IDisposable> reserving)
    {
        var reservation = await reserving.ConfigureAwait(false);
        return DecodeReserved(encoded.Span, reservation);
    }

    private RgbImage DecodeReserved(ReadOnlySpan<byte> encoded, IDisposable reservation)
    {
        try
        {
            var image = Decoder.Decode(encoded);
            image.HoldUntilDisposed(reservation);
            return image;
        }
        catch
        {
            reservation.Dispose();
            throw;
        }
    }

    /// <summary>Label-cache statistics.</summary>
    public LabelEmbeddingCache LabelCache => _labelCache;

    /// <summary>Text-encoder rows run so far (each cache miss is one).</summary>
    public long TextRowsEncoded => Interlocked.Read(ref _textRowsEncoded);

    /// <summary>Embedding width shared by both towers.</summary>
    public int EmbeddingDim => _model.Descriptor.EmbeddingDim;

    /// <summary>Loads the model, tokenizer and preprocessing; throws <see cref="ClipModelException"/> with a clear message on failure.</summary>
    /// <param name="options">What to load and how to run it.</param>
    /// <param name="loggerFactory">Where the engine logs.</param>
    /// <param name="meterFactory">Where the engine's instruments (<see cref="ClipMetrics"/>) are created; null gives the engine a meter of its own.</param>
    public static ZeroShotClassifier Load(ClipEngineOptions options, ILoggerFactory loggerFactory, IMeterFactory? meterFactory = null)
    {
        var logger = loggerFactory.CreateLogger<ZeroShotClassifier>();
        var model = ClipModel.Load(options.Model, loggerFactory.CreateLogger<ClipModel>());
        try
        {
            var tokenizer = LoadTokenizer(options, model.Descriptor);
            var preprocess = MergePreprocessing(options.Preprocess, model.Descriptor, logger);
            if (preprocess.Size != model.Descriptor.ImageSize)
            {
                throw new ClipModelException(
                    $"The image size {preprocess.Size} does not match the image tower's input size {model.Descriptor.ImageSize} ({model.Descriptor.Image.ModelPath}).");
            }

            logger.LogInformation(
                "CLIP engine ready: tokenizer vocabulary {VocabularySize}, image {ImageSize}px {ResizeMode} {Interpolation}, logit scale {LogitScale}, {TemplateCount} prompt templates",
                tokenizer.VocabularySize, preprocess.Size, preprocess.ResizeMode, preprocess.Interpolation, options.LogitScale, options.PromptTemplates.Count);
            var classifier = new ZeroShotClassifier(options, model, tokenizer, new ClipPreprocessor(preprocess), meterFactory);
            logger.LogInformation("JPEG decoder: {JpegDecoder}", classifier.Decoder.JpegDecoderDescription);
            return classifier;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Zero-shot probabilities: one array per image, one probability per label in label order, summing to 1.
    /// <paramref name="templates"/> overrides <see cref="ClipEngineOptions.PromptTemplates"/> for this call.
    /// </summary>
    public float[][] Classify(IReadOnlyList<RgbImage> images, IReadOnlyList<string> labels, IReadOnlyList<string>? templates = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(labels.Count);
        var dim = EmbeddingDim;
        var labelEmbeddings = ArrayPool<float>.Shared.Rent(labels.Count * dim);
        var imageEmbeddings = ArrayPool<float>.Shared.Rent(images.Count * dim);
        try
        {
            EmbedLabels(labels, templates ?? Options.PromptTemplates, labelEmbeddings.AsSpan(0, labels.Count * dim));
            EmbedImages(images, imageEmbeddings.AsSpan(0, images.Count * dim));
            return Score(imageEmbeddings.AsSpan(0, images.Count * dim), labelEmbeddings.AsSpan(0, labels.Count * dim), labels.Count);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(labelEmbeddings);
            ArrayPool<float>.Shared.Return(imageEmbeddings);
        }
    }

    /// <summary>
    /// <see cref="Classify"/> for the server: preprocessing runs on the caller's thread while it holds one of the
    /// <see cref="PreprocessingSlots"/> (so it is parallel across requests, up to their count), and the image tower
    /// run joins other requests' in a dynamic batch when batching is on.
    /// </summary>
    /// <param name="images">The decoded images.</param>
    /// <param name="labels">The labels to score.</param>
    /// <param name="templates">Overrides <see cref="ClipEngineOptions.PromptTemplates"/> for this call when not null.</param>
    /// <param name="cancellationToken">Cancels the wait for a slot or for the image tower.</param>
    /// <param name="slot">
    /// A slot the caller took (for instance before decoding the images), which this call gives back once the images
    /// are preprocessed, also on failure; null takes one here.
    /// </param>
    public Task<float[][]> ClassifyAsync(
        IReadOnlyList<RgbImage> images,
        IReadOnlyList<string> labels,
        IReadOnlyList<string>? templates,
        CancellationToken cancellationToken,
        PreprocessingSlot? slot = null) =>
        ClassifyAsync(images.Count, (index, _) => new ValueTask<RgbImage>(images[index]), ownsImages: false, labels, templates, cancellationToken, slot);

    /// <summary>
    /// <see cref="ClassifyAsync(IReadOnlyList{RgbImage}, IReadOnlyList{string}, IReadOnlyList{string}?, CancellationToken, PreprocessingSlot?)"/>
    /// with images decoded one at a time: <paramref name="loadImage"/> decodes image <c>index</c> when its turn comes,
    /// and the engine disposes it once preprocessed, before loading the next. A request then holds one decoded image
    /// at a time, not all of them: 32 images of 50 MP decoded up front would hold 4.8 GB. A loader that decodes
    /// through <see cref="DecodeAsync"/> also bounds the pixels decoded across requests.
    /// </summary>
    /// <param name="imageCount">How many images (none gives no predictions).</param>
    /// <param name="loadImage">Decodes image <c>index</c> (0 to <paramref name="imageCount"/> − 1) into a new image
    /// the engine then owns; called in order, one at a time, while the slot is held, with this call's cancellation
    /// token. What it throws (a bad image) ends the call, with the slot given back.</param>
    /// <param name="labels">The labels to score.</param>
    /// <param name="templates">Overrides <see cref="ClipEngineOptions.PromptTemplates"/> for this call when not null.</param>
    /// <param name="cancellationToken">Cancels the wait for a slot or for the image tower.</param>
    /// <param name="slot">As in the other overload.</param>
    public Task<float[][]> ClassifyAsync(
        int imageCount,
        Func<int, CancellationToken, ValueTask<RgbImage>> loadImage,
        IReadOnlyList<string> labels,
        IReadOnlyList<string>? templates,
        CancellationToken cancellationToken,
        PreprocessingSlot? slot = null) =>
        ClassifyAsync(imageCount, loadImage, ownsImages: true, labels, templates, cancellationToken, slot);

    private async Task<float[][]> ClassifyAsync(
        int imageCount,
        Func<int, CancellationToken, ValueTask<RgbImage>> loadImage,
        bool ownsImages,
        IReadOnlyList<string> labels,
        IReadOnlyList<string>? templates,
        CancellationToken cancellationToken,
        PreprocessingSlot? slot)
    {
        if (labels.Count == 0)
        {
            slot?.Dispose();
            throw new ArgumentOutOfRangeException(nameof(labels), "At least one label is needed.");
        }

        var imageEmbeddings = await EmbedImagesAsync(imageCount, loadImage, ownsImages, cancellationToken, slot).ConfigureAwait(false);
        var labelEmbeddings = new float[labels.Count * EmbeddingDim];
        EmbedLabels(labels, templates ?? Options.PromptTemplates, labelEmbeddings);
        return Score(imageEmbeddings, labelEmbeddings, labels.Count);
    }

    /// <summary>
    /// <see cref="EmbedImages"/> for the server: L2-normalized image embeddings, row-major [images, dim].
    /// Preprocessing runs on the caller's thread while it holds one of the <see cref="PreprocessingSlots"/>; the
    /// image tower run then joins other requests' in a dynamic batch when batching is on (otherwise the tower runs
    /// here, synchronously, after the slot is given back).
    /// </summary>
    /// <param name="images">The decoded images.</param>
    /// <param name="cancellationToken">Cancels the wait for a slot or for the image tower.</param>
    /// <param name="slot">
    /// A slot the caller took, which this call gives back once the images are preprocessed, also on failure; null
    /// takes one here.
    /// </param>
    public Task<float[]> EmbedImagesAsync(IReadOnlyList<RgbImage> images, CancellationToken cancellationToken, PreprocessingSlot? slot = null) =>
        EmbedImagesAsync(images.Count, (index, _) => new ValueTask<RgbImage>(images[index]), ownsImages: false, cancellationToken, slot);

    /// <summary>
    /// <see cref="EmbedImagesAsync(IReadOnlyList{RgbImage}, CancellationToken, PreprocessingSlot?)"/> with images
    /// decoded one at a time, as in <see cref="ClassifyAsync(int, Func{int, CancellationToken, ValueTask{RgbImage}}, IReadOnlyList{string}, IReadOnlyList{string}?, CancellationToken, PreprocessingSlot?)"/>.
    /// </summary>
    public Task<float[]> EmbedImagesAsync(int imageCount, Func<int, CancellationToken, ValueTask<RgbImage>> loadImage, CancellationToken cancellationToken, PreprocessingSlot? slot = null) =>
        EmbedImagesAsync(imageCount, loadImage, ownsImages: true, cancellationToken, slot);

    private async Task<float[]> EmbedImagesAsync(
        int imageCount, Func<int, CancellationToken, ValueTask<RgbImage>> loadImage, bool ownsImages, CancellationToken cancellationToken, PreprocessingSlot? slot)
    {
        var dim = EmbeddingDim;
        if (imageCount <= 0)
        {
            slot?.Dispose();
            return imageCount == 0 ? [] : throw new ArgumentOutOfRangeException(nameof(imageCount), imageCount, "A count of images cannot be negative.");
        }

        var tensorLength = _preprocessor.TensorLength;
        var pixels = ArrayPool<float>.Shared.Rent(imageCount * tensorLength);
        try
        {
            ImageBatcher.Announcement? announcement = null;
            try
            {
                slot ??= await PreprocessingSlots.EnterAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    for (var i = 0; i < imageCount; i++)
                    {
                        // A client that left stops the decoding of its remaining images (32 large ones take seconds).
                        cancellationToken.ThrowIfCancellationRequested();
                        var image = await loadImage(i, cancellationToken).ConfigureAwait(false);
                        try
                        {
                            // A batch being filled waits for announced requests (see ImageBatcher.Announce), so this
                            // one announces itself once its first image is decoded and it is really preprocessing:
                            // waiting for its decode as well cost more than the larger batches saved (measured).
                            announcement ??= _batcher?.Announce();
                            Preprocess(image, pixels.AsSpan(i * tensorLength, tensorLength));
                        }
                        finally
                        {
                            if (ownsImages)
                            {
                                image.Dispose();
                            }
                        }
                    }
                }
                catch
                {
                    announcement?.Dispose();
                    throw;
                }
            }
            finally
            {
                slot?.Dispose();
            }

            float[] embeddings;
            if (announcement is null)
            {
                embeddings = new float[imageCount * dim];
                EncodeImages(pixels.AsSpan(0, imageCount * tensorLength), imageCount, embeddings);
            }
            else
            {
                using (announcement)
                {
                    embeddings = await _batcher!.EncodeAsync(pixels, imageCount, cancellationToken, announcement).ConfigureAwait(false);
                }
            }

            NormalizeRows(embeddings, dim);
            return embeddings;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
        }
    }

    /// <summary>Probabilities over the labels for each image row of <paramref name="imageEmbeddings"/>.</summary>
    private float[][] Score(ReadOnlySpan<float> imageEmbeddings, ReadOnlySpan<float> labelEmbeddings, int labelCount)
    {
        var dim = EmbeddingDim;
        var results = new float[imageEmbeddings.Length / dim][];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = new float[labelCount];
            Similarity.ZeroShotProbabilities(imageEmbeddings.Slice(i * dim, dim), labelEmbeddings, Options.LogitScale, results[i]);
        }

        return results;
    }

    /// <summary>L2-normalized image embeddings, row-major [images, dim], into <paramref name="destination"/>.</summary>
    public void EmbedImages(IReadOnlyList<RgbImage> images, Span<float> destination)
    {
        var dim = EmbeddingDim;
        if (destination.Length != images.Count * dim)
        {
            throw new ArgumentException($"Expected room for {images.Count} × {dim} floats, got {destination.Length}.", nameof(destination));
        }

        if (images.Count == 0)
        {
            return;
        }

        var tensorLength = _preprocessor.TensorLength;
        var pixels = ArrayPool<float>.Shared.Rent(images.Count * tensorLength);
        try
        {
            for (var i = 0; i < images.Count; i++)
            {
                Preprocess(images[i], pixels.AsSpan(i * tensorLength, tensorLength));
            }

            EncodeImages(pixels.AsSpan(0, images.Count * tensorLength), images.Count, destination);
            NormalizeRows(destination, dim);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
        }
    }

    /// <summary>
    /// L2-normalized label embeddings, row-major [labels, dim]: each label placed into every template, the template
    /// embeddings ensembled, served from the label cache when possible.
    /// </summary>
    public void EmbedLabels(IReadOnlyList<string> labels, IReadOnlyList<string> templates, Span<float> destination)
    {
        var dim = EmbeddingDim;
        var perLabel = Math.Max(1, templates.Count);
        var prompts = new string[labels.Count * perLabel];
        for (var i = 0; i < labels.Count; i++)
        {
            for (var t = 0; t < perLabel; t++)
            {
                prompts[(i * perLabel) + t] = templates.Count == 0 ? labels[i] : templates[t].Replace("{}", labels[i], StringComparison.Ordinal);
            }
        }

        var embeddings = _labelCache.GetOrCompute(_modelId, prompts, EmbedTextsUncached);
        var scratch = perLabel == 1 ? null : new float[perLabel * dim];
        for (var i = 0; i < labels.Count; i++)
        {
            var row = destination.Slice(i * dim, dim);
            if (scratch is null)
            {
                embeddings[i].CopyTo(row);
                continue;
            }

            for (var t = 0; t < perLabel; t++)
            {
                embeddings[(i * perLabel) + t].CopyTo(scratch.AsSpan(t * dim, dim));
            }

            Similarity.EnsembleMean(scratch, perLabel, row);
        }
    }

    /// <summary>
    /// L2-normalized embeddings of <paramref name="texts"/> as written (no prompt templates), row-major
    /// [texts, dim], served from the label cache when possible: a text embedded here and a label with no templates
    /// share one cache entry. The text tower runs on at most <see cref="TextRowsPerRun"/> texts at a time, so a
    /// large request does not multiply the tower's activation memory, and a cancelled one stops between runs.
    /// </summary>
    /// <remarks>
    /// Bulk requests of new texts can fill the label cache, which then clears itself; zero-shot label sets come back
    /// with one text-tower run each, small next to the runs the bulk request itself costs.
    /// </remarks>
    public void EmbedTexts(IReadOnlyList<string> texts, Span<float> destination, CancellationToken cancellationToken = default)
    {
        var dim = EmbeddingDim;
        if (destination.Length != texts.Count * dim)
        {
            throw new ArgumentException($"Expected room for {texts.Count} × {dim} floats, got {destination.Length}.", nameof(destination));
        }

        for (var start = 0; start < texts.Count; start += TextRowsPerRun)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var chunk = new string[Math.Min(TextRowsPerRun, texts.Count - start)];
            for (var i = 0; i < chunk.Length; i++)
            {
                chunk[i] = texts[start + i];
            }

            EmbedLabels(chunk, [], destination.Slice(start * dim, chunk.Length * dim));
        }
    }

    /// <summary>
    /// The number of token ids the text tower reads for <paramref name="text"/>: the start id, the content ids and
    /// the end id, at most the context length (longer text is truncated, as <see cref="EmbedTexts"/> does).
    /// </summary>
    public int CountTokens(string text)
    {
        var contextLength = _model.Descriptor.ContextLength;
        var rented = contextLength > 256 ? ArrayPool<int>.Shared.Rent(contextLength) : null;
        try
        {
            var ids = rented is null ? stackalloc int[contextLength] : rented.AsSpan(0, contextLength);
            return _tokenizer.Encode(text, ids);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// L2-normalized embeddings of <paramref name="texts"/> (no cache, no templates). The text tower runs on at most
    /// <see cref="TextRowsPerRun"/> texts at a time, so a predict request with many new labels (up to
    /// <c>max_labels</c>) does not multiply the tower's activation memory either.
    /// </summary>
    public float[][] EmbedTextsUncached(IReadOnlyList<string> texts)
    {
        var dim = EmbeddingDim;
        var contextLength = _model.Descriptor.ContextLength;
        var ids = new int[texts.Count][];
        for (var i = 0; i < texts.Count; i++)
        {
            ids[i] = _tokenizer.Encode(texts[i], contextLength);
        }

        var flat = ArrayPool<float>.Shared.Rent(texts.Count * dim);
        try
        {
            var span = flat.AsSpan(0, texts.Count * dim);
            for (var start = 0; start < texts.Count; start += TextRowsPerRun)
            {
                var count = Math.Min(TextRowsPerRun, texts.Count - start);
                var started = _metrics.StartInference();
                _model.TextEncoder.Encode(count == ids.Length ? ids : ids[start..(start + count)], span.Slice(start * dim, count * dim));
                _metrics.EndTextTower(started, count);
                Interlocked.Add(ref _textRowsEncoded, count);
            }

            var rows = new float[texts.Count][];
            for (var i = 0; i < texts.Count; i++)
            {
                rows[i] = span.Slice(i * dim, dim).ToArray();
                Similarity.Normalize(rows[i]);
            }

            return rows;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(flat);
        }
    }

    public void Dispose()
    {
        // Queued requests finish (or fail) before the sessions they need go away.
        _batcher?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _model.Dispose();
        _metrics.Dispose();
    }

    /// <summary>Resizes and normalizes one image into its input tensor, timed for <see cref="ClipMetrics"/>.</summary>
    private void Preprocess(RgbImage image, Span<float> destination)
    {
        var started = _metrics.StartPreprocess();
        _preprocessor.Preprocess(image, destination);
        _metrics.EndResizeNormalize(started);
    }

    /// <summary>One image-tower run (direct or from the batcher), timed for <see cref="ClipMetrics"/>.</summary>
    private void EncodeImages(ReadOnlySpan<float> pixels, int batch, Span<float> embeddings)
    {
        var started = _metrics.StartInference();
        _model.ImageEncoder.Encode(pixels, batch, embeddings);
        _metrics.EndImageTower(started, batch);
    }

    private static void NormalizeRows(Span<float> rows, int dim)
    {
        for (var offset = 0; offset < rows.Length; offset += dim)
        {
            Similarity.Normalize(rows.Slice(offset, dim));
        }
    }

    private static ClipTokenizer LoadTokenizer(ClipEngineOptions options, ClipModelDescriptor descriptor)
    {
        // Immich keeps the tokenizer beside the text tower, in textual/.
        var textual = Path.Combine(descriptor.ModelDirectory, "textual");
        var path = options.TokenizerPath
            ?? (descriptor.Layout == ClipModelLayout.Immich && Directory.Exists(textual) ? textual : descriptor.ModelDirectory);
        ClipTokenizer tokenizer;
        try
        {
            tokenizer = Directory.Exists(path)
                ? ClipTokenizer.FromDirectory(path, options.Tokenizer)
                : path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                    ? ClipTokenizer.FromHuggingFaceTokenizerJson(path, options.Tokenizer)
                    : ClipTokenizer.FromBpeMergesFile(path, options.Tokenizer);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new ClipModelException($"Could not load the tokenizer from '{path}': {e.Message}", e);
        }

        if (descriptor.VocabSize is { } modelVocabulary && tokenizer.VocabularySize > modelVocabulary)
        {
            throw new ClipModelException(
                $"The tokenizer at '{path}' has {tokenizer.VocabularySize} tokens but the text tower's vocabulary is {modelVocabulary}; they do not belong together.");
        }

        return tokenizer;
    }

    private static ClipPreprocessOptions MergePreprocessing(PreprocessOverrides overrides, ClipModelDescriptor descriptor, ILogger logger)
    {
        if (overrides.Size is null && descriptor.ResizeSize != descriptor.ImageSize)
        {
            logger.LogWarning(
                "The model resizes to {ResizeSize}px and crops {ImageSize}px; this engine resizes the shortest side straight to the crop size",
                descriptor.ResizeSize, descriptor.ImageSize);
        }

        return new ClipPreprocessOptions(
            size: overrides.Size ?? descriptor.ImageSize,
            resizeMode: overrides.ResizeMode ?? (descriptor.ResizeMode == ImageResizeMode.Squash ? ResizeMode.Squash : ResizeMode.Shortest),
            interpolation: overrides.Interpolation ?? (descriptor.Interpolation == ImageInterpolation.Bilinear ? ResampleFilter.Bilinear : ResampleFilter.Bicubic),
            cropRounding: overrides.CropRounding,
            mean: overrides.Mean ?? descriptor.ImageMean,
            std: overrides.Std ?? descriptor.ImageStd);
    }
}
