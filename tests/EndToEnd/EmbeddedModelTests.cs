using System.CommandLine;
using System.Net;
using System.Text;
using System.Text.Json;
using Clip;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using SkiaSharp;
using Truss.Clip.Cli;
using Truss.Clip.Cli.Evaluation;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.EndToEnd;

/// <summary>
/// The embedded model (data/tiny-clip) really classifies: freshly drawn colour × shape scenes (a C# renderer,
/// independent of the Python one the model was trained with) are recognised through the engine, through real HTTP
/// as `image` and as `image_url`, and through the CLI; and the model's outputs match the torch reference values
/// the training script wrote.
/// </summary>
[Category("EndToEnd")]
public class EmbeddedModelTests
{
    /// <summary>The accuracy the README promises on freshly drawn held-out scenes.</summary>
    private const double RequiredAccuracy = 0.95;

    private static string ModelDirectory => Path.Combine(RepositoryPaths.RepositoryRoot, "data", "tiny-clip");

    private static readonly string[] Labels = ShapeScenes.AllLabels();

    private static ZeroShotClassifier LoadClassifier() =>
        ZeroShotClassifier.Load(new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelDirectory } }, NullLoggerFactory.Instance);

    /// <summary>One scene per colour × shape pair, drawn with a seed that no other test uses.</summary>
    private static List<(RgbImage Image, int Truth)> DrawOnePerPair(int seed)
    {
        var random = new Random(seed);
        var scenes = new List<(RgbImage, int)>();
        for (var truth = 0; truth < Labels.Length; truth++)
        {
            scenes.Add((ShapeScenes.Draw(random, truth / ShapeScenes.Shapes.Length, truth % ShapeScenes.Shapes.Length), truth));
        }

        return scenes;
    }

    private static int ArgMax(IReadOnlyList<double> values) => values.Select((v, i) => (v, i)).MaxBy(p => p.v).i;

    [Test]
    public void Evaluate_540FreshScenes_ReachesTheAccuracyTheReadmeStates()
    {
        using var classifier = LoadClassifier();

        var result = EvaluateCommand.Run(classifier, count: 540, seed: 424242);

        TestContext.Out.WriteLine($"top-1 {result.Accuracy:P2} (colour {result.ColourAccuracy:P2}, shape {result.ShapeAccuracy:P2}) on {result.Total} scenes");
        Assert.That(result.Accuracy, Is.GreaterThanOrEqualTo(RequiredAccuracy));
    }

    [Test]
    public void Classifier_MatchesTheTorchReferenceOfTheTrainingScript()
    {
        // reference.json holds, for committed sample images, what torch computed at export: the preprocessed
        // pixels, the probabilities over the 36 labels and each label's token ids. Tolerances: pixels within one
        // 8-bit step of normalized units (0.02), probabilities within 1e-3 (float32 towers, same weights).
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(ModelDirectory, "reference.json")));
        var root = reference.RootElement;
        var labels = root.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToArray();
        var engine = new ClipEngineOptions
        {
            Model = new ClipModelOptions { ModelDirectory = ModelDirectory },
            LogitScale = (float)root.GetProperty("logit_scale_exp").GetDouble(),
        };
        using var classifier = ZeroShotClassifier.Load(engine, NullLoggerFactory.Instance);

        var tokenIds = root.GetProperty("label_token_ids").EnumerateArray().ToArray();
        for (var i = 0; i < labels.Length; i++)
        {
            Assert.That(classifier.Tokenizer.Encode(labels[i], 77), Is.EqualTo(tokenIds[i].EnumerateArray().Select(v => v.GetInt32()).ToArray()), labels[i]);
        }

        var preprocessor = new ClipPreprocessor(classifier.Preprocessing);
        foreach (var sample in root.GetProperty("images").EnumerateArray())
        {
            var path = Path.Combine(RepositoryPaths.RepositoryRoot, sample.GetProperty("file").GetString()!);
            using var image = classifier.Decoder.Decode(File.ReadAllBytes(path));
            var pixels = new float[preprocessor.TensorLength];
            preprocessor.Preprocess(image, pixels);
            var expectedPixels = sample.GetProperty("pixel_values").EnumerateArray().Select(p => p.GetSingle()).ToArray();
            Assert.That(pixels, Is.EqualTo(expectedPixels).Within(0.02), path + " pixels");

            var probabilities = classifier.Classify([image], labels)[0];
            var expected = sample.GetProperty("probs").EnumerateArray().Select(p => p.GetSingle()).ToArray();
            Assert.That(probabilities, Is.EqualTo(expected).Within(1e-3), path);
            Assert.That(labels[Array.IndexOf(probabilities, probabilities.Max())], Is.EqualTo(sample.GetProperty("expected_label").GetString()));
        }
    }

    [Test]
    public async Task Predict_FreshScenes_ThroughHttpAsPixelsAndAsUrls()
    {
        await using var files = await LoopbackFileServer.StartAsync();
        await using var server = await TestTrussServer.StartAsync(
            context => new Model(context, ModelDirectory, _ => null),
            "model_metadata:\n  clip:\n    fetch:\n      allowed_networks: [\"127.0.0.1/32\"]\n");
        await server.WaitUntilReadyAsync();
        var scenes = DrawOnePerPair(seed: 777);
        int pixelCorrect = 0, urlCorrect = 0;
        try
        {
            foreach (var (image, truth) in scenes)
            {
                var pixels = ToPixelList(image);
                var byPixels = await PredictAsync(server.Client, new { labels = Labels, image = pixels });
                pixelCorrect += ArgMax(byPixels) == truth ? 1 : 0;

                var url = files.Serve($"/scene{truth}.png", EncodePng(image));
                var byUrl = await PredictAsync(server.Client, new { labels = Labels, image_url = url });
                urlCorrect += ArgMax(byUrl) == truth ? 1 : 0;
                Assert.That(byUrl, Is.EqualTo(byPixels), "PNG is lossless: the same pixels give the same scores");
            }
        }
        finally
        {
            scenes.ForEach(s => s.Image.Dispose());
        }

        TestContext.Out.WriteLine($"pixels {pixelCorrect}/{scenes.Count}, urls {urlCorrect}/{scenes.Count}");
        Assert.That(pixelCorrect, Is.GreaterThanOrEqualTo((int)Math.Ceiling(RequiredAccuracy * scenes.Count) - 1));
    }

    [Test]
    public async Task CliPredict_FreshScene_NamesItsColourAndShape()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tiny-clip-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "config.yaml"), "model_name: cli\n");
        try
        {
            var scenes = DrawOnePerPair(seed: 31337);
            var correct = 0;
            foreach (var (image, truth) in scenes.Where((_, i) => i % 5 == 0))
            {
                var path = Path.Combine(directory, $"{truth}.png");
                await File.WriteAllBytesAsync(path, EncodePng(image));
                var output = new StringWriter();
                var exitCode = await TrussClipCommandLine.CreateRoot()
                    .Parse(["predict", "--image", path, "--labels", string.Join(",", Labels), "--model-dir", ModelDirectory, "--config", Path.Combine(directory, "config.yaml")])
                    .InvokeAsync(new InvocationConfiguration { Output = output, Error = TextWriter.Null });
                Assert.That(exitCode, Is.Zero);
                using var document = JsonDocument.Parse(output.ToString());
                var scores = document.RootElement.GetProperty("data").GetProperty("predictions")[0].EnumerateObject().Select(p => p.Value.GetDouble()).ToArray();
                correct += ArgMax(scores) == truth ? 1 : 0;
            }

            scenes.ForEach(s => s.Image.Dispose());
            Assert.That(correct, Is.GreaterThanOrEqualTo(7), "at least 7 of the 8 scenes");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<double[]> PredictAsync(HttpClient client, object request)
    {
        var response = await client.PostAsync("/v1/models/model:predict", new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("data").GetProperty("predictions")[0].EnumerateObject().Select(p => p.Value.GetDouble()).ToArray();
    }

    private static int[][][] ToPixelList(RgbImage image)
    {
        var pixels = image.Pixels;
        var rows = new int[image.Height][][];
        for (var y = 0; y < image.Height; y++)
        {
            rows[y] = new int[image.Width][];
            for (var x = 0; x < image.Width; x++)
            {
                var i = ((y * image.Width) + x) * 3;
                rows[y][x] = [pixels[i], pixels[i + 1], pixels[i + 2]];
            }
        }

        return rows;
    }

    private static byte[] EncodePng(RgbImage image) =>
        Clip.Imaging.TestImages.EncodeRgb(image.Pixels.ToArray(), image.Width, image.Height, SKEncodedImageFormat.Png);
}
