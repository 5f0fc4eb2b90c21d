using System.CommandLine;
using System.Text.Json;
using Clip.Imaging;
using Clip.IO;
using Truss.Clip.Cli;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.cli;

/// <summary>The CLI tools, invoked in-process exactly as the executable parses them.</summary>
public class ClipCommandsTests
{
    private string _directory = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "clip-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        File.WriteAllText(Path.Combine(_directory, "config.yaml"), "model_name: cli-test\n");
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await TrussClipCommandLine.CreateRoot().Parse(args)
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    [Test]
    [Category("Reference")]
    public async Task Tokenize_RealVocabulary_PrintsReferenceIds()
    {
        var vocab = RepositoryPaths.RequireShared("clip-vocab/bpe_simple_vocab_16e6.txt.gz");

        var (exitCode, output, _) = await RunAsync("tokenize", "--vocab", vocab, "a photo of a cat", "A Photo Of A CAT.");

        Assert.That(exitCode, Is.Zero);
        Assert.That(output.Trim(), Is.EqualTo("[[49406,320,1125,539,320,2368,49407],[49406,320,1125,539,320,2368,269,49407]]"));
    }

    [Test]
    public async Task Tokenize_ModelFolder_UsesItsVocabulary()
    {
        var (exitCode, output, _) = await RunAsync("tokenize", "--vocab", ModelFixtures.Split, "a cat");

        var ids = JsonSerializer.Deserialize<int[][]>(output)!;
        Assert.That(exitCode, Is.Zero);
        Assert.That(ids[0][0], Is.EqualTo(623), "SOT of a 625-token vocabulary");
        Assert.That(ids[0][^1], Is.EqualTo(624));
    }

    [Test]
    public async Task Preprocess_WritesTheEngineTensorAsNpy()
    {
        var rgb = new byte[50 * 20 * 3];
        new Random(3).NextBytes(rgb);
        var imagePath = Path.Combine(_directory, "in.png");
        await File.WriteAllBytesAsync(imagePath, TestImages.EncodeRgb(rgb, 50, 20, SkiaSharp.SKEncodedImageFormat.Png));
        var outPath = Path.Combine(_directory, "out.npy");

        var (exitCode, _, error) = await RunAsync("preprocess", imagePath, "--out", outPath, "--size", "16");

        Assert.That(exitCode, Is.Zero, error);
        var written = NpyFile.ReadFloat32(outPath);
        using var image = RgbImage.FromRgb(rgb, 50, 20);
        var expected = new float[3 * 16 * 16];
        new ClipPreprocessor(new ClipPreprocessOptions(size: 16)).Preprocess(image, expected);
        Assert.That(written.Shape, Is.EqualTo(new[] { 3, 16, 16 }));
        Assert.That(written.Data, Is.EqualTo(expected));
    }

    [Test]
    public async Task Preprocess_TruncatedImage_FailsWithAMessage()
    {
        var imagePath = Path.Combine(_directory, "bad.png");
        await File.WriteAllBytesAsync(imagePath, TestImages.EncodeRgb(new byte[30 * 30 * 3], 30, 30, SkiaSharp.SKEncodedImageFormat.Png)[..40]);

        var (exitCode, _, error) = await RunAsync("preprocess", imagePath, "--out", Path.Combine(_directory, "x.npy"));

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: "));
    }

    [Test]
    public async Task Predict_LocalImage_PrintsTheSeedEnvelope()
    {
        var rgb = new byte[40 * 40 * 3];
        new Random(5).NextBytes(rgb);
        var imagePath = Path.Combine(_directory, "img.png");
        await File.WriteAllBytesAsync(imagePath, TestImages.EncodeRgb(rgb, 40, 40, SkiaSharp.SKEncodedImageFormat.Png));

        var (exitCode, output, error) = await RunAsync("predict", "--image", imagePath, "--labels", "a cat, a dog",
            "--model-dir", ModelFixtures.Split, "--config", Path.Combine(_directory, "config.yaml"));

        Assert.That(exitCode, Is.Zero, error);
        using var document = JsonDocument.Parse(output);
        var predictions = document.RootElement.GetProperty("data").GetProperty("predictions")[0];
        Assert.That(predictions.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "a cat", "a dog" }));
        Assert.That(output, Does.StartWith("{\"status\": \"success\""));
    }

    [Test]
    public async Task Predict_BadConfig_ExitsWith2()
    {
        var config = Path.Combine(_directory, "bad.yaml");
        await File.WriteAllTextAsync(config, "model_metadata:\n  clip:\n    logit_scale: -3\n");

        var (exitCode, _, error) = await RunAsync("predict", "--image", "x.png", "--labels", "a", "--config", config);

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error, Does.Contain("model_metadata.clip.logit_scale"));
    }
}
