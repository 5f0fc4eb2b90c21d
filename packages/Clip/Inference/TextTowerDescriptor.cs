using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>What loading discovered about the text tower (from the ONNX metadata and one probe run). Immutable.</summary>
public sealed record TextTowerDescriptor
{
    /// <summary>Full path of the ONNX file (the shared graph for <see cref="ClipModelLayout.Combined"/>).</summary>
    public required string ModelPath { get; init; }

    /// <summary>Every input the graph declares, in graph order (the combined graph also lists its pixel input).</summary>
    public required IReadOnlyList<string> InputNames { get; init; }

    /// <summary>The token id input, [batch, sequence].</summary>
    public required string IdsInputName { get; init; }

    /// <summary>Element type of the ids: <see cref="TensorElementType.Int32"/> or <see cref="TensorElementType.Int64"/>.</summary>
    public required TensorElementType IdsElementType { get; init; }

    /// <summary>The attention mask input (1 = real token, 0 = padding), or <see langword="null"/> when the graph has none.</summary>
    public required string? AttentionMaskName { get; init; }

    /// <summary>The batch size the graph is fixed to (Immich: 1), or <see langword="null"/> when the batch is dynamic.</summary>
    public required int? FixedBatchSize { get; init; }

    /// <summary>
    /// The sequence length the graph is fixed to (Immich: 77; rows are padded to it), or <see langword="null"/>
    /// when it is dynamic (each batch is padded to its longest row).
    /// </summary>
    public required int? FixedSequenceLength { get; init; }

    /// <summary>The embedding output, [batch, <see cref="EmbeddingDim"/>].</summary>
    public required string OutputName { get; init; }

    /// <summary>Length of one text embedding.</summary>
    public required int EmbeddingDim { get; init; }

    /// <summary>
    /// Whether the graph already L2-normalizes its output (every row of the probe run had norm 1 ± 1e-3, ± 1e-2 for a float16 output). Scoring
    /// normalizes anyway; this is reported, not acted on.
    /// </summary>
    public required bool OutputNormalized { get; init; }

    /// <summary>The execution provider the session actually runs on.</summary>
    public required ExecutionProviderKind ExecutionProvider { get; init; }
}
