using System.CommandLine;
using System.Text.Json;
using Clip.Imaging;
using Clip.IO;
using Clip.Tokenization;
using Microsoft.Extensions.Logging;
using Serilog.Extensions.Logging;
using Truss.Server;
using Truss.Server.Configuration;
using Truss.Server.Logging;
using Truss.Server.Serialization;

namespace Truss.Clip.Cli;

/// <summary>
/// The CLIP command-line tools: <c>tokenize</c>, <c>preprocess</c> and <c>predict</c>. Each prints a machine-readable
/// result on stdout and reports problems on stderr with exit code 1 (2 for a bad config.yaml).
/// </summary>
internal static class ClipCommands
{
    /// <summary><c>tokenize [--vocab PATH] TEXT...</c>: one JSON id array per text (start and end tokens, no padding).</summary>
    public static Command Tokenize()
    {
        var vocab = new Option<string>("--vocab")
        {
            Description = "Tokenizer file (bpe_simple_vocab*.txt[.gz], tokenizer.json) or model folder (default: the configured model)",
        };
        var contextLength = new Option<int>("--context-length") { Description = "Context length (default 77)", DefaultValueFactory = _ => 77 };
        var config = ConfigOption();
        var texts = new Argument<string[]>("text") { Description = "Texts to tokenize", Arity = ArgumentArity.OneOrMore };
        var command = new Command("tokenize", "Print the CLIP token ids of each text as a JSON array") { vocab, contextLength, config, texts };
        command.SetAction(parseResult => Run(parseResult, () =>
        {
            var path = parseResult.GetValue(vocab) ?? ConfiguredModelDirectory(parseResult.GetValue(config)!);
            var tokenizer = Directory.Exists(path) ? ClipTokenizer.FromDirectory(path)
                : path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? ClipTokenizer.FromHuggingFaceTokenizerJson(path)
                : ClipTokenizer.FromBpeMergesFile(path);
            var ids = parseResult.GetValue(texts)!.Select(text => tokenizer.Encode(text, parseResult.GetValue(contextLength))).ToArray();
            parseResult.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(ids));
        }));
        return command;
    }

    /// <summary><c>preprocess IMAGE --out FILE.npy</c>: the normalized float32 [3,S,S] tensor CLIP sees.</summary>
    public static Command Preprocess()
    {
        var image = new Argument<string>("image") { Description = "Image file (JPEG, PNG, WebP, GIF, BMP)" };
        var output = new Option<string>("--out") { Description = "Where to write the .npy tensor", Required = true };
        var size = new Option<int>("--size") { Description = "Square input size (default 224)", DefaultValueFactory = _ => 224 };
        var command = new Command("preprocess", "Write the CLIP-preprocessed tensor of an image as a NumPy .npy file (OpenAI mean/std, Pillow bicubic)")
        {
            image, output, size,
        };
        command.SetAction(parseResult => Run(parseResult, () =>
        {
            using var decoded = new ImageDecoder().Decode(File.ReadAllBytes(parseResult.GetValue(image)!));
            var preprocessor = new ClipPreprocessor(new ClipPreprocessOptions(size: parseResult.GetValue(size)));
            var tensor = new float[preprocessor.TensorLength];
            preprocessor.Preprocess(decoded, tensor);
            var path = parseResult.GetValue(output)!;
            NpyFile.WriteFloat32(path, tensor, [3, preprocessor.Size, preprocessor.Size]);
            parseResult.InvocationConfiguration.Output.WriteLine($"{path}: float32 [3, {preprocessor.Size}, {preprocessor.Size}] from {decoded.Width}x{decoded.Height}");
        }));
        return command;
    }

    /// <summary><c>predict --image PATH|URL --labels "a,b,c"</c>: the predict response, as the server would answer.</summary>
    public static Command Predict(Option<string?> modelDirectory)
    {
        var image = new Option<string>("--image") { Description = "Image file path or http(s) URL", Required = true };
        var labels = new Option<string>("--labels") { Description = "Comma-separated labels, e.g. \"a cat,a dog\"", Required = true };
        var config = ConfigOption();
        var command = new Command("predict", "Classify one image against labels with the configured model and print the response")
        {
            image, labels, config, modelDirectory,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            try
            {
                var trussConfig = TrussConfig.Load(parseResult.GetValue(config)!);
                using var serilog = TrussLogging.CreateLogger(json: false, debug: false, Console.Error);
                using var loggerFactory = new SerilogLoggerFactory(serilog);
                var context = new ModelContext(trussConfig, new TrussSecrets(trussConfig.Secrets), loggerFactory);
                using var model = new Model(context, parseResult.GetValue(modelDirectory));
                model.Load();

                var source = parseResult.GetValue(image)!;
                var input = new OrderedDictionary<string, object?>
                {
                    ["labels"] = parseResult.GetValue(labels)!.Split(',', StringSplitOptions.TrimEntries).Cast<object?>().ToList(),
                };
                if (source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                {
                    input["image_url"] = source;
                }
                else
                {
                    input["image_base64"] = Convert.ToBase64String(await File.ReadAllBytesAsync(source, cancellationToken));
                }

                var result = await model.PredictAsync(input, cancellationToken);
                parseResult.InvocationConfiguration.Output.WriteLine(PythonJsonWriter.Serialize(result));
                return 0;
            }
            catch (TrussConfigException e)
            {
                await parseResult.InvocationConfiguration.Error.WriteLineAsync(e.Message);
                return 2;
            }
            catch (Exception e) when (e is ModelInputException or IOException or global::Clip.Inference.ClipModelException or UnauthorizedAccessException)
            {
                await parseResult.InvocationConfiguration.Error.WriteLineAsync("error: " + e.Message);
                return 1;
            }
        });
        return command;
    }

    private static Option<string> ConfigOption() => new("--config")
    {
        Description = "Truss config.yaml (default ./config.yaml)",
        DefaultValueFactory = _ => "config.yaml",
    };

    private static string ConfiguredModelDirectory(string configPath)
    {
        var config = File.Exists(configPath) ? TrussConfig.Load(configPath) : TrussConfig.Parse(new StringReader(""), Directory.GetCurrentDirectory());
        return ClipSettings.From(config, null, Environment.GetEnvironmentVariable).Engine.Model.ModelDirectory;
    }

    private static int Run(ParseResult parseResult, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ImageDecodeException or UnauthorizedAccessException or TrussConfigException or ArgumentException)
        {
            parseResult.InvocationConfiguration.Error.WriteLine("error: " + e.Message);
            return e is TrussConfigException ? 2 : 1;
        }
    }
}
