namespace Clip.Imaging;

/// <summary>Resampling kernels of <see cref="PillowResampler"/>, with Pillow's definitions and names.</summary>
public enum ResampleFilter
{
    /// <summary>
    /// Pillow <c>Image.BICUBIC</c>: the Keys cubic with a = -0.5 (Catmull-Rom), support 2 pixels, widened by the
    /// downscale factor. What OpenAI CLIP, open_clip and HF <c>CLIPImageProcessor</c> use.
    /// </summary>
    Bicubic = 0,

    /// <summary>
    /// Pillow <c>Image.BILINEAR</c>: the triangle filter, support 1 pixel, widened by the downscale factor
    /// (MobileCLIP, CLIPA and Perception Encoder presets in open_clip).
    /// </summary>
    Bilinear = 1,
}
