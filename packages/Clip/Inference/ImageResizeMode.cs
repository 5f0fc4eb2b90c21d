namespace Clip.Inference;

/// <summary>How a model's sidecar says images are resized before the crop (a hint for preprocessing).</summary>
public enum ImageResizeMode
{
    /// <summary>Resize the shortest side to the target, keeping the aspect ratio, then center-crop (OpenAI, HF, open_clip).</summary>
    Shortest,

    /// <summary>Resize the longest side to the target, keeping the aspect ratio, then pad (open_clip <c>longest</c>).</summary>
    Longest,

    /// <summary>Resize both sides to the target, ignoring the aspect ratio (open_clip <c>squash</c>, HF size {height,width}).</summary>
    Squash,
}
