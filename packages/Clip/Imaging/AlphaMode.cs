namespace Clip.Imaging;

/// <summary>
/// What happens to the alpha channel when an RGBA image becomes the RGB image that CLIP sees.
/// </summary>
/// <remarks>
/// CLIP models take three channels, so alpha has to go somewhere. The reference pipelines disagree:
/// OpenAI/open_clip resize RGBA images in premultiplied form and drop alpha afterwards, so fully transparent areas
/// come out black; HF <c>CLIPImageProcessor</c> and Immich call <c>convert("RGB")</c> first, which drops alpha and
/// keeps whatever colour the file stores under transparent pixels.
/// </remarks>
public enum AlphaMode
{
    /// <summary>
    /// Composite on black: <c>rgb * alpha / 255</c>. Fully transparent pixels become (0, 0, 0), exactly what the
    /// OpenAI/open_clip premultiplied resize yields for them. Trade-off: semi-transparent pixels are darkened,
    /// whereas OpenAI un-premultiplies after its resize and keeps their colour, so anti-aliased edges and
    /// translucent overlays differ slightly from the reference.
    /// </summary>
    Black = 0,

    /// <summary>
    /// Ignore alpha and keep the stored colour, including under fully transparent pixels (HF processor and Immich
    /// behaviour). The hidden colour is whatever the encoder left there, often black, sometimes noise.
    /// </summary>
    Drop = 1,

    /// <summary>
    /// Composite on white: <c>rgb * alpha / 255 + 255 * (255 - alpha) / 255</c>. Friendlier for logos and
    /// icons drawn on a transparent background; no reference CLIP pipeline does this.
    /// </summary>
    White = 2,
}
