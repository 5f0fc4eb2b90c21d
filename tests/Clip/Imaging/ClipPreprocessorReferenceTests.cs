using Clip.Imaging;
using Clip.IO;

namespace Truss.Clip.Tests.Clip.Imaging;

/// <summary>
/// Parity with the Python reference (<c>../shared/clip-reference/reference_preprocess.py</c>: Pillow bicubic,
/// torchvision crop rounding, OpenAI mean/std) on the shared test images.
/// </summary>
[Category("Reference")]
public class ClipPreprocessorReferenceTests
{
    // Tolerances in normalised units (one 8-bit step is 1/255/std, about 0.015). The resampler is a bit-exact port of
    // Pillow's, and on these images the decoded and resized bytes match exactly; what remains is float rounding of
    // the normalisation (a few 1e-7). The tolerances leave room for JPEG decoders that round the IDCT or chroma
    // upsampling differently by a level (another libjpeg-turbo build, or SIMD vs scalar): mean <= 0.002 allows about
    // one value in seven to be one level off, max <= 0.05 three levels on isolated pixels. A geometry or kernel
    // mistake (wrong crop offset, unwidened kernel, missing clip) gives errors of 0.1 to 2, far outside both.
    private const double MeanTolerance = 0.002;
    private const double MaxTolerance = 0.05;

    private static readonly ImageDecoder Decoder = new();
    private static readonly ClipPreprocessor Preprocessor = new();

    public static IEnumerable<string> ReferenceNames() => ReferenceImages.PreprocessReferenceNames();

    [TestCaseSource(nameof(ReferenceNames))]
    public void Preprocess_SharedImage_MatchesPythonReference(string name)
    {
        string shared = ReferenceImages.RequireSharedDirectory();
        string referencePath = Path.Combine(shared, "clip-reference", "preprocess", name + ".npy");
        string? imagePath = FindImage(Path.Combine(shared, "test-images"), name);
        if (!File.Exists(referencePath) || imagePath is null)
        {
            Assert.Ignore($"Reference tensor or image for '{name}' is missing under {shared}.");
        }

        var reference = NpyFile.ReadFloat32(referencePath);
        Assert.That(reference.Shape, Is.EqualTo(new[] { 3, 224, 224 }));

        using var image = Decoder.Decode(File.ReadAllBytes(imagePath!));
        var actual = new float[Preprocessor.TensorLength];
        Preprocessor.Preprocess(image, actual);

        double sum = 0;
        double max = 0;
        int differing = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double difference = Math.Abs(actual[i] - reference.Data[i]);
            sum += difference;
            max = Math.Max(max, difference);
            differing += difference > 1e-5 ? 1 : 0;
        }

        double mean = sum / actual.Length;
        TestContext.Out.WriteLine(
            $"{name}: {image.Width}x{image.Height} mean |diff| = {mean:E3}, max |diff| = {max:E3}, values off by more than 1e-5: {differing} of {actual.Length}");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(mean, Is.LessThanOrEqualTo(MeanTolerance), "mean absolute difference");
            Assert.That(max, Is.LessThanOrEqualTo(MaxTolerance), "max absolute difference");
        }
    }

    private static string? FindImage(string directory, string name)
    {
        foreach (string extension in (string[])[".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"])
        {
            string path = Path.Combine(directory, name + extension);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
