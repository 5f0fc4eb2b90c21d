using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Clip.Imaging;

/// <summary>
/// A managed port of Pillow's antialiased resampling (<c>libImaging/Resample.c</c>, 8-bit path) for RGB images.
/// </summary>
/// <remarks>
/// <para>
/// Why hand-written: CLIP checkpoints were trained and evaluated on images resized by Pillow, and Pillow's
/// "bicubic" is not the textbook one. When shrinking, it widens the kernel support by the scale factor (an
/// antialiasing prefilter), normalises the taps, rounds them to 22-bit fixed point and clips each pass to uint8.
/// No .NET library reproduces that: Skia's cubic resampler keeps a 4-tap kernel at any scale (it aliases on large
/// shrinks; a 1080p test grid came out up to 1.59 normalised units away from Pillow), and ImageSharp/OpenCV use
/// other kernels, edge handling and rounding.
/// </para>
/// <para>
/// Algorithm, exactly as Pillow: per axis, output sample <c>i</c> is centred at <c>(i + 0.5) * scale</c> in input
/// coordinates, where <c>scale = in / out</c>; the support is <c>filterSupport * max(scale, 1)</c>; taps cover
/// <c>[(int)(center - support + 0.5), (int)(center + support + 0.5))</c> clamped to the image, weigh
/// <c>filter((x - center + 0.5) / max(scale, 1))</c> and are normalised to sum 1, then rounded half away from zero
/// to fixed point with 22 fractional bits. The horizontal pass runs first (only over the rows the vertical pass will
/// read) and its uint8-clipped result feeds the vertical pass. A pass whose size is unchanged is skipped, as Pillow
/// does (the kernel would be the identity anyway).
/// </para>
/// <para>
/// Only the requested output window is computed (<see cref="ResizeAndCrop"/>), which is bit-identical to resizing
/// everything and cropping, because every output pixel depends only on its own row and column coefficients.
/// </para>
/// <para>Thread safety: stateless; scratch buffers come from <see cref="ArrayPool{T}.Shared"/> per call.</para>
/// </remarks>
public static class PillowResampler
{
    // 32 bits minus 8 for the pixel value minus 2 headroom bits, since the filter has negative lobes and partial sums
    // may exceed 1.0 (Pillow's PRECISION_BITS).
    private const int PrecisionBits = 32 - 8 - 2;
    private const int RoundingBias = 1 << (PrecisionBits - 1);
    private const double FixedPointScale = 1 << PrecisionBits;

    /// <summary>
    /// Resizes <paramref name="source"/> to <paramref name="width"/>×<paramref name="height"/> as Pillow's
    /// <c>Image.resize((width, height), filter)</c> does for an RGB image.
    /// </summary>
    /// <param name="source">The image to resize; not modified.</param>
    /// <param name="width">Output width in pixels, at least 1.</param>
    /// <param name="height">Output height in pixels, at least 1.</param>
    /// <param name="filter">The resampling kernel.</param>
    /// <returns>A new image the caller owns and must dispose.</returns>
    public static RgbImage Resize(RgbImage source, int width, int height, ResampleFilter filter = ResampleFilter.Bicubic) =>
        ResizeAndCrop(source, width, height, 0, 0, width, height, filter);

    /// <summary>
    /// Returns the window (<paramref name="cropX"/>, <paramref name="cropY"/>, <paramref name="cropWidth"/>,
    /// <paramref name="cropHeight"/>) of the image that <see cref="Resize"/> would produce at
    /// <paramref name="width"/>×<paramref name="height"/>, computing only that window. Bit-identical to resizing and
    /// then cropping; far cheaper when the crop is small (CLIP's centre crop, or extreme aspect ratios).
    /// </summary>
    /// <param name="source">The image to resize; not modified.</param>
    /// <param name="width">Width of the virtual resized image, at least 1.</param>
    /// <param name="height">Height of the virtual resized image, at least 1.</param>
    /// <param name="cropX">Left edge of the window in resized coordinates.</param>
    /// <param name="cropY">Top edge of the window in resized coordinates.</param>
    /// <param name="cropWidth">Window width, at least 1; the window must lie inside the resized image.</param>
    /// <param name="cropHeight">Window height, at least 1; the window must lie inside the resized image.</param>
    /// <param name="filter">The resampling kernel.</param>
    /// <returns>A new <paramref name="cropWidth"/>×<paramref name="cropHeight"/> image the caller owns and must dispose.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1 or the window is outside the resized image.</exception>
    public static RgbImage ResizeAndCrop(
        RgbImage source, int width, int height, int cropX, int cropY, int cropWidth, int cropHeight,
        ResampleFilter filter = ResampleFilter.Bicubic) =>
        ResizeAndCropCore(source, width, height, cropX, cropY, cropWidth, cropHeight, filter, allowSimd: true);

    /// <summary>
    /// <see cref="ResizeAndCrop"/> with the vector paths switchable, so tests can check that the SIMD and scalar code
    /// produce identical bytes.
    /// </summary>
    internal static unsafe RgbImage ResizeAndCropCore(
        RgbImage source, int width, int height, int cropX, int cropY, int cropWidth, int cropHeight,
        ResampleFilter filter, bool allowSimd)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cropWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cropHeight, 1);
        if (cropX < 0 || cropY < 0 || (long)cropX + cropWidth > width || (long)cropY + cropHeight > height)
        {
            throw new ArgumentOutOfRangeException(
                nameof(cropX),
                $"The window {cropWidth}x{cropHeight} at ({cropX}, {cropY}) is outside the resized {width}x{height} image.");
        }

        if (!Enum.IsDefined(filter))
        {
            throw new ArgumentOutOfRangeException(nameof(filter), filter, "Expected Bicubic or Bilinear.");
        }

        var output = RgbImage.Rent(cropWidth, cropHeight);
        try
        {
            fixed (byte* input = source.Pixels)
            fixed (byte* destination = output.Pixels)
            {
                var job = new Job(input, source.Width, source.Height, filter, allowSimd);
                job.ResizeWindow(width, height, cropX, cropY, cropWidth, cropHeight, destination);
            }
        }
        catch
        {
            output.Dispose();
            throw;
        }

        return output;
    }

    /// <summary>One resize of one source image: the source and the pass implementations to use.</summary>
    private readonly unsafe struct Job(byte* input, int inWidth, int inHeight, ResampleFilter filter, bool allowSimd)
    {
        private int InStride => inWidth * RgbImage.Channels;

        public void ResizeWindow(int outWidth, int outHeight, int x0, int y0, int windowWidth, int windowHeight, byte* destination)
        {
            int inStride = InStride;
            int windowStride = windowWidth * RgbImage.Channels;
            bool needHorizontal = outWidth != inWidth;
            bool needVertical = outHeight != inHeight;

            if (!needHorizontal && !needVertical)
            {
                CopyWindow(input + ((long)y0 * inStride) + (x0 * RgbImage.Channels), inStride, windowStride, windowHeight, destination);
                return;
            }

            if (!needVertical)
            {
                // Rows map 1:1, so the horizontal pass reads the window's own rows and writes the result directly.
                using var horizontalOnly = AxisCoefficients.Compute(inWidth, outWidth, x0, windowWidth, filter);
                HorizontalPass(y0, windowHeight, horizontalOnly, destination, windowStride);
                return;
            }

            using var vertical = AxisCoefficients.Compute(inHeight, outHeight, y0, windowHeight, filter);
            int firstRow = vertical.FirstInput;
            int rowCount = vertical.EndInput - firstRow;

            if (!needHorizontal)
            {
                // Columns map 1:1: the vertical pass reads the source in place.
                byte* columns = input + ((long)firstRow * inStride) + (x0 * RgbImage.Channels);
                VerticalPass(columns, inStride, vertical, firstRow, windowStride, destination);
                return;
            }

            // Horizontal first, over just the rows the vertical taps touch (Pillow's ybox_first..ybox_last), into a
            // uint8 intermediate: the clip to 0..255 between the passes is part of Pillow's result.
            using var horizontal = AxisCoefficients.Compute(inWidth, outWidth, x0, windowWidth, filter);
            byte[] intermediate = ArrayPool<byte>.Shared.Rent(checked(rowCount * windowStride));
            try
            {
                fixed (byte* temp = intermediate)
                {
                    HorizontalPass(firstRow, rowCount, horizontal, temp, windowStride);
                    VerticalPass(temp, windowStride, vertical, firstRow, windowStride, destination);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(intermediate);
            }
        }

        // The kernels below skip tier-0 JIT (AggressiveOptimization): under load, tiered compilation was seen
        // leaving the hottest one in unoptimized [QuickJitted] code for seconds (docs/benchmarks.md, "JIT tiering").

        /// <summary>Filters source rows [firstRow, firstRow + rows) along x: one output pixel per coefficient set.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void HorizontalPass(int firstRow, int rows, in AxisCoefficients coefficients, byte* output, int outStride)
        {
            int inStride = InStride;
            int outputs = coefficients.Count;
            int kernelSize = coefficients.KernelSize;
            fixed (int* bounds = coefficients.Bounds)
            fixed (int* weights = coefficients.Weights)
            {
                for (int y = 0; y < rows; y++)
                {
                    byte* sourceRow = input + ((long)(firstRow + y) * inStride);
                    byte* target = output + ((long)y * outStride);
                    // The vector path loads 4 bytes per 3-byte pixel. The extra byte is harmless (it lands in an
                    // ignored lane) except past the very last pixel of the source buffer, which only the last row
                    // can reach; that row's final tap is then added separately.
                    int safePixels = firstRow + y == inHeight - 1 ? inWidth - 1 : inWidth;
                    if (allowSimd && Sse41.IsSupported)
                    {
                        HorizontalRowSse41(sourceRow, outputs, kernelSize, bounds, weights, target, safePixels);
                    }
                    else
                    {
                        HorizontalRowScalar(sourceRow, outputs, kernelSize, bounds, weights, target);
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void HorizontalRowScalar(byte* sourceRow, int outputs, int kernelSize, int* bounds, int* weights, byte* target)
        {
            int* k = weights;
            for (int xx = 0; xx < outputs; xx++, k += kernelSize, target += 3)
            {
                byte* pixel = sourceRow + (bounds[2 * xx] * 3);
                int taps = bounds[(2 * xx) + 1];
                int r = RoundingBias, g = RoundingBias, b = RoundingBias;
                for (int x = 0; x < taps; x++, pixel += 3)
                {
                    int weight = k[x];
                    r += pixel[0] * weight;
                    g += pixel[1] * weight;
                    b += pixel[2] * weight;
                }

                target[0] = Clip8(r);
                target[1] = Clip8(g);
                target[2] = Clip8(b);
            }
        }

        /// <summary>One row with the (R, G, B, ignored) sums in one 4 x int32 vector; same integer arithmetic.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void HorizontalRowSse41(
            byte* sourceRow, int outputs, int kernelSize, int* bounds, int* weights, byte* target, int safePixels)
        {
            var bias = Vector128.Create(RoundingBias);
            int* k = weights;
            for (int xx = 0; xx < outputs; xx++, k += kernelSize, target += 3)
            {
                int xmin = bounds[2 * xx];
                int taps = bounds[(2 * xx) + 1];
                int vectorTaps = Math.Min(taps, safePixels - xmin);
                byte* pixel = sourceRow + (xmin * 3);
                var sum = bias;
                for (int x = 0; x < vectorTaps; x++, pixel += 3)
                {
                    sum = Sse2.Add(sum, Sse41.MultiplyLow(Sse41.ConvertToVector128Int32(pixel), Vector128.Create(k[x])));
                }

                if (vectorTaps < taps)
                {
                    int weight = k[vectorTaps];
                    sum = Sse2.Add(sum, Vector128.Create(pixel[0] * weight, pixel[1] * weight, pixel[2] * weight, 0));
                }

                // clip8 for all lanes: shift out the fraction, then saturate int32 -> int16 -> uint8.
                var shifted = Sse2.ShiftRightArithmetic(sum, PrecisionBits);
                var packed = Sse2.PackUnsignedSaturate(Sse2.PackSignedSaturate(shifted, shifted), Vector128<short>.Zero);
                target[0] = packed.GetElement(0);
                target[1] = packed.GetElement(1);
                target[2] = packed.GetElement(2);
            }
        }

        /// <summary>
        /// Filters along y. <paramref name="rows"/> points at input row <paramref name="firstRow"/>; output row yy
        /// sums its tap rows byte for byte (channels need no distinction in this pass).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void VerticalPass(byte* rows, int rowsStride, in AxisCoefficients coefficients, int firstRow, int rowBytes, byte* output)
        {
            int outputs = coefficients.Count;
            int kernelSize = coefficients.KernelSize;
            fixed (int* bounds = coefficients.Bounds)
            fixed (int* weights = coefficients.Weights)
            {
                for (int yy = 0; yy < outputs; yy++)
                {
                    int* k = weights + ((long)yy * kernelSize);
                    byte* taps0 = rows + ((long)(bounds[2 * yy] - firstRow) * rowsStride);
                    int taps = bounds[(2 * yy) + 1];
                    byte* target = output + ((long)yy * rowBytes);
                    int done = allowSimd && Avx2.IsSupported ? VerticalRowAvx2(taps0, rowsStride, taps, k, rowBytes, target) : 0;
                    for (int i = done; i < rowBytes; i++)
                    {
                        int sum = RoundingBias;
                        byte* sample = taps0 + i;
                        for (int y = 0; y < taps; y++, sample += rowsStride)
                        {
                            sum += *sample * k[y];
                        }

                        target[i] = Clip8(sum);
                    }
                }
            }
        }

        /// <summary>8 bytes at a time with the sums in a register; returns how many bytes it produced.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int VerticalRowAvx2(byte* taps0, int rowsStride, int taps, int* k, int rowBytes, byte* target)
        {
            var bias = Vector256.Create(RoundingBias);
            int i = 0;
            for (; i + 8 <= rowBytes; i += 8)
            {
                var sum = bias;
                byte* sample = taps0 + i;
                for (int y = 0; y < taps; y++, sample += rowsStride)
                {
                    sum = Avx2.Add(sum, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(sample), Vector256.Create(k[y])));
                }

                var shifted = Avx2.ShiftRightArithmetic(sum, PrecisionBits);
                var words = Sse2.PackSignedSaturate(shifted.GetLower(), shifted.GetUpper());
                var bytes = Sse2.PackUnsignedSaturate(words, words);
                *(ulong*)(target + i) = bytes.AsUInt64().ToScalar();
            }

            return i;
        }

        private static void CopyWindow(byte* source, int sourceStride, int rowBytes, int rows, byte* destination)
        {
            for (int y = 0; y < rows; y++)
            {
                new ReadOnlySpan<byte>(source + ((long)y * sourceStride), rowBytes)
                    .CopyTo(new Span<byte>(destination + ((long)y * rowBytes), rowBytes));
            }
        }
    }

    /// <summary>Pillow's clip8: drop the fraction bits (arithmetic shift, i.e. floor) and clamp to 0..255.</summary>
    private static byte Clip8(int sum)
    {
        int value = sum >> PrecisionBits;
        return (uint)value <= 255 ? (byte)value : value < 0 ? (byte)0 : (byte)255;
    }

    private static double BicubicKernel(double x)
    {
        // Keys' cubic convolution with a = -0.5, written as in Pillow so the doubles round identically.
        const double a = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }

        if (x < 1.0)
        {
            return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
        }

        if (x < 2.0)
        {
            return ((((((x - 5) * x) + 8) * x) - 4) * a);
        }

        return 0.0;
    }

    private static double BilinearKernel(double x)
    {
        if (x < 0.0)
        {
            x = -x;
        }

        return x < 1.0 ? 1.0 - x : 0.0;
    }

    /// <summary>
    /// Fixed-point taps for a contiguous window of outputs along one axis (Pillow's <c>precompute_coeffs</c> followed
    /// by <c>normalize_coeffs_8bpc</c>). Computed once per resize and shared by every row or column; the arrays are
    /// pooled and returned by <see cref="Dispose"/>.
    /// </summary>
    private readonly struct AxisCoefficients : IDisposable
    {
        private AxisCoefficients(int[] bounds, int[] weights, int kernelSize, int count)
        {
            Bounds = bounds;
            Weights = weights;
            KernelSize = kernelSize;
            Count = count;
        }

        /// <summary>Per output: first input index, then tap count (pairs).</summary>
        public int[] Bounds { get; }

        /// <summary><see cref="KernelSize"/> fixed-point weights per output; only the first "tap count" are used.</summary>
        public int[] Weights { get; }

        public int KernelSize { get; }

        public int Count { get; }

        /// <summary>First input index any output in the window reads.</summary>
        public int FirstInput => Bounds[0];

        /// <summary>One past the last input index any output in the window reads (bounds are monotonic).</summary>
        public int EndInput => Bounds[2 * (Count - 1)] + Bounds[(2 * (Count - 1)) + 1];

        public static AxisCoefficients Compute(int inSize, int outSize, int first, int count, ResampleFilter filter)
        {
            double filterSupport = filter == ResampleFilter.Bilinear ? 1.0 : 2.0;
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = filterSupport * filterScale;
            int kernelSize = checked(((int)Math.Ceiling(support) * 2) + 1);
            double inverseFilterScale = 1.0 / filterScale;

            int[] bounds = ArrayPool<int>.Shared.Rent(count * 2);
            int[] weights = ArrayPool<int>.Shared.Rent(checked(count * kernelSize));
            double[] taps = ArrayPool<double>.Shared.Rent(kernelSize);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    int xx = first + i;
                    double center = (xx + 0.5) * scale;
                    // (int) truncates toward zero, as C's cast does; Pillow relies on that for "rounding" here.
                    int xmin = (int)(center - support + 0.5);
                    if (xmin < 0)
                    {
                        xmin = 0;
                    }

                    int xmax = (int)(center + support + 0.5);
                    if (xmax > inSize)
                    {
                        xmax = inSize;
                    }

                    xmax -= xmin;
                    double total = 0.0;
                    for (int x = 0; x < xmax; x++)
                    {
                        double argument = (x + xmin - center + 0.5) * inverseFilterScale;
                        double w = filter == ResampleFilter.Bilinear ? BilinearKernel(argument) : BicubicKernel(argument);
                        taps[x] = w;
                        total += w;
                    }

                    int row = i * kernelSize;
                    for (int x = 0; x < xmax; x++)
                    {
                        double normalized = total != 0.0 ? taps[x] / total : taps[x];
                        weights[row + x] = normalized < 0
                            ? (int)(-0.5 + (normalized * FixedPointScale))
                            : (int)(0.5 + (normalized * FixedPointScale));
                    }

                    bounds[2 * i] = xmin;
                    bounds[(2 * i) + 1] = xmax;
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(taps);
            }

            return new AxisCoefficients(bounds, weights, kernelSize, count);
        }

        public void Dispose()
        {
            if (Bounds is not null)
            {
                ArrayPool<int>.Shared.Return(Bounds);
                ArrayPool<int>.Shared.Return(Weights);
            }
        }
    }
}
