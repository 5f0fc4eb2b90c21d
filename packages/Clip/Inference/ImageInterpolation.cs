namespace Clip.Inference;

/// <summary>The resampling filter a model's sidecar asks for (Pillow semantics; a hint for preprocessing).</summary>
public enum ImageInterpolation
{
    /// <summary>Pillow BICUBIC (HF <c>resample: 3</c>); the CLIP default.</summary>
    Bicubic,

    /// <summary>Pillow BILINEAR (HF <c>resample: 2</c>).</summary>
    Bilinear,

    /// <summary>Pillow NEAREST (HF <c>resample: 0</c>).</summary>
    Nearest,

    /// <summary>Pillow LANCZOS (HF <c>resample: 1</c>).</summary>
    Lanczos,
}
