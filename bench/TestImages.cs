using Clip.Imaging;
using SkiaSharp;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The three preprocessing inputs, written once into <see cref="BenchPaths.ImagesDir"/> so that the C# benchmarks and
/// the Pillow baseline read byte-identical files: the 1080p photo-like JPEG from ../shared (generated when absent),
/// and a 640×480 PNG and a 224×224 JPEG derived from it.
/// </summary>
public static class TestImages
{
    public const string Jpeg1080p = "scene_1920x1080.jpg";
    public const string Png640x480 = "scene_640x480.png";
    public const string Jpeg224 = "scene_224x224.jpg";

    /// <summary>Benchmark parameter name → file name.</summary>
    public static IReadOnlyDictionary<string, string> Files { get; } = new Dictionary<string, string>
    {
        ["jpeg_1920x1080"] = Jpeg1080p,
        ["png_640x480"] = Png640x480,
        ["jpeg_224x224"] = Jpeg224,
    };

    /// <summary>The bytes of one prepared image, preparing the folder first when needed.</summary>
    public static byte[] Read(string key)
    {
        Prepare(BenchPaths.ImagesDir);
        return File.ReadAllBytes(Path.Combine(BenchPaths.ImagesDir, Files[key]));
    }

    /// <summary>Creates any missing file; existing files are kept, so every tool in one run sees the same bytes.</summary>
    public static void Prepare(string dir)
    {
        Directory.CreateDirectory(dir);
        var scene = Path.Combine(dir, Jpeg1080p);
        if (!File.Exists(scene))
        {
            var shared = Path.Combine(BenchPaths.SharedDir, "test-images", Jpeg1080p);
            if (File.Exists(shared))
            {
                File.Copy(shared, scene);
            }
            else
            {
                File.WriteAllBytes(scene, GenerateScene(1920, 1080));
            }
        }

        var derived = new (string Name, int Width, int Height, SKEncodedImageFormat Format, int Quality)[]
        {
            (Png640x480, 640, 480, SKEncodedImageFormat.Png, 100),
            (Jpeg224, 224, 224, SKEncodedImageFormat.Jpeg, 90),
        };
        if (derived.All(d => File.Exists(Path.Combine(dir, d.Name))))
        {
            return;
        }

        using var source = new ImageDecoder().Decode(File.ReadAllBytes(scene));
        foreach (var (name, width, height, format, quality) in derived)
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path))
            {
                // Pillow-bicubic downscale, so the smaller files look like real downsized photos, not aliased ones.
                using var small = PillowResampler.Resize(source, width, height);
                File.WriteAllBytes(path, Encode(small, format, quality));
            }
        }
    }

    /// <summary>A photo-like 1080p frame (gradients, soft shapes, sensor-like noise), JPEG quality 90.</summary>
    private static byte[] GenerateScene(int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(bitmap))
        {
            using var sky = SKShader.CreateLinearGradient(
                new SKPoint(0, 0), new SKPoint(0, height), [new SKColor(90, 150, 220), new SKColor(230, 200, 160)], SKShaderTileMode.Clamp);
            using var paint = new SKPaint { Shader = sky, IsAntialias = true };
            canvas.DrawRect(0, 0, width, height, paint);
            paint.Shader = null;
            var rng = new Random(1080);
            for (var i = 0; i < 60; i++)
            {
                paint.Color = new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(120, 255));
                canvas.DrawCircle(rng.Next(width), rng.Next(height), rng.Next(20, 260), paint);
            }
        }

        var pixels = bitmap.GetPixelSpan();
        var noise = new Random(7);
        for (var i = 0; i < pixels.Length; i += 4)
        {
            var n = noise.Next(-12, 13);
            for (var c = 0; c < 3; c++)
            {
                pixels[i + c] = (byte)Math.Clamp(pixels[i + c] + n, 0, 255);
            }
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    private static byte[] Encode(RgbImage image, SKEncodedImageFormat format, int quality)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = bitmap.GetPixelSpan();
        ReadOnlySpan<byte> rgb = image.Pixels;
        for (int p = 0, q = 0; p < rgb.Length; p += 3, q += 4)
        {
            rgba[q] = rgb[p];
            rgba[q + 1] = rgb[p + 1];
            rgba[q + 2] = rgb[p + 2];
            rgba[q + 3] = 255;
        }

        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }
}
