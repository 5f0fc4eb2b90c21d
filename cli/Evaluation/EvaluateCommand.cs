using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Clip;
using Clip.Imaging;
using Microsoft.Extensions.Logging.Abstractions;
using SkiaSharp;
using Truss.Server.Configuration;

namespace Truss.Clip.Cli.Evaluation;

/// <summary>
/// <c>evaluate</c>: zero-shot accuracy of the configured model on freshly drawn shape scenes (every colour × shape
/// pair as a label), through the same engine the server uses. This is how the embedded model's accuracy in the
/// README is measured.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create(Option<string?> modelDirectory)
    {
        var count = new Option<int>("--count") { Description = "Images to draw (default 600)", DefaultValueFactory = _ => 600 };
        var seed = new Option<int>("--seed") { Description = "Random seed of the drawn images (default 20261127)", DefaultValueFactory = _ => 20261127 };
        var prompt = new Option<string>("--prompt") { Description = "Prompt template around each label (default \"{}\")", DefaultValueFactory = _ => "{}" };
        var save = new Option<string?>("--save") { Description = "Also write the drawn images as PNG files into this folder" };
        var config = new Option<string>("--config") { Description = "Truss config.yaml (default ./config.yaml)", DefaultValueFactory = _ => "config.yaml" };
        var command = new Command("evaluate", "Measure zero-shot top-1 accuracy on freshly drawn colour × shape images")
        {
            count, seed, prompt, save, config, modelDirectory,
        };
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            try
            {
                var configPath = parseResult.GetValue(config)!;
                var trussConfig = File.Exists(configPath)
                    ? TrussConfig.Load(configPath)
                    : TrussConfig.Parse(new StringReader(""), Directory.GetCurrentDirectory());
                var settings = ClipSettings.From(trussConfig, parseResult.GetValue(modelDirectory), Environment.GetEnvironmentVariable);
                var options = settings.Engine with { PromptTemplates = ClipEngineOptions.ValidateTemplates([parseResult.GetValue(prompt)!]) };
                using var classifier = ZeroShotClassifier.Load(options, NullLoggerFactory.Instance);
                var result = Run(classifier, parseResult.GetValue(count), parseResult.GetValue(seed), parseResult.GetValue(save));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"model {settings.Engine.Model.ModelDirectory}, prompt \"{parseResult.GetValue(prompt)}\", seed {parseResult.GetValue(seed)}: " +
                    $"top-1 {result.Correct}/{result.Total} = {result.Accuracy:P2} (colour {result.ColourAccuracy:P2}, shape {result.ShapeAccuracy:P2}), " +
                    $"{result.Elapsed.TotalMilliseconds / result.Total:0.0} ms per image"));
                return 0;
            }
            catch (Exception e) when (e is TrussConfigException or ArgumentException or IOException or global::Clip.Inference.ClipModelException)
            {
                parseResult.InvocationConfiguration.Error.WriteLine("error: " + e.Message);
                return e is TrussConfigException ? 2 : 1;
            }
        });
        return command;
    }

    /// <summary>Draws <paramref name="count"/> scenes (pairs in turn, sizes random) and classifies each.</summary>
    public static EvaluationResult Run(ZeroShotClassifier classifier, int count, int seed, string? saveDirectory = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var labels = ShapeScenes.AllLabels();
        var random = new Random(seed);
        int correct = 0, colourCorrect = 0, shapeCorrect = 0;
        var shapes = ShapeScenes.Shapes.Length;
        if (saveDirectory is not null)
        {
            Directory.CreateDirectory(saveDirectory);
        }

        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var truth = i % labels.Length;
            using var image = ShapeScenes.Draw(random, truth / shapes, truth % shapes);
            if (saveDirectory is not null)
            {
                Save(image, Path.Combine(saveDirectory, $"{i:D4}_{labels[truth].Replace(' ', '_')}.png"));
            }

            var probabilities = classifier.Classify([image], labels)[0];
            var predicted = ArgMax(probabilities);
            correct += predicted == truth ? 1 : 0;
            colourCorrect += predicted / shapes == truth / shapes ? 1 : 0;
            shapeCorrect += predicted % shapes == truth % shapes ? 1 : 0;
        }

        return new EvaluationResult(count, correct, colourCorrect, shapeCorrect, stopwatch.Elapsed);
    }

    private static int ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static void Save(RgbImage image, string path)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgb = image.Pixels;
        var rgba = bitmap.GetPixelSpan();
        for (int p = 0, q = 0; p < rgb.Length; p += 3, q += 4)
        {
            rgba[q] = rgb[p];
            rgba[q + 1] = rgb[p + 1];
            rgba[q + 2] = rgb[p + 2];
            rgba[q + 3] = 255;
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}

/// <summary>What <see cref="EvaluateCommand.Run"/> measured.</summary>
internal sealed record EvaluationResult(int Total, int Correct, int ColourCorrect, int ShapeCorrect, TimeSpan Elapsed)
{
    public double Accuracy => (double)Correct / Total;

    public double ColourAccuracy => (double)ColourCorrect / Total;

    public double ShapeAccuracy => (double)ShapeCorrect / Total;
}
