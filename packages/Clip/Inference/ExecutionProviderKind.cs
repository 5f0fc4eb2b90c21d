namespace Clip.Inference;

/// <summary>The ONNX Runtime execution provider a session actually runs on.</summary>
public enum ExecutionProviderKind
{
    /// <summary>The default CPU execution provider.</summary>
    Cpu,

    /// <summary>The CUDA execution provider (nodes it cannot run still fall back to CPU inside ORT).</summary>
    Cuda,
}
