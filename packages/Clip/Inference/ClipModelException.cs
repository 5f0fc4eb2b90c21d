namespace Clip.Inference;

/// <summary>
/// A CLIP model directory or ONNX file cannot be used: missing files, unexpected tensor names, shapes or element
/// types, unreadable sidecars, or towers that disagree. The message names the file, the tensor and what was
/// expected versus found; ONNX Runtime's own exception, when there is one, is the inner exception.
/// </summary>
public sealed class ClipModelException : Exception
{
    /// <summary>Creates the exception with a message that names the file and what is wrong with it.</summary>
    public ClipModelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception wrapping the underlying cause (ONNX Runtime, I/O or JSON error).</summary>
    public ClipModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
