using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>
/// The CLIP image tower: preprocessed pixels in, one embedding per image out. Created and owned by
/// <see cref="ClipModel"/>, which disposes it. <see cref="Encode"/> is thread-safe (ONNX Runtime sessions allow
/// concurrent runs); disposing while a call is running is not.
/// </summary>
public sealed class ImageEncoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly bool _ownsSession;
    private readonly RunOptions _runOptions = new();
    private readonly ImageBinding _binding;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _pixelsPerImage;
    private readonly bool _useIoBinding;
    private bool _disposed;

    /// <summary>Binds to <paramref name="session"/> and probes it once to learn the embedding dim and whether it normalizes.</summary>
    /// <exception cref="ClipModelException">The probe run fails or returns an unexpected shape.</exception>
    internal ImageEncoder(InferenceSession session, bool ownsSession, ImageBinding binding, ExecutionProviderKind provider, bool? useIoBinding = null)
    {
        _session = session;
        _ownsSession = ownsSession;
        _binding = binding;
        _pixelsPerImage = 3 * binding.ImageSize * binding.ImageSize;
        _inputNames = new string[1 + binding.DummyInputs.Count];
        _inputNames[0] = binding.PixelInputName;
        for (int i = 0; i < binding.DummyInputs.Count; i++)
        {
            _inputNames[i + 1] = binding.DummyInputs[i].Name;
        }

        _outputNames = [binding.OutputName];
        try
        {
            (int dim, bool normalized, TensorElementType outputType) = Probe();
            Descriptor = new ImageTowerDescriptor
            {
                ModelPath = binding.ModelPath,
                InputNames = binding.InputNames,
                PixelInputName = binding.PixelInputName,
                PixelElementType = binding.PixelElementType,
                FixedBatchSize = binding.FixedBatchSize,
                ImageSize = binding.ImageSize,
                OutputName = binding.OutputName,
                EmbeddingDim = dim,
                OutputNormalized = normalized,
                ExecutionProvider = provider,
            };

            // Binding the output to the caller's buffer needs its exact shape: a dynamic batch and float32 rows.
            _useIoBinding = (useIoBinding ?? provider == ExecutionProviderKind.Cuda) &&
                binding.FixedBatchSize is null && outputType == TensorElementType.Float;
        }
        catch
        {
            // The session is still the caller's until construction succeeds.
            _runOptions.Dispose();
            throw;
        }
    }

    /// <summary>What loading discovered about this tower.</summary>
    public ImageTowerDescriptor Descriptor { get; }

    /// <summary>Whether runs go through I/O binding (see <see cref="ClipModelOptions.UseIoBinding"/>).</summary>
    public bool UsesIoBinding => _useIoBinding;

    /// <summary>Length of one embedding (floats per image in the output).</summary>
    public int EmbeddingDim => Descriptor.EmbeddingDim;

    /// <summary>Side length in pixels of the square input image.</summary>
    public int ImageSize => Descriptor.ImageSize;

    /// <summary>
    /// Embeds <paramref name="batch"/> preprocessed images. A fixed-batch graph (Immich: 1) is run chunk by chunk;
    /// a dynamic one in a single run. The output is the raw tower output: L2-normalized only when
    /// <see cref="ImageTowerDescriptor.OutputNormalized"/> says the graph does it.
    /// </summary>
    /// <param name="pixels">float32 NCHW [batch, 3, <see cref="ImageSize"/>, <see cref="ImageSize"/>], normalized
    /// with the model's mean/std. Read only during the call (copied into a pooled buffer).</param>
    /// <param name="batch">Number of images, at least 1.</param>
    /// <param name="embeddings">Receives [batch, <see cref="EmbeddingDim"/>] float32, row-major; exactly that long.</param>
    /// <exception cref="ArgumentException">A length does not match <paramref name="batch"/>.</exception>
    /// <exception cref="ClipModelException">ONNX Runtime fails or returns an unexpected shape.</exception>
    public void Encode(ReadOnlySpan<float> pixels, int batch, Span<float> embeddings)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        int dim = Descriptor.EmbeddingDim;
        if (pixels.Length != (long)batch * _pixelsPerImage)
        {
            throw new ArgumentException(
                $"Expected {batch} x 3 x {ImageSize} x {ImageSize} = {(long)batch * _pixelsPerImage} floats; got " +
                $"{pixels.Length}.",
                nameof(pixels));
        }

        if (embeddings.Length != (long)batch * dim)
        {
            throw new ArgumentException(
                $"Expected room for {batch} x {dim} = {(long)batch * dim} floats; got {embeddings.Length}.",
                nameof(embeddings));
        }

        if (_useIoBinding)
        {
            RunBound(pixels, batch, embeddings);
            return;
        }

        int chunk = _binding.FixedBatchSize ?? batch;
        for (int start = 0; start < batch; start += chunk)
        {
            int count = Math.Min(chunk, batch - start);
            int runBatch = _binding.FixedBatchSize ?? count;
            using IDisposableReadOnlyCollection<OrtValue> outputs =
                Run(pixels.Slice(start * _pixelsPerImage, count * _pixelsPerImage), count, runBatch);
            EmbeddingOutput.CopyRows(
                outputs[0], runBatch, count, dim, embeddings.Slice(start * dim, count * dim), _binding.ModelPath,
                _binding.OutputName);
        }
    }

    /// <summary>Disposes the session when this encoder owns it (split layouts) and the run options.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _runOptions.Dispose();
        if (_ownsSession)
        {
            _session.Dispose();
        }
    }

    private (int Dim, bool Normalized, TensorElementType OutputType) Probe()
    {
        // A fixed, non-constant pattern: a constant input could hide a broken graph behind a plausible output.
        int runBatch = _binding.FixedBatchSize ?? 1;
        var pixels = new float[runBatch * _pixelsPerImage];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = ((i % 7) - 3) / 3f;
        }

        using IDisposableReadOnlyCollection<OrtValue> outputs = Run(pixels, runBatch, runBatch);
        int dim = EmbeddingOutput.ReadDim(
            outputs[0], runBatch, _binding.ModelPath, _binding.OutputName, out TensorElementType outputType);
        if (_binding.DeclaredEmbeddingDim is { } declared && declared != dim)
        {
            throw new ClipModelException(
                $"Image tower '{_binding.ModelPath}': output '{_binding.OutputName}' declares {declared} columns but " +
                $"returned {dim}.");
        }

        var embeddings = new float[runBatch * dim];
        EmbeddingOutput.CopyRows(outputs[0], runBatch, runBatch, dim, embeddings, _binding.ModelPath, _binding.OutputName);
        return (dim, EmbeddingOutput.AllRowsUnitNorm(embeddings, dim, outputType), outputType);
    }

    /// <summary>
    /// One run through I/O binding: ONNX Runtime writes the [batch, dim] float32 output straight into
    /// <paramref name="embeddings"/> (pinned for the call), so no output tensor is allocated or copied.
    /// </summary>
    private unsafe void RunBound(ReadOnlySpan<float> pixels, int batch, Span<float> embeddings)
    {
        using var inputs = FillInputs(pixels, batch, batch, out long[] shape);
        using OrtIoBinding io = _session.CreateIoBinding();
        for (int i = 0; i < _inputNames.Length; i++)
        {
            io.BindInput(_inputNames[i], inputs.Values[i]);
        }

        fixed (float* destination = embeddings)
        {
            using var output = OrtValue.CreateTensorValueWithData(
                OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [batch, Descriptor.EmbeddingDim], (nint)destination,
                (long)embeddings.Length * sizeof(float));
            io.BindOutput(_binding.OutputName, output);
            try
            {
                _session.RunWithBinding(_runOptions, io);
                io.SynchronizeBoundOutputs();
            }
            catch (OnnxRuntimeException e)
            {
                throw new ClipModelException(
                    $"Image tower '{_binding.ModelPath}' failed to run on [{string.Join(",", shape)}] pixels: {e.Message}",
                    e);
            }
        }
    }

    /// <summary>
    /// One session run over <paramref name="count"/> images; rows beyond them up to <paramref name="runBatch"/>
    /// (fixed-batch graphs) are zero images whose outputs are ignored. The caller disposes the outputs.
    /// </summary>
    private IDisposableReadOnlyCollection<OrtValue> Run(ReadOnlySpan<float> pixels, int count, int runBatch)
    {
        using var inputs = FillInputs(pixels, count, runBatch, out long[] shape);
        try
        {
            return _session.Run(_runOptions, _inputNames, inputs.Values, _outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ClipModelException(
                $"Image tower '{_binding.ModelPath}' failed to run on [{string.Join(",", shape)}] pixels: {e.Message}",
                e);
        }
    }

    /// <summary>The pixel tensor (zero rows past <paramref name="count"/>) and any dummy inputs, over pooled memory.</summary>
    private PooledOrtInputs FillInputs(ReadOnlySpan<float> pixels, int count, int runBatch, out long[] shape)
    {
        var inputs = new PooledOrtInputs(_inputNames.Length);
        shape = [runBatch, 3, _binding.ImageSize, _binding.ImageSize];
        int filled = count * _pixelsPerImage;
        if (_binding.PixelElementType == TensorElementType.Float16)
        {
            Span<Float16> tensor = inputs.Add<Float16>(0, shape);
            for (int i = 0; i < filled; i++)
            {
                tensor[i] = (Float16)pixels[i];
            }

            tensor[filled..].Clear();
        }
        else
        {
            Span<float> tensor = inputs.Add<float>(0, shape);
            pixels[..filled].CopyTo(tensor);
            tensor[filled..].Clear();
        }

        for (int i = 0; i < _binding.DummyInputs.Count; i++)
        {
            inputs.AddDummy(i + 1, _binding.DummyInputs[i]);
        }

        return inputs;
    }
}
