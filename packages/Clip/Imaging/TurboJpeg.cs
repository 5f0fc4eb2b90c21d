using System.Runtime.InteropServices;

namespace Clip.Imaging;

/// <summary>
/// A thin, optional binding to the system's libjpeg-turbo TurboJPEG API (<c>libturbojpeg.so.0</c>, Debian/Ubuntu
/// package <c>libturbojpeg</c> on Ubuntu, <c>libturbojpeg0</c> on Debian): only what <see cref="ImageDecoder"/> needs to decode a JPEG to packed RGB.
/// </summary>
/// <remarks>
/// <para>
/// Why it exists: SkiaSharp's Linux build compiles its bundled libjpeg-turbo without the x86 SIMD code, so a 1080p
/// JPEG takes about twice as long as in Pillow; the distribution's libjpeg-turbo has the SIMD kernels. No maintained
/// NuGet package wraps TurboJPEG for .NET 10 on Linux without shipping its own (non-SIMD or AnyCPU-only) native build,
/// so these five entry points are bound by hand.
/// </para>
/// <para>
/// Why function pointers from <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/> rather than
/// <c>[LibraryImport]</c>: the library is optional. A missing library must mean "decode with Skia", not a
/// <see cref="DllNotFoundException"/> at the first call, and a per-assembly DllImport resolver would be global
/// state shared with every other import in the engine. The calls take only blittable arguments, so no marshalling
/// stubs are needed either way. Only the TurboJPEG 2.x API is used, which libjpeg-turbo 3.x still exports.
/// </para>
/// <para>Thread safety: the loaded entry points are immutable; each decode uses a handle of its own.</para>
/// </remarks>
internal static unsafe class TurboJpeg
{
    /// <summary>TJPF_RGB: packed R, G, B, the layout of <see cref="RgbImage"/>.</summary>
    public const int PixelFormatRgb = 0;

    /// <summary>TJCS_CMYK and TJCS_YCCK: four-channel JPEGs that TurboJPEG cannot convert to RGB.</summary>
    public const int ColorspaceCmyk = 3;

    /// <summary>TJCS_YCCK (see <see cref="ColorspaceCmyk"/>).</summary>
    public const int ColorspaceYcck = 4;

    /// <summary>
    /// TJFLAG_STOPONWARNING: stop at the first warning (e.g. premature end of data, corrupt entropy data) instead of
    /// filling the rest of the image with gray; the caller then lets Skia judge the file, so truncated and corrupt
    /// JPEGs fail exactly as they do on the Skia path and the wasted work is bounded.
    /// </summary>
    private const int FlagStopOnWarning = 1 << 13;

    private static readonly string[] LibraryNames = ["libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "turbojpeg"];

    // Declared before Loaded: static initializers run in textual order and Load() sets it.
    private static string _description = "not loaded";

    private static readonly Api? Loaded = Load();

    /// <summary>Whether the library was found and exports every entry point used here.</summary>
    public static bool IsAvailable => Loaded is not null;

    /// <summary>A description for the startup log: the library file and its API generation, or why it is absent.</summary>
    public static string Description => _description;

    /// <summary>
    /// The 1/2, 1/4 and 1/8 scaling factors the library offers, largest denominator first. The other factors
    /// (3/8, 5/8, ...) are left out on purpose: Skia's fast path uses only these, and keeping the same rule keeps the
    /// fast path's output the same whichever decoder runs.
    /// </summary>
    public static ReadOnlySpan<(int Num, int Denom)> ReductionFactors => Loaded is null ? default : Loaded.Reductions;

    /// <summary>Scaled size as TurboJPEG (and libjpeg's jpeg_calc_output_dimensions) computes it: rounded up.</summary>
    public static int Scaled(int dimension, (int Num, int Denom) factor) =>
        (int)(((long)dimension * factor.Num + factor.Denom - 1) / factor.Denom);

    /// <summary>Reads the JPEG header: size and colour space, without decoding.</summary>
    /// <returns>False when TurboJPEG cannot parse the header (the caller falls back to Skia).</returns>
    public static bool TryReadHeader(nint handle, byte* jpeg, int length, out int width, out int height, out int colorspace)
    {
        int w, h, subsampling, cs;
        int result = Loaded!.DecompressHeader3(handle, jpeg, new CULong((nuint)length), &w, &h, &subsampling, &cs);
        width = w;
        height = h;
        colorspace = cs;
        return result == 0;
    }

    /// <summary>
    /// Decodes to packed RGB at <paramref name="width"/>×<paramref name="height"/> (the full size or a reduced size
    /// from <see cref="ReductionFactors"/>) with the library's defaults: accurate integer IDCT and fancy upsampling,
    /// as Pillow and Skia decode. Returns false on any error or warning; the destination may then be partly written.
    /// </summary>
    public static bool TryDecodeRgb(nint handle, byte* jpeg, int length, byte* rgb, int width, int height) =>
        Loaded!.Decompress2(handle, jpeg, new CULong((nuint)length), rgb, width, width * 3, height, PixelFormatRgb, FlagStopOnWarning) == 0;

    /// <summary>A decompression handle; destroy it with <see cref="DestroyHandle"/>. Zero when allocation failed.</summary>
    public static nint CreateDecompressor() => Loaded!.InitDecompress();

    /// <summary>Frees a handle from <see cref="CreateDecompressor"/>.</summary>
    public static void DestroyHandle(nint handle) => Loaded!.Destroy(handle);

    private static Api? Load()
    {
        foreach (string name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, typeof(TurboJpeg).Assembly, null, out nint library))
            {
                continue;
            }

            if (NativeLibrary.TryGetExport(library, "tjInitDecompress", out nint init)
                && NativeLibrary.TryGetExport(library, "tjDecompressHeader3", out nint header)
                && NativeLibrary.TryGetExport(library, "tjDecompress2", out nint decompress)
                && NativeLibrary.TryGetExport(library, "tjDestroy", out nint destroy)
                && NativeLibrary.TryGetExport(library, "tjGetScalingFactors", out nint scalingFactors))
            {
                var api = new Api(
                    (delegate* unmanaged<nint>)init,
                    (delegate* unmanaged<nint, byte*, CULong, int*, int*, int*, int*, int>)header,
                    (delegate* unmanaged<nint, byte*, CULong, byte*, int, int, int, int, int, int>)decompress,
                    (delegate* unmanaged<nint, int>)destroy,
                    ReadReductions((delegate* unmanaged<int*, ScalingFactor*>)scalingFactors));
                // tj3Init exists from libjpeg-turbo 3.0; the library has no version function to ask.
                string generation = NativeLibrary.TryGetExport(library, "tj3Init", out _) ? "3.x" : "2.x";
                _description = $"TurboJPEG ({name}, libjpeg-turbo {generation})";
                return api;
            }

            _description = $"{name} lacks the TurboJPEG 2 API";
            NativeLibrary.Free(library);
            return null;
        }

        _description = "libturbojpeg.so.0 not found (install libturbojpeg on Ubuntu, libturbojpeg0 on Debian)";
        return null;
    }

    private static (int Num, int Denom)[] ReadReductions(delegate* unmanaged<int*, ScalingFactor*> getScalingFactors)
    {
        int count;
        ScalingFactor* factors = getScalingFactors(&count);
        var reductions = new List<(int Num, int Denom)>(3);
        foreach (int denom in (ReadOnlySpan<int>)[8, 4, 2])
        {
            for (int i = 0; factors is not null && i < count; i++)
            {
                if (factors[i].Num == 1 && factors[i].Denom == denom)
                {
                    reductions.Add((1, denom));
                    break;
                }
            }
        }

        return [.. reductions];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ScalingFactor
    {
        public int Num;
        public int Denom;
    }

    private sealed class Api(
        delegate* unmanaged<nint> initDecompress,
        delegate* unmanaged<nint, byte*, CULong, int*, int*, int*, int*, int> decompressHeader3,
        delegate* unmanaged<nint, byte*, CULong, byte*, int, int, int, int, int, int> decompress2,
        delegate* unmanaged<nint, int> destroy,
        (int Num, int Denom)[] reductions)
    {
        public readonly delegate* unmanaged<nint> InitDecompress = initDecompress;
        public readonly delegate* unmanaged<nint, byte*, CULong, int*, int*, int*, int*, int> DecompressHeader3 = decompressHeader3;
        public readonly delegate* unmanaged<nint, byte*, CULong, byte*, int, int, int, int, int, int> Decompress2 = decompress2;
        public readonly delegate* unmanaged<nint, int> Destroy = destroy;
        public readonly (int Num, int Denom)[] Reductions = reductions;
    }
}
