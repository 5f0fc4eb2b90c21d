using System.Collections.Concurrent;
using System.Globalization;
using Clip;
using Clip.Inference;
using Microsoft.Extensions.Logging;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// Where and how the benchmarks and harness modes run the towers, read from the environment so that bench/gpu/run.sh
/// points the same classes at CUDA instead of forking them. Unset, everything is as bench/run-all.sh has always run it
/// (CPU, I/O binding as the engine decides, batches 1 and 8, both models).
/// <list type="bullet">
/// <item><c>TRUSS_CLIP_BENCH_DEVICE</c>: <c>cpu</c> (default) or <c>cuda</c>.</item>
/// <item><c>TRUSS_CLIP_BENCH_IO_BINDING</c>: <c>auto</c> (default, the engine's default: on with CUDA), <c>on</c> or <c>off</c>.</item>
/// <item><c>TRUSS_CLIP_BENCH_CUDA_OPTIONS</c>: ONNX Runtime CUDA provider options, <c>key=value,key=value</c>
/// (e.g. <c>use_tf32=0</c>).</item>
/// <item><c>TRUSS_CLIP_BENCH_VIT_VARIANT</c>: a file variant of the ViT-B/32 export appended to each benchmark's own
/// (<c>fp16</c>: the default files become <c>*_fp16.onnx</c>, <c>ctx77</c> becomes <c>ctx77_fp16</c>).</item>
/// <item><c>TRUSS_CLIP_BENCH_BATCHES</c> (e.g. <c>1,8,32</c>) and <c>TRUSS_CLIP_BENCH_MODELS</c> (e.g.
/// <c>vit-b-32-random</c>): the tower benchmarks' parameters.</item>
/// </list>
/// With <c>cuda</c>, every load checks the execution provider both towers actually got and throws when ONNX Runtime
/// fell back to CPU (OnnxSessionFactory does that silently, with one warning), so CPU numbers are never reported as
/// GPU numbers.
/// </summary>
public static class BenchDevice
{
    /// <summary>The requested device: <c>cpu</c> or <c>cuda</c>.</summary>
    public static string Name { get; } = Choice("TRUSS_CLIP_BENCH_DEVICE", "cpu", "cpu", "cuda");

    /// <summary>Whether CUDA was requested.</summary>
    public static bool UseCuda => Name == "cuda";

    /// <summary>Whether the image tower runs through ONNX Runtime's I/O binding.</summary>
    public static bool? UseIoBinding { get; } = Choice("TRUSS_CLIP_BENCH_IO_BINDING", "auto", "auto", "on", "off") switch
    {
        "on" => true,
        "off" => false,
        _ => null,
    };

    /// <summary>The CUDA provider options passed to ONNX Runtime (empty: its defaults).</summary>
    public static IReadOnlyDictionary<string, string> CudaOptions { get; } = ParseOptions(Environment.GetEnvironmentVariable("TRUSS_CLIP_BENCH_CUDA_OPTIONS"));

    /// <summary>The ViT-B/32 file variant appended to each benchmark's own, or null.</summary>
    public static string? VitVariant { get; } = Environment.GetEnvironmentVariable("TRUSS_CLIP_BENCH_VIT_VARIANT") is { Length: > 0 } v ? v : null;

    /// <summary>The tower benchmarks' batch sizes.</summary>
    public static int[] Batches { get; } = ParseInts(Environment.GetEnvironmentVariable("TRUSS_CLIP_BENCH_BATCHES")) ?? [1, 8];

    /// <summary>The tower benchmarks' models (null: all that are present).</summary>
    public static string[]? Models { get; } =
        Environment.GetEnvironmentVariable("TRUSS_CLIP_BENCH_MODELS") is { Length: > 0 } m ? m.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null;

    /// <summary>Logs warnings (the CUDA fallback's cause among them) so a refused load can say why.</summary>
    public static ILoggerFactory LoggerFactory { get; } = new WarningCollector();

    /// <summary>The variant to load for the ViT-B/32 export: the benchmark's own, with <see cref="VitVariant"/> appended.</summary>
    public static string? Variant(string? own) => (own, VitVariant) switch
    {
        (null, null) => null,
        (null, { } v) => v,
        ({ } o, null) => o,
        ({ } o, { } v) => o + "_" + v,
    };

    /// <summary>Model options for <paramref name="directory"/> on the requested device.</summary>
    public static ClipModelOptions ModelOptions(string directory, string? variant = null) => new()
    {
        ModelDirectory = directory,
        ModelFileVariant = variant,
        UseCuda = UseCuda,
        CudaProviderOptions = CudaOptions,
        UseIoBinding = UseIoBinding,
    };

    /// <summary>Loads a model on the requested device; throws when CUDA was requested and not used.</summary>
    public static ClipModel LoadModel(string directory, string? variant = null)
    {
        var model = ClipModel.Load(ModelOptions(directory, variant), LoggerFactory.CreateLogger("bench"));
        try
        {
            EnsureDevice(model.Descriptor);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads a classifier on the requested device; throws when CUDA was requested and not used.</summary>
    public static ZeroShotClassifier LoadClassifier(string directory, string? variant, int labelCacheCapacity)
    {
        var classifier = ZeroShotClassifier.Load(
            new ClipEngineOptions { Model = ModelOptions(directory, variant), LabelCacheCapacity = labelCacheCapacity },
            LoggerFactory);
        try
        {
            EnsureDevice(classifier.Descriptor);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>Throws when CUDA was requested but either tower runs on another provider.</summary>
    public static void EnsureDevice(ClipModelDescriptor descriptor)
    {
        if (!UseCuda || (descriptor.Image.ExecutionProvider == ExecutionProviderKind.Cuda && descriptor.Text.ExecutionProvider == ExecutionProviderKind.Cuda))
        {
            return;
        }

        var causes = ((WarningCollector)LoggerFactory).Warnings;
        throw new InvalidOperationException(
            $"TRUSS_CLIP_BENCH_DEVICE=cuda, but ONNX Runtime runs the image tower on {descriptor.Image.ExecutionProvider} and the " +
            $"text tower on {descriptor.Text.ExecutionProvider} ({descriptor.ModelDirectory}). Refusing to report CPU numbers " +
            "as GPU numbers. Cause: " + (causes.Count == 0 ? "none logged" : string.Join(" | ", causes)));
    }

    private static string Choice(string variable, string fallback, params string[] allowed)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(value))
        {
            return fallback;
        }

        value = value.Trim().ToLowerInvariant();
        return Array.IndexOf(allowed, value) >= 0
            ? value
            : throw new InvalidOperationException($"{variable}={value}: expected one of {string.Join(", ", allowed)}.");
    }

    private static Dictionary<string, string> ParseOptions(string? text)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                throw new InvalidOperationException($"TRUSS_CLIP_BENCH_CUDA_OPTIONS: '{pair}' is not key=value.");
            }

            options[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        return options;
    }

    private static int[]? ParseInts(string? text) =>
        string.IsNullOrWhiteSpace(text)
            ? null
            : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Keeps warning-level messages and their exceptions' messages; everything else is dropped.</summary>
    private sealed class WarningCollector : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<string> _warnings = new();

        public IReadOnlyCollection<string> Warnings => _warnings;

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                _warnings.Enqueue(formatter(state, exception) + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})"));
            }
        }
    }
}
