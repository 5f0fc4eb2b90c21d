namespace Clip.Imaging;

/// <summary>
/// Turns an <see cref="RgbImage"/> into the normalised float32 CHW tensor a CLIP vision tower takes, reproducing
/// the OpenAI/open_clip pipeline on PIL images: Pillow resize (shortest side to the target size), centre crop,
/// rescale to [0, 1], per-channel (x - mean) / std.
/// </summary>
/// <remarks>
/// <para>
/// Geometry follows <c>reference_preprocess.py</c> exactly: with <see cref="ResizeMode.Shortest"/> the short side
/// becomes S and the long side <c>int(S * long / short)</c> (truncated); the resize is skipped when the size is
/// unchanged; the crop starts at <c>round((resized - S) / 2)</c> with the configured rounding. Images smaller than
/// S are upscaled (the kernel is then not widened, as in Pillow). Only the S×S crop window of the resized image is
/// computed, which is bit-identical to resizing everything (see <see cref="PillowResampler.ResizeAndCrop"/>).
/// </para>
/// <para>
/// Normalisation goes through a 256-entry table per channel built once from the rescale factor, mean and std (in
/// double, rounded once to float), so there is no per-pixel division.
/// </para>
/// <para>Thread safety: immutable after construction; <see cref="Preprocess"/> may run concurrently.</para>
/// </remarks>
public sealed class ClipPreprocessor
{
    private const int Channels = 3;

    // _lookup[c * 256 + v] = (v * rescale - mean[c]) / std[c].
    private readonly float[] _lookup = new float[Channels * 256];

    /// <summary>Creates a preprocessor.</summary>
    /// <param name="options">The pipeline settings; <see cref="ClipPreprocessOptions.Default"/> (OpenAI, 224) when null.</param>
    public ClipPreprocessor(ClipPreprocessOptions? options = null)
    {
        Options = options ?? ClipPreprocessOptions.Default;
        for (int c = 0; c < Channels; c++)
        {
            double mean = Options.Mean[c];
            double inverseStd = 1.0 / Options.Std[c];
            for (int v = 0; v < 256; v++)
            {
                _lookup[(c * 256) + v] = (float)(((v * (double)Options.RescaleFactor) - mean) * inverseStd);
            }
        }
    }

    /// <summary>The settings in use.</summary>
    public ClipPreprocessOptions Options { get; }

    /// <summary>Side S of the square output in pixels.</summary>
    public int Size => Options.Size;

    /// <summary>Floats written by <see cref="Preprocess"/>: 3 × S × S.</summary>
    public int TensorLength => Channels * Size * Size;

    /// <summary>
    /// Writes the normalised [3, S, S] float32 tensor for <paramref name="image"/> (planes R, G, B; rows top to
    /// bottom) into <paramref name="destinationChw"/>, e.g. one image's slice of a batch buffer.
    /// </summary>
    /// <param name="image">An upright RGB image; not modified or disposed.</param>
    /// <param name="destinationChw">Exactly <see cref="TensorLength"/> floats.</param>
    /// <exception cref="ArgumentNullException"><paramref name="image"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The destination length is wrong, or the aspect ratio is so extreme that the resized long side would exceed
    /// <see cref="int.MaxValue"/> pixels.
    /// </exception>
    public void Preprocess(RgbImage image, Span<float> destinationChw)
    {
        ArgumentNullException.ThrowIfNull(image);
        int size = Size;
        if (destinationChw.Length != TensorLength)
        {
            throw new ArgumentException(
                $"The destination must hold 3x{size}x{size} = {TensorLength} floats, got {destinationChw.Length}.",
                nameof(destinationChw));
        }

        var geometry = ComputeGeometry(image.Width, image.Height, Options);
        using var cropped = PillowResampler.ResizeAndCrop(
            image, geometry.ResizedWidth, geometry.ResizedHeight, geometry.Left, geometry.Top, size, size, Options.Interpolation);
        Normalize(cropped.Pixels, destinationChw);
    }

    /// <summary>The resized size and crop offsets for a <paramref name="width"/>×<paramref name="height"/> input.</summary>
    internal static CropGeometry ComputeGeometry(int width, int height, ClipPreprocessOptions options)
    {
        int size = options.Size;
        if (options.ResizeMode == ResizeMode.Squash)
        {
            return new CropGeometry(size, size, 0, 0);
        }

        // Python: int(n_px * long / short). The product is exact in double and the quotient is correctly rounded,
        // as Python's true division is, so the truncation lands on the same integer.
        int resizedWidth = width <= height ? size : ScaleLongSide(size, width, height);
        int resizedHeight = width <= height ? ScaleLongSide(size, height, width) : size;
        int left = CropOffset(resizedWidth - size, options.CropRounding);
        int top = CropOffset(resizedHeight - size, options.CropRounding);
        return new CropGeometry(resizedWidth, resizedHeight, left, top);
    }

    private static int ScaleLongSide(int size, int longSide, int shortSide)
    {
        double scaled = (double)((long)size * longSide) / shortSide;
        if (scaled >= int.MaxValue)
        {
            throw new ArgumentException(
                $"A {longSide}:{shortSide} aspect ratio would resize the long side to {scaled:F0} pixels; the image is too elongated.");
        }

        return (int)scaled;
    }

    private static int CropOffset(int excess, CropRounding rounding) =>
        rounding == CropRounding.Floor
            ? excess / 2
            : (int)Math.Round(excess / 2.0, MidpointRounding.ToEven);

    // A lookup per byte rather than vector arithmetic: each entry is computed once in double and rounded, which is
    // exactly what the reference tensors hold (vector float math can differ in the last bit, and AVX2 gathers of the
    // table are no faster than these scalar loads). It is not where time goes: 0.45 % of the server's CPU samples in
    // a perf profile under load (docs/benchmarks.md), against 28 % for the PNG inflate of the same requests.
    private void Normalize(ReadOnlySpan<byte> rgb, Span<float> destination)
    {
        int plane = destination.Length / Channels;
        var red = destination[..plane];
        var green = destination.Slice(plane, plane);
        var blue = destination.Slice(2 * plane, plane);
        ReadOnlySpan<float> lookupRed = _lookup.AsSpan(0, 256);
        ReadOnlySpan<float> lookupGreen = _lookup.AsSpan(256, 256);
        ReadOnlySpan<float> lookupBlue = _lookup.AsSpan(512, 256);
        for (int i = 0, p = 0; i < plane; i++, p += 3)
        {
            red[i] = lookupRed[rgb[p]];
            green[i] = lookupGreen[rgb[p + 1]];
            blue[i] = lookupBlue[rgb[p + 2]];
        }
    }

    /// <summary>Resized size and the top-left corner of the S×S crop in resized coordinates.</summary>
    internal readonly record struct CropGeometry(int ResizedWidth, int ResizedHeight, int Left, int Top);
}
