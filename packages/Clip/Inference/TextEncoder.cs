using System.Numerics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>
/// The CLIP text tower: token ids in, one embedding per text out. Created and owned by <see cref="ClipModel"/>,
/// which disposes it. <see cref="Encode"/> is thread-safe (ONNX Runtime sessions allow concurrent runs); disposing
/// while a call is running is not.
/// </summary>
public sealed class TextEncoder : IDisposable
{
    // Probe row: small ids that exist in every vocabulary; the highest (last) one plays the EOT.
    private static readonly int[] ProbeRow = [1, 2];

    private readonly InferenceSession _session;
    private readonly bool _ownsSession;
    private readonly RunOptions _runOptions = new();
    private readonly TextBinding _binding;
    private readonly bool _padWithEndOfText;
    private readonly int? _vocabSize;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private bool _disposed;

    /// <summary>Binds to <paramref name="session"/> and probes it once to learn the embedding dim and whether it normalizes.</summary>
    /// <param name="session">The text graph (or the combined graph).</param>
    /// <param name="ownsSession">Whether <see cref="Dispose"/> disposes <paramref name="session"/>.</param>
    /// <param name="binding">Names, element types and fixed sizes resolved from the graph.</param>
    /// <param name="provider">The provider the session runs on, for the descriptor.</param>
    /// <param name="padWithEndOfText">Pad with each row's last id (its EOT) instead of 0.</param>
    /// <param name="vocabSize">Ids must be below this when known.</param>
    /// <exception cref="ClipModelException">The probe run fails or returns an unexpected shape.</exception>
    internal TextEncoder(
        InferenceSession session,
        bool ownsSession,
        TextBinding binding,
        ExecutionProviderKind provider,
        bool padWithEndOfText,
        int? vocabSize)
    {
        _session = session;
        _ownsSession = ownsSession;
        _binding = binding;
        _padWithEndOfText = padWithEndOfText;
        _vocabSize = vocabSize;
        var names = new List<string> { binding.IdsInputName };
        if (binding.AttentionMaskName is not null)
        {
            names.Add(binding.AttentionMaskName);
        }

        foreach (DummyInput dummy in binding.DummyInputs)
        {
            names.Add(dummy.Name);
        }

        _inputNames = [.. names];
        _outputNames = [binding.OutputName];
        try
        {
            (int dim, bool normalized) = Probe();
            Descriptor = new TextTowerDescriptor
            {
                ModelPath = binding.ModelPath,
                InputNames = binding.InputNames,
                IdsInputName = binding.IdsInputName,
                IdsElementType = binding.IdsElementType,
                AttentionMaskName = binding.AttentionMaskName,
                FixedBatchSize = binding.FixedBatchSize,
                FixedSequenceLength = binding.FixedSequenceLength,
                OutputName = binding.OutputName,
                EmbeddingDim = dim,
                OutputNormalized = normalized,
                ExecutionProvider = provider,
            };
        }
        catch
        {
            // The session is still the caller's until construction succeeds.
            _runOptions.Dispose();
            throw;
        }
    }

    /// <summary>What loading discovered about this tower.</summary>
    public TextTowerDescriptor Descriptor { get; }

    /// <summary>Length of one embedding (floats per text in the output).</summary>
    public int EmbeddingDim => Descriptor.EmbeddingDim;

    /// <summary>Maximum ids per text, SOT and EOT included (77 for CLIP).</summary>
    public int ContextLength => _binding.ContextLength;

    /// <summary>
    /// Embeds tokenized texts. Rows are padded to <see cref="TextTowerDescriptor.FixedSequenceLength"/> when the
    /// graph fixes it, otherwise to the longest row of the batch, with the row's EOT (when
    /// <see cref="ClipModelDescriptor.PadWithEndOfText"/>) or 0; the attention mask, when the graph has one, is 1
    /// over the real ids. Padding does not change the result: attention is causal and pooling happens at the EOT.
    /// A fixed-batch graph (Immich: 1) is run chunk by chunk. The output is the raw tower output.
    /// </summary>
    /// <param name="tokenIds">One row per text: SOT, content ids, EOT, no padding; 1 to <see cref="ContextLength"/>
    /// ids, each in [0, vocab size). Read only during the call.</param>
    /// <param name="embeddings">Receives [texts, <see cref="EmbeddingDim"/>] float32, row-major; exactly that long.</param>
    /// <exception cref="ArgumentException">A row is empty, too long or holds an out-of-range id, or a length does not match.</exception>
    /// <exception cref="ClipModelException">ONNX Runtime fails or returns an unexpected shape.</exception>
    public void Encode(IReadOnlyList<int[]> tokenIds, Span<float> embeddings)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(tokenIds);
        int texts = tokenIds.Count;
        if (texts == 0)
        {
            throw new ArgumentException("At least one row of token ids is required.", nameof(tokenIds));
        }

        for (int i = 0; i < texts; i++)
        {
            ValidateRow(tokenIds[i], i, nameof(tokenIds));
        }

        int dim = Descriptor.EmbeddingDim;
        if (embeddings.Length != (long)texts * dim)
        {
            throw new ArgumentException(
                $"Expected room for {texts} x {dim} = {(long)texts * dim} floats; got {embeddings.Length}.",
                nameof(embeddings));
        }

        int chunk = _binding.FixedBatchSize ?? texts;
        for (int start = 0; start < texts; start += chunk)
        {
            int count = Math.Min(chunk, texts - start);
            int runBatch = _binding.FixedBatchSize ?? count;
            using IDisposableReadOnlyCollection<OrtValue> outputs = Run(tokenIds, start, count, runBatch);
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

    private void ValidateRow(int[]? row, int index, string paramName)
    {
        if (row is null || row.Length == 0 || row.Length > _binding.ContextLength)
        {
            throw new ArgumentException(
                $"Row {index} has {row?.Length.ToString() ?? "no"} ids; expected 1 to {_binding.ContextLength} " +
                "(SOT ... EOT, truncated by the tokenizer).",
                paramName);
        }

        int limit = _vocabSize ?? int.MaxValue;
        foreach (int id in row)
        {
            if ((uint)id >= (uint)limit)
            {
                throw new ArgumentException(
                    $"Row {index} holds id {id}; ids must be in [0, {(_vocabSize is null ? "int.MaxValue" : limit)}).",
                    paramName);
            }
        }
    }

    private (int Dim, bool Normalized) Probe()
    {
        int runBatch = _binding.FixedBatchSize ?? 1;
        using IDisposableReadOnlyCollection<OrtValue> outputs = Run([ProbeRow], 0, 1, runBatch);
        int dim = EmbeddingOutput.ReadDim(
            outputs[0], runBatch, _binding.ModelPath, _binding.OutputName, out TensorElementType outputType);
        if (_binding.DeclaredEmbeddingDim is { } declared && declared != dim)
        {
            throw new ClipModelException(
                $"Text tower '{_binding.ModelPath}': output '{_binding.OutputName}' declares {declared} columns but " +
                $"returned {dim}.");
        }

        var embeddings = new float[runBatch * dim];
        EmbeddingOutput.CopyRows(outputs[0], runBatch, runBatch, dim, embeddings, _binding.ModelPath, _binding.OutputName);
        return (dim, EmbeddingOutput.AllRowsUnitNorm(embeddings, dim, outputType));
    }

    /// <summary>
    /// One session run over rows [<paramref name="start"/>, start + <paramref name="count"/>); rows beyond them up
    /// to <paramref name="runBatch"/> (fixed-batch graphs) repeat the last real row and their outputs are ignored.
    /// The caller disposes the outputs.
    /// </summary>
    private IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyList<int[]> rows, int start, int count, int runBatch)
    {
        int sequence = _binding.FixedSequenceLength ?? LongestRow(rows, start, count);
        long[] shape = [runBatch, sequence];
        using var inputs = new PooledOrtInputs(_inputNames.Length);
        if (_binding.IdsElementType == TensorElementType.Int32)
        {
            FillIds(inputs.Add<int>(0, shape), rows, start, count, runBatch, sequence);
        }
        else
        {
            FillIds(inputs.Add<long>(0, shape), rows, start, count, runBatch, sequence);
        }

        int slot = 1;
        if (_binding.AttentionMaskName is not null)
        {
            if (_binding.AttentionMaskElementType == TensorElementType.Int32)
            {
                FillMask(inputs.Add<int>(slot, shape), rows, start, count, runBatch, sequence);
            }
            else
            {
                FillMask(inputs.Add<long>(slot, shape), rows, start, count, runBatch, sequence);
            }

            slot++;
        }

        foreach (DummyInput dummy in _binding.DummyInputs)
        {
            inputs.AddDummy(slot++, dummy);
        }

        try
        {
            return _session.Run(_runOptions, _inputNames, inputs.Values, _outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ClipModelException(
                $"Text tower '{_binding.ModelPath}' failed to run on [{runBatch},{sequence}] ids: {e.Message}", e);
        }
    }

    private void FillIds<T>(Span<T> tensor, IReadOnlyList<int[]> rows, int start, int count, int runBatch, int sequence)
        where T : unmanaged, IBinaryInteger<T>
    {
        for (int r = 0; r < runBatch; r++)
        {
            int[] row = rows[start + Math.Min(r, count - 1)];
            Span<T> target = tensor.Slice(r * sequence, sequence);
            for (int i = 0; i < row.Length; i++)
            {
                target[i] = T.CreateTruncating(row[i]);
            }

            // HF/Immich pad with <|endoftext|>; rows end with their EOT, so repeating the last id is that pad.
            target[row.Length..].Fill(_padWithEndOfText ? T.CreateTruncating(row[^1]) : T.Zero);
        }
    }

    private static void FillMask<T>(Span<T> tensor, IReadOnlyList<int[]> rows, int start, int count, int runBatch, int sequence)
        where T : unmanaged, IBinaryInteger<T>
    {
        for (int r = 0; r < runBatch; r++)
        {
            int length = rows[start + Math.Min(r, count - 1)].Length;
            Span<T> target = tensor.Slice(r * sequence, sequence);
            target[..length].Fill(T.One);
            target[length..].Fill(T.Zero);
        }
    }

    private static int LongestRow(IReadOnlyList<int[]> rows, int start, int count)
    {
        int longest = 0;
        for (int i = start; i < start + count; i++)
        {
            longest = Math.Max(longest, rows[i].Length);
        }

        return longest;
    }
}
