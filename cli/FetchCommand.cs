using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Truss.Server.ModelCache;

namespace Truss.Clip.Cli;

/// <summary>
/// <c>fetch NAME_OR_REPO [--dir DIR] [--variant fp32|fp16|int8] [--revision REV]</c>: downloads a CLIP ONNX export
/// from the Hugging Face Hub (<c>$HF_ENDPOINT</c>, token <c>$HF_TOKEN</c>) and prints how to serve it.
/// </summary>
/// <remarks>
/// <para>Known exports (<see cref="Presets"/>, also by short alias such as <c>vit-b-32</c>) download exactly the files
/// the engine reads. Any other repository id gets generic patterns: the chosen variant's <c>*.onnx</c> under
/// <c>onnx/</c> (just the vision and text towers when it has them), else <c>visual/model.onnx</c> and
/// <c>textual/model.onnx</c> (Immich) or a top-level <c>model.onnx</c>, plus every <c>*.json</c>, <c>*.txt</c> and
/// <c>*.txt.gz</c> sidecar.</para>
/// <para>Exit codes: 0 downloaded (or already present), 1 download or verification failure, 2 bad arguments
/// (unknown variant, a variant the repository lacks, a malformed repository id).</para>
/// </remarks>
internal sealed class FetchCommand : Command
{
    /// <summary>Exit code for a bad argument.</summary>
    public const int UsageExitCode = 2;

    /// <summary>Exit code for a failed download or verification.</summary>
    public const int FailureExitCode = 1;

    private static readonly string[] SplitSidecars =
    [
        "config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.json", "merges.txt",
    ];

    private static readonly string[] ImmichSidecars =
    [
        "config.json", "visual/preprocess_cfg.json", "textual/tokenizer.json", "textual/tokenizer_config.json",
        "textual/special_tokens_map.json", "textual/vocab.json", "textual/merges.txt",
    ];

    private static readonly string[] GenericSidecars = ["*.json", "*.txt", "*.txt.gz"];

    /// <summary>File-name suffixes of non-fp32 ONNX exports (transformers.js and optimum conventions).</summary>
    private static readonly string[] VariantSuffixes = ["_fp16", "_quantized", "_int8", "_uint8", "_q4", "_q4f16", "_bnb4"];

    private readonly Func<string, string?> _environment;
    private readonly Func<HubClientOptions, HubClientOptions>? _configureClient;

    // Zero or more, checked by the action, so that a missing or extra name exits with 2 rather than the parser's 1.
    private readonly Argument<string[]> _model = new("model")
    {
        Description = "A known export (" + DescribePresets() + ") or any Hub repository id (owner/name)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<string?> _directory = new("--dir")
    {
        Description = "Where to put the files (default: models/<owner>__<name>)",
    };

    private readonly Option<string?> _variant = new("--variant")
    {
        Description = "Model precision: fp32 (default), fp16 or int8",
    };

    private readonly Option<string?> _revision = new("--revision")
    {
        Description = "Branch, tag or commit (default: main)",
    };

    /// <summary>Creates the command.</summary>
    /// <param name="environment">Environment lookup (<c>HF_ENDPOINT</c>, <c>HF_TOKEN</c>, ...); tests pass their own.</param>
    /// <param name="configureClient">Adjusts the Hub client's options (tests shorten timeouts and retry pauses).</param>
    public FetchCommand(Func<string, string?> environment, Func<HubClientOptions, HubClientOptions>? configureClient = null)
        : base("fetch", "Download a CLIP ONNX export from the Hugging Face Hub and print how to serve it")
    {
        _environment = environment;
        _configureClient = configureClient;
        Arguments.Add(_model);
        Options.Add(_directory);
        Options.Add(_variant);
        Options.Add(_revision);
        SetAction(RunAsync);
    }

    /// <summary>Model precision.</summary>
    public enum Variant
    {
        /// <summary>float32, the reference.</summary>
        Fp32,

        /// <summary>float16 weights (<c>*_fp16.onnx</c>).</summary>
        Fp16,

        /// <summary>8-bit quantized (<c>*_quantized.onnx</c> on transformers.js exports).</summary>
        Int8,
    }

    /// <summary>How an export's files are laid out.</summary>
    public enum ExportLayout
    {
        /// <summary>transformers.js: <c>onnx/vision_model*.onnx</c> and <c>onnx/text_model*.onnx</c>.</summary>
        Split,

        /// <summary>Immich: <c>visual/model.onnx</c> and <c>textual/model.onnx</c>, fp32 only.</summary>
        Immich,
    }

    /// <summary>A known export: its repository, layout and short aliases.</summary>
    public sealed record Preset(string RepoId, ExportLayout Layout, params string[] Aliases);

    /// <summary>The known exports.</summary>
    public static IReadOnlyList<Preset> Presets { get; } =
    [
        new("Xenova/clip-vit-base-patch32", ExportLayout.Split, "vit-b-32", "clip-vit-base-patch32"),
        new("Xenova/clip-vit-base-patch16", ExportLayout.Split, "vit-b-16", "clip-vit-base-patch16"),
        new("Xenova/clip-vit-large-patch14", ExportLayout.Split, "vit-l-14", "clip-vit-large-patch14"),
        new("immich-app/ViT-B-32__openai", ExportLayout.Immich, "immich-vit-b-32", "ViT-B-32__openai"),
        new("immich-app/ViT-B-16__openai", ExportLayout.Immich, "immich-vit-b-16", "ViT-B-16__openai"),
        new("immich-app/ViT-L-14__openai", ExportLayout.Immich, "immich-vit-l-14", "ViT-L-14__openai"),
    ];

    /// <summary>The preset for a repository id or alias (case-insensitive), or null.</summary>
    public static Preset? FindPreset(string nameOrRepo)
    {
        foreach (var preset in Presets)
        {
            if (string.Equals(preset.RepoId, nameOrRepo, StringComparison.OrdinalIgnoreCase))
            {
                return preset;
            }

            foreach (var alias in preset.Aliases)
            {
                if (string.Equals(alias, nameOrRepo, StringComparison.OrdinalIgnoreCase))
                {
                    return preset;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The files of <paramref name="repository"/> to download for <paramref name="preset"/> (null: generic patterns)
    /// and <paramref name="variant"/>, and the <c>model_variant</c> the engine needs to load them (null for fp32).
    /// </summary>
    /// <exception cref="UsageException">The repository has no ONNX files of that variant.</exception>
    /// <exception cref="HubException">A preset repository lacks a file it should have.</exception>
    public static (IReadOnlyList<HubFile> Files, string? ModelVariant) Plan(HubRepository repository, Preset? preset, Variant variant)
    {
        return preset switch
        {
            { Layout: ExportLayout.Split } => PlanPreset(repository, variant, SplitTowers(variant), SplitSidecars, SplitModelVariant(variant)),
            { Layout: ExportLayout.Immich } => variant == Variant.Fp32
                ? PlanPreset(repository, variant, ["visual/model.onnx", "textual/model.onnx"], ImmichSidecars, null)
                : throw ImmichVariantError(repository.RepoId, variant),
            _ => PlanGeneric(repository, variant),
        };
    }

    private async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var output = parseResult.InvocationConfiguration.Output;
        var error = parseResult.InvocationConfiguration.Error;
        try
        {
            var names = parseResult.GetValue(_model) ?? [];
            if (names.Length > 1)
            {
                throw new UsageException($"unexpected argument '{names[1]}' (usage: fetch NAME_OR_REPO [--dir DIR] [--variant fp32|fp16|int8] [--revision REV])");
            }

            var name = names.Length == 1 ? names[0]
                : throw new UsageException($"name a model to fetch: {DescribePresets()}, or a Hub repository id (owner/name)");
            var variant = ParseVariant(parseResult.GetValue(_variant));
            var revision = parseResult.GetValue(_revision) ?? "main";
            var preset = FindPreset(name);
            var repoId = preset?.RepoId ?? name;
            HuggingFaceHubClient.ValidateRepoId(repoId);
            if (preset is { Layout: ExportLayout.Immich } && variant != Variant.Fp32)
            {
                throw ImmichVariantError(repoId, variant);
            }

            var directory = parseResult.GetValue(_directory) is { Length: > 0 } chosen ? chosen : DefaultDirectory(repoId);

            var options = HubClientOptions.FromEnvironment(_environment);
            options = _configureClient?.Invoke(options) ?? options;
            using var client = new HuggingFaceHubClient(options);
            var repository = await client.GetRepositoryAsync(repoId, revision, cancellationToken);
            var (files, modelVariant) = Plan(repository, preset, variant);
            var result = await client.DownloadAsync(repository, files, directory, new ProgressRenderer(error, IsTerminal(error)), cancellationToken);

            var variantText = variant == Variant.Fp32 ? "" : $" ({variant.ToString().ToLowerInvariant()})";
            output.WriteLine(
                $"Fetched {repoId}@{revision}{variantText} into {result.Directory}: {result.Downloaded.Count} files downloaded " +
                $"({FormatBytes(result.BytesDownloaded)}), {result.Skipped.Count} already present, {FormatBytes(result.TotalBytes)} in all, " +
                $"{result.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
            output.WriteLine("Serve it with:");
            output.WriteLine(modelVariant is null
                ? $"  --model-dir {directory}"
                : $"  --model-dir {directory}   (with model_variant: {modelVariant} in config.yaml)");
            output.WriteLine("or in config.yaml:");
            output.WriteLine("  model_metadata:");
            output.WriteLine("    clip:");
            output.WriteLine($"      model_dir: {directory}");
            if (modelVariant is not null)
            {
                output.WriteLine($"      model_variant: {modelVariant}");
            }

            return 0;
        }
        catch (UsageException e)
        {
            error.WriteLine("error: " + e.Message);
            return UsageExitCode;
        }
        catch (HubException e)
        {
            error.WriteLine("error: " + e.Message);
            return e.Kind == HubErrorKind.InvalidArgument ? UsageExitCode : FailureExitCode;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("error: cancelled; run the same command again to resume");
            return FailureExitCode;
        }
    }

    /// <summary>Where <c>--dir</c> defaults to: <c>models/&lt;owner&gt;__&lt;name&gt;</c>, relative to the working folder.</summary>
    internal static string DefaultDirectory(string repoId) => Path.Combine("models", repoId.Replace("/", "__", StringComparison.Ordinal));

    private static Variant ParseVariant(string? text) => text?.ToLowerInvariant() switch
    {
        null or "fp32" or "float32" => Variant.Fp32,
        "fp16" or "float16" => Variant.Fp16,
        "int8" or "quantized" => Variant.Int8,
        _ => throw new UsageException($"--variant must be fp32, fp16 or int8, got '{text}'"),
    };

    private static string[] SplitTowers(Variant variant)
    {
        var suffix = SplitModelVariant(variant) is { } name ? "_" + name : "";
        return [$"onnx/vision_model{suffix}.onnx", $"onnx/text_model{suffix}.onnx"];
    }

    private static string? SplitModelVariant(Variant variant) => variant switch
    {
        Variant.Fp16 => "fp16",
        Variant.Int8 => "quantized",
        _ => null,
    };

    private static UsageException ImmichVariantError(string repoId, Variant variant) =>
        new($"{repoId} has fp32 ONNX models only; --variant {variant.ToString().ToLowerInvariant()} is not available there (drop --variant)");

    private static (IReadOnlyList<HubFile>, string?) PlanPreset(
        HubRepository repository, Variant variant, string[] required, string[] optional, string? modelVariant)
    {
        var files = new List<HubFile>();
        foreach (var path in required)
        {
            var file = repository.Find(path);
            if (file is null)
            {
                var where = $"{repository.RepoId}@{repository.Revision}";
                if (variant != Variant.Fp32)
                {
                    throw new UsageException($"{where} has no {path}: variant {variant.ToString().ToLowerInvariant()} is not available there");
                }

                throw new HubException(HubErrorKind.NotFound, $"{where} has no {path}; is it the right revision?");
            }

            files.Add(file);
        }

        foreach (var path in optional)
        {
            if (repository.Find(path) is { } file)
            {
                files.Add(file);
            }
        }

        return (files, modelVariant);
    }

    private static (IReadOnlyList<HubFile>, string?) PlanGeneric(HubRepository repository, Variant variant)
    {
        // Only one int8 family is fetched: transformers.js's "_quantized" when present, else "_int8".
        var suffix = variant switch
        {
            Variant.Fp16 => "_fp16",
            Variant.Int8 => repository.Select(new HubFileFilter(["onnx/*_quantized.onnx", "model_quantized.onnx"])).Count > 0 ? "_quantized" : "_int8",
            _ => "",
        };

        var models = repository.Select(ModelFilter(suffix));
        var towers = new List<HubFile>();
        foreach (var file in models)
        {
            if (file.Path == $"onnx/vision_model{suffix}.onnx" || file.Path == $"onnx/text_model{suffix}.onnx")
            {
                towers.Add(file);
            }
        }

        // With both towers present, the combined model (onnx/model.onnx) is a duplicate the engine never prefers.
        IReadOnlyList<HubFile> onnx = towers.Count == 2 ? towers : models;
        if (onnx.Count == 0)
        {
            var label = variant.ToString().ToLowerInvariant();
            var message = variant != Variant.Fp32 && repository.Select(ModelFilter("")).Count > 0
                ? $"{repository.RepoId}@{repository.Revision} has no {label} ONNX files (no onnx/*{suffix}.onnx); variant {label} is not available there"
                : $"{repository.RepoId}@{repository.Revision} has no {label} CLIP ONNX export (looked for onnx/*{suffix}.onnx, visual/model.onnx and textual/model.onnx, model{suffix}.onnx)";
            throw new UsageException(message);
        }

        var files = new List<HubFile>(onnx);
        foreach (var file in repository.Select(new HubFileFilter(GenericSidecars)))
        {
            files.Add(file);
        }

        return (files, suffix.Length == 0 ? null : suffix[1..]);
    }

    private static HubFileFilter ModelFilter(string suffix)
    {
        if (suffix.Length > 0)
        {
            return new HubFileFilter([$"onnx/*{suffix}.onnx", $"onnx/*{suffix}.onnx_data", $"model{suffix}.onnx", $"model{suffix}.onnx_data"]);
        }

        var ignore = new List<string>();
        foreach (var other in VariantSuffixes)
        {
            ignore.Add($"onnx/*{other}.onnx");
            ignore.Add($"onnx/*{other}.onnx_data");
        }

        return new HubFileFilter(
            ["onnx/*.onnx", "onnx/*.onnx_data", "visual/model.onnx", "textual/model.onnx", "model.onnx", "model.onnx_data"], ignore);
    }

    private static string DescribePresets()
    {
        var names = new List<string>();
        foreach (var preset in Presets)
        {
            names.Add(preset.Aliases[0]);
        }

        return string.Join(", ", names);
    }

    /// <summary>A progress bar only when stderr is the console and a terminal; plain lines otherwise (logs, pipes, tests).</summary>
    private static bool IsTerminal(TextWriter error) => ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;

    internal static string FormatBytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        < 1024L * 1024 * 1024 => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        _ => (bytes / (1024.0 * 1024 * 1024)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
    };

    /// <summary>A mistake in the command's arguments (exit code 2).</summary>
    public sealed class UsageException(string message) : Exception(message);

    /// <summary>
    /// Renders download progress on stderr: a redrawn bar on a terminal (at most 10 redraws a second), else a line per
    /// file and one every 5 s during long transfers. Reports arrive synchronously from the one download loop.
    /// </summary>
    internal sealed class ProgressRenderer(TextWriter error, bool terminal) : IProgress<DownloadProgress>
    {
        private const int BarWidth = 28;
        private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
        private readonly Stopwatch _fileClock = new();
        private long _fileStartBytes;

        public void Report(DownloadProgress value)
        {
            var prefix = $"[{value.FileNumber}/{value.FileCount}] {value.Path}";
            switch (value.Stage)
            {
                case DownloadStage.Skipped:
                    error.WriteLine($"{prefix}: already present");
                    break;
                case DownloadStage.Verifying when !terminal:
                    error.WriteLine($"{prefix}: checking {FormatBytes(value.BytesDone)} on disk");
                    break;
                case DownloadStage.Starting:
                    _fileClock.Restart();
                    _fileStartBytes = value.BytesDone;
                    _sinceDraw.Restart();
                    if (terminal)
                    {
                        Draw(prefix, value);
                    }
                    else
                    {
                        var resume = value.BytesDone > 0 ? $", resuming at {FormatBytes(value.BytesDone)}" : "";
                        error.WriteLine($"{prefix}: downloading {Size(value.TotalBytes)}{resume}");
                    }

                    break;
                case DownloadStage.Transferring when terminal && _sinceDraw.ElapsedMilliseconds >= 100:
                    _sinceDraw.Restart();
                    Draw(prefix, value);
                    break;
                case DownloadStage.Transferring when !terminal && _sinceDraw.Elapsed >= TimeSpan.FromSeconds(5):
                    _sinceDraw.Restart();
                    error.WriteLine($"{prefix}: {Percent(value)}{FormatBytes(value.BytesDone)} of {Size(value.TotalBytes)}, {Rate(value)}");
                    break;
                case DownloadStage.Completed when terminal:
                    Draw(prefix, value);
                    error.WriteLine();
                    break;
            }
        }

        private void Draw(string prefix, DownloadProgress value)
        {
            var fraction = value.TotalBytes is > 0 and var total ? Math.Clamp((double)value.BytesDone / total, 0, 1) : 0;
            var filled = (int)(fraction * BarWidth);
            error.Write($"\r{prefix} [{new string('#', filled)}{new string('.', BarWidth - filled)}] {Percent(value)}" +
                        $"{FormatBytes(value.BytesDone)}/{Size(value.TotalBytes)} {Rate(value)}\u001b[K");
            error.Flush();
        }

        private string Rate(DownloadProgress value)
        {
            var seconds = _fileClock.Elapsed.TotalSeconds;
            return seconds <= 0 ? "" : FormatBytes((long)((value.BytesDone - _fileStartBytes) / seconds)) + "/s";
        }

        private static string Percent(DownloadProgress value) =>
            value.TotalBytes is > 0 and var total
                ? ((int)(100.0 * value.BytesDone / total)).ToString(CultureInfo.InvariantCulture) + "% "
                : "";

        private static string Size(long? bytes) => bytes is { } known ? FormatBytes(known) : "unknown size";
    }
}
