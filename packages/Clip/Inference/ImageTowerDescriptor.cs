using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>What loading discovered about the image tower (from the ONNX metadata and one probe run). Immutable.</summary>
public sealed record ImageTowerDescriptor
{
    /// <summary>Full path of the ONNX file (the shared graph for <see cref="ClipModelLayout.Combined"/>).</summary>
    public required string ModelPath { get; init; }

    /// <summary>Every input the graph declares, in graph order (the combined graph also lists its text inputs).</summary>
    public required IReadOnlyList<string> InputNames { get; init; }

    /// <summary>The pixel input: NCHW [batch, 3, <see cref="ImageSize"/>, <see cref="ImageSize"/>].</summary>
    public required string PixelInputName { get; init; }

    /// <summary>Element type of the pixel input: <see cref="TensorElementType.Float"/> or <see cref="TensorElementType.Float16"/>.</summary>
    public required TensorElementType PixelElementType { get; init; }

    /// <summary>The batch size the graph is fixed to (Immich: 1), or <see langword="null"/> when the batch is dynamic.</summary>
    public required int? FixedBatchSize { get; init; }

    /// <summary>Side length in pixels of the square input image.</summary>
    public required int ImageSize { get; init; }

    /// <summary>The embedding output, [batch, <see cref="EmbeddingDim"/>].</summary>
    public required string OutputName { get; init; }

    /// <summary>Length of one image embedding.</summary>
    public required int EmbeddingDim { get; init; }

    /// <summary>
    /// Whether the graph already L2-normalizes its output (every row of the probe run had norm 1 ± 1e-3, ± 1e-2 for a float16 output). Scoring
    /// normalizes anyway; this is reported, not acted on.
    /// </summary>
    public required bool OutputNormalized { get; init; }

    /// <summary>The execution provider the session actually runs on.</summary>
    public required ExecutionProviderKind ExecutionProvider { get; init; }
}
