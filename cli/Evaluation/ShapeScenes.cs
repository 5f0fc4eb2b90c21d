using Clip.Imaging;
using SkiaSharp;

namespace Truss.Clip.Cli.Evaluation;

/// <summary>
/// Draws the embedded model's world with SkiaSharp: one filled shape in one colour on a light, noisy background, in
/// images of any size and aspect ratio, the shape inside the central square that survives CLIP's center crop.
/// It mirrors <c>tools/train_tiny_clip.py</c>'s vocabulary and ranges but is an independent renderer (different
/// anti-aliasing, different random streams), so accuracy measured on it is held-out in the strongest sense.
/// Deterministic for a given seed.
/// </summary>
internal static class ShapeScenes
{
    /// <summary>Colour names with their HSV ranges (hue in degrees), as in the training script.</summary>
    public static readonly (string Name, (float Low, float High) Hue, (float Low, float High) Saturation, (float Low, float High) Value)[] Colours =
    [
        ("red", (-8, 7), (0.80f, 1.00f), (0.75f, 1.00f)),
        ("orange", (24, 34), (0.85f, 1.00f), (0.92f, 1.00f)),
        ("yellow", (50, 60), (0.80f, 1.00f), (0.90f, 1.00f)),
        ("green", (105, 135), (0.70f, 1.00f), (0.50f, 0.85f)),
        ("blue", (212, 232), (0.75f, 1.00f), (0.60f, 1.00f)),
        ("purple", (272, 290), (0.60f, 0.90f), (0.45f, 0.80f)),
    ];

    /// <summary>Shape names.</summary>
    public static readonly string[] Shapes = ["circle", "square", "triangle", "star", "cross", "crescent"];

    /// <summary>Every "a {colour} {shape}" label, colour-major.</summary>
    public static string[] AllLabels()
    {
        var labels = new string[Colours.Length * Shapes.Length];
        for (var c = 0; c < Colours.Length; c++)
        {
            for (var s = 0; s < Shapes.Length; s++)
            {
                labels[(c * Shapes.Length) + s] = $"a {Colours[c].Name} {Shapes[s]}";
            }
        }

        return labels;
    }

    /// <summary>Draws one scene; the caller disposes the image.</summary>
    public static RgbImage Draw(Random random, int colour, int shape, int? width = null, int? height = null)
    {
        var w = width ?? random.Next(48, 401);
        var h = height ?? (random.NextDouble() < 0.25 ? w : random.Next(48, 401));
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        {
            var background = SKColor.FromHsv((float)(random.NextDouble() * 360), Uniform(random, 0, 12), Uniform(random, 84, 100));
            using var backgroundPaint = new SKPaint();
            if (random.NextDouble() < 0.5)
            {
                background.ToHsv(out var bh, out var bs, out var bv);
                var from = SKColor.FromHsv(bh, bs, Math.Clamp(bv - Uniform(random, 0, 8), 0, 100));
                var to = SKColor.FromHsv(bh, bs, Math.Clamp(bv + Uniform(random, 0, 8), 0, 100));
                backgroundPaint.Shader = SKShader.CreateLinearGradient(
                    new SKPoint(0, 0), new SKPoint(w * Uniform(random, 0, 1), h), [from, to], SKShaderTileMode.Clamp);
            }
            else
            {
                backgroundPaint.Color = background;
            }

            canvas.DrawRect(0, 0, w, h, backgroundPaint);

            var shortSide = Math.Min(w, h);
            float left = (w - shortSide) / 2f, top = (h - shortSide) / 2f;
            var radius = shortSide * Uniform(random, 0.20f, 0.44f);
            var margin = 0.04f * shortSide;
            var free = shortSide - (2 * (radius + margin));
            var cx = left + (free > 0 ? radius + margin + Uniform(random, 0, free) : shortSide / 2f);
            var cy = top + (free > 0 ? radius + margin + Uniform(random, 0, free) : shortSide / 2f);
            var (_, hue, saturation, value) = Colours[colour];
            var fill = SKColor.FromHsv(
                (Uniform(random, hue.Low, hue.High) + 360) % 360, Uniform(random, saturation.Low, saturation.High) * 100, Uniform(random, value.Low, value.High) * 100);
            using var shapePaint = new SKPaint { Color = fill, IsAntialias = true, Style = SKPaintStyle.Fill };
            var rotation = (float)(random.NextDouble() * 2 * Math.PI);
            if (Shapes[shape] == "circle")
            {
                canvas.DrawCircle(cx, cy, radius, shapePaint);
            }
            else if (Shapes[shape] == "crescent")
            {
                // A disc minus a slightly smaller disc shifted towards a random direction, as the training script.
                var innerRadius = radius * Uniform(random, 0.78f, 0.9f);
                var offset = radius * Uniform(random, 0.4f, 0.55f);
                using var outer = Circle(cx, cy, radius);
                using var inner = Circle(cx + (offset * MathF.Cos(rotation)), cy + (offset * MathF.Sin(rotation)), innerRadius);
                using var crescent = outer.Op(inner, SKPathOp.Difference);
                canvas.DrawPath(crescent, shapePaint);
            }
            else
            {
                using var path = Polygon(Shapes[shape], cx, cy, radius, rotation, random);
                canvas.DrawPath(path, shapePaint);
            }
        }

        var pixels = bitmap.GetPixelSpan();
        var rgba = pixels.ToArray();
        var sigma = Uniform(random, 0, 10);
        if (sigma > 0.5f)
        {
            for (var i = 0; i < rgba.Length; i += 4)
            {
                for (var c = 0; c < 3; c++)
                {
                    rgba[i + c] = (byte)Math.Clamp(rgba[i + c] + (Gaussian(random) * sigma) + 0.5, 0, 255);
                }
            }
        }

        return RgbImage.FromRgba(rgba, w, h, AlphaMode.Drop);
    }

    private static SKPath Polygon(string shape, float cx, float cy, float r, float rotation, Random random)
    {
        List<SKPoint> points = shape switch
        {
            "square" => Ring(4, [r], cx, cy, rotation + (MathF.PI / 4)),
            "triangle" => Ring(3, [r], cx, cy, rotation - (MathF.PI / 2)),
            "star" => Ring(5, [r, r * Uniform(random, 0.38f, 0.5f)], cx, cy, rotation - (MathF.PI / 2)),
            "cross" => Cross(cx, cy, r, rotation, r * Uniform(random, 0.26f, 0.36f)),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "Unknown shape."),
        };
        using var builder = new SKPathBuilder();
        builder.AddPoly([.. points], close: true);
        return builder.Detach();
    }

    private static SKPath Circle(float cx, float cy, float radius)
    {
        using var builder = new SKPathBuilder();
        builder.AddCircle(cx, cy, radius, SKPathDirection.Clockwise);
        return builder.Detach();
    }

    private static List<SKPoint> Ring(int corners, float[] radii, float cx, float cy, float offset)
    {
        var count = corners * radii.Length;
        var points = new List<SKPoint>(count);
        for (var k = 0; k < count; k++)
        {
            var angle = offset + (2 * MathF.PI * k / count);
            var radius = radii[k % radii.Length];
            points.Add(new SKPoint(cx + (radius * MathF.Cos(angle)), cy + (radius * MathF.Sin(angle))));
        }

        return points;
    }

    private static List<SKPoint> Cross(float cx, float cy, float r, float rotation, float halfWidth)
    {
        var length = MathF.Sqrt((r * r) - (halfWidth * halfWidth));
        (float X, float Y)[] outline =
        [
            (halfWidth, length), (halfWidth, halfWidth), (length, halfWidth), (length, -halfWidth), (halfWidth, -halfWidth),
            (halfWidth, -length), (-halfWidth, -length), (-halfWidth, -halfWidth), (-length, -halfWidth), (-length, halfWidth),
            (-halfWidth, halfWidth), (-halfWidth, length),
        ];
        float cos = MathF.Cos(rotation), sin = MathF.Sin(rotation);
        var points = new List<SKPoint>(outline.Length);
        foreach (var (x, y) in outline)
        {
            points.Add(new SKPoint(cx + (x * cos) - (y * sin), cy + (x * sin) + (y * cos)));
        }

        return points;
    }

    private static float Uniform(Random random, float low, float high) => low + ((float)random.NextDouble() * (high - low));

    private static double Gaussian(Random random)
    {
        // Box-Muller: System.Random has no normal distribution.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
