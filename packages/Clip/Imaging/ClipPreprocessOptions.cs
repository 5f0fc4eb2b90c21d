using System.Runtime.CompilerServices;

namespace Clip.Imaging;

/// <summary>How an image is fitted to the model's square input.</summary>
/// <remarks>
/// open_clip's third mode, <c>longest</c> (fit the long side, then pad with a fill colour), is not implemented:
/// none of the OpenAI/LAION CLIP presets use it.
/// </remarks>
public enum ResizeMode
{
    /// <summary>
    /// Scale the shortest side to the target size (long side <c>int(size * long / short)</c>, truncated as torchvision
    /// does), then centre-crop a square. OpenAI CLIP, open_clip <c>shortest</c>, HF <c>CLIPImageProcessor</c>.
    /// </summary>
    Shortest = 0,

    /// <summary>
    /// Scale straight to size×size, ignoring the aspect ratio; no crop. open_clip <c>squash</c> (SigLIP, CLIPA, PE).
    /// </summary>
    Squash = 1,
}

/// <summary>How the centre-crop offset <c>(resized - size) / 2</c> is rounded when it is not an integer.</summary>
public enum CropRounding
{
    /// <summary>
    /// <c>int(round(x))</c> with Python's round-half-to-even (torchvision <c>CenterCrop</c>, hence OpenAI and open_clip):
    /// 0.5 → 0, 1.5 → 2, 2.5 → 2.
    /// </summary>
    RoundHalfEven = 0,

    /// <summary><c>floor(x)</c> (HF <c>CLIPImageProcessor</c> and Immich). Differs by one pixel from
    /// <see cref="RoundHalfEven"/> when the offset is k + 0.5 with k odd.</summary>
    Floor = 1,
}

/// <summary>
/// Settings of <see cref="ClipPreprocessor"/>: geometry, resampling and normalisation. Immutable and validated on
/// construction; safe to share.
/// </summary>
public sealed class ClipPreprocessOptions
{
    /// <summary>Default <see cref="Size"/>: 224 pixels (ViT-B/32, ViT-B/16, ViT-L/14, RN50).</summary>
    public const int DefaultSize = 224;

    /// <summary>Default <see cref="RescaleFactor"/>: 1/255, mapping bytes to [0, 1].</summary>
    public const float DefaultRescaleFactor = 1f / 255f;

    private static readonly float[] OpenAiMean = [0.48145466f, 0.4578275f, 0.40821073f];
    private static readonly float[] OpenAiStd = [0.26862954f, 0.26130258f, 0.27577711f];

    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>Creates options; every argument is optional and defaults to the OpenAI CLIP pipeline.</summary>
    /// <param name="size">Side of the square model input in pixels, 1 to 4096.</param>
    /// <param name="resizeMode">How the image is fitted to the square.</param>
    /// <param name="interpolation">The Pillow resampling kernel.</param>
    /// <param name="cropRounding">How a half-pixel centre-crop offset is rounded.</param>
    /// <param name="mean">Per-channel mean (R, G, B) in rescaled units; OpenAI's when null.</param>
    /// <param name="std">Per-channel standard deviation (R, G, B), each &gt; 0; OpenAI's when null.</param>
    /// <param name="rescaleFactor">Multiplier from byte values to the units of mean and std; &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range or an enum value is undefined.</exception>
    /// <exception cref="ArgumentException"><paramref name="mean"/> or <paramref name="std"/> does not have 3 finite entries.</exception>
    public ClipPreprocessOptions(
        int size = DefaultSize,
        ResizeMode resizeMode = ResizeMode.Shortest,
        ResampleFilter interpolation = ResampleFilter.Bicubic,
        CropRounding cropRounding = CropRounding.RoundHalfEven,
        IReadOnlyList<float>? mean = null,
        IReadOnlyList<float>? std = null,
        float rescaleFactor = DefaultRescaleFactor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 4096);
        ThrowIfUndefined(resizeMode);
        ThrowIfUndefined(interpolation);
        ThrowIfUndefined(cropRounding);
        if (!float.IsFinite(rescaleFactor) || rescaleFactor <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rescaleFactor), rescaleFactor, "The rescale factor must be finite and positive.");
        }

        _mean = CopyChannels(mean ?? OpenAiMean, nameof(mean), positive: false);
        _std = CopyChannels(std ?? OpenAiStd, nameof(std), positive: true);
        Size = size;
        ResizeMode = resizeMode;
        Interpolation = interpolation;
        CropRounding = cropRounding;
        RescaleFactor = rescaleFactor;
    }

    /// <summary>The OpenAI CLIP pipeline at 224 pixels.</summary>
    public static ClipPreprocessOptions Default { get; } = new();

    /// <summary>Side of the square model input in pixels. Default <see cref="DefaultSize"/>.</summary>
    public int Size { get; }

    /// <summary>How the image is fitted to the square. Default <see cref="Imaging.ResizeMode.Shortest"/>.</summary>
    public ResizeMode ResizeMode { get; }

    /// <summary>The Pillow resampling kernel. Default <see cref="ResampleFilter.Bicubic"/>.</summary>
    public ResampleFilter Interpolation { get; }

    /// <summary>Centre-crop offset rounding. Default <see cref="Imaging.CropRounding.RoundHalfEven"/> (torchvision).</summary>
    public CropRounding CropRounding { get; }

    /// <summary>Per-channel mean (R, G, B), subtracted after rescaling. Default OpenAI (0.48145466, 0.4578275, 0.40821073).</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Per-channel standard deviation (R, G, B), divided after subtracting the mean. Default OpenAI
    /// (0.26862954, 0.26130258, 0.27577711).</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>Multiplier from byte values to the units of <see cref="Mean"/> and <see cref="Std"/>. Default 1/255.</summary>
    public float RescaleFactor { get; }

    private static float[] CopyChannels(IReadOnlyList<float> values, string name, bool positive)
    {
        if (values.Count != 3)
        {
            throw new ArgumentException($"Expected 3 values (R, G, B), got {values.Count}.", name);
        }

        var copy = new float[3];
        for (int c = 0; c < 3; c++)
        {
            float value = values[c];
            if (!float.IsFinite(value) || (positive && value <= 0))
            {
                throw new ArgumentException(
                    positive ? $"Channel {c} must be finite and positive, got {value}." : $"Channel {c} must be finite, got {value}.",
                    name);
            }

            copy[c] = value;
        }

        return copy;
    }

    private static void ThrowIfUndefined<TEnum>(TEnum value, [CallerArgumentExpression(nameof(value))] string? name = null)
        where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"Undefined {typeof(TEnum).Name} value.");
        }
    }
}
