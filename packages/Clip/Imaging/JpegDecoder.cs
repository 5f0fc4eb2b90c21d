namespace Clip.Imaging;

/// <summary>Which library decodes JPEG input (<see cref="ImageDecodeOptions.JpegDecoder"/>).</summary>
public enum JpegDecoder
{
    /// <summary>
    /// The system's libjpeg-turbo (TurboJPEG, with SIMD) when <c>libturbojpeg.so.0</c> is installed, else Skia.
    /// Files TurboJPEG refuses (CMYK/YCCK, truncated, corrupt, anything it cannot decode to RGB) go to Skia, which
    /// decodes them or fails with its usual error. The pixels are identical either way.
    /// </summary>
    Auto,

    /// <summary>Always Skia's bundled libjpeg-turbo (built without SIMD on Linux, about half the speed).</summary>
    Skia,
}
