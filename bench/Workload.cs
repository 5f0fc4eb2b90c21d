namespace Truss.Clip.Benchmarks;

/// <summary>The request the suite models, shared with tools/python_baseline.py (same labels, same order).</summary>
public static class Workload
{
    /// <summary>Five labels, as in tools/python_baseline.py's LABELS.</summary>
    public static readonly string[] Labels =
        ["a photo of a cat", "a photo of a dog", "a photo of a bird", "a photo of a car", "a photo of a tree"];

    /// <summary>Five labels the embedded model knows (tools/load uses them too).</summary>
    public static readonly string[] TinyLabels =
        ["a red circle", "a blue square", "a yellow star", "a green triangle", "a purple cross"];

    /// <summary>Text long enough to fill the 77-token context after truncation, in any vocabulary.</summary>
    public static readonly string FullContextText = string.Join(' ', Enumerable.Repeat("a red circle", 60));

    /// <summary>A smooth, deterministic stand-in for a preprocessed batch (values in normalized units).</summary>
    public static float[] Pixels(int batch, int size)
    {
        var pixels = new float[batch * 3 * size * size];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = -1.5f + (3f * i / pixels.Length);
        }

        return pixels;
    }
}
