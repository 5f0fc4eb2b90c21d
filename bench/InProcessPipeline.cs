using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Clip.Imaging;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Server;
using Truss.Server.Configuration;
using Truss.Server.Serialization;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The denominator of "HTTP throughput as a fraction of in-process throughput": the same predict body as
/// tools/load/predict.lua, served in a loop on one thread with no socket in between (tools/load/run.sh pins this and
/// the server to the same core). Two levels:
/// <list type="bullet">
/// <item><c>inproc_engine</c>: decode the image + <c>ZeroShotClassifier.Classify</c> (the work itself).</item>
/// <item><c>inproc_model</c>: parse the JSON body + <c>Model.PredictAsync</c> (base64, validation, response shape) +
/// serialize the answer as the server does: everything but Kestrel.</item>
/// <item><c>inproc_model_concurrent</c>, only with <c>--concurrency N</c> (a diagnostic): N of those at once on the
/// thread pool, as the server runs <c>predict_concurrency</c> requests, to see what interleaving them on the cores
/// costs against one at a time. Its latencies are those of the N together.</item>
/// <item><c>inproc_model_rotated</c>, only with <c>--rotate-bodies N</c> (a diagnostic): the model level, but each
/// request first copies the body into the next of N buffers, as the server copies each body out of its socket, so
/// the input is not the same bytes still in the core's caches from the previous request.</item>
/// </list>
/// It also counts text-encoder rows (<c>ZeroShotClassifier.TextRowsEncoded</c>) over the repeated requests.
/// Output: one JSON line per measurement.
/// <para>
/// With <c>--slices</c> it warms up, prints <c>{"stage": "ready"}</c> and then measures on demand: each line
/// <c>SECONDS TAG</c> on standard input runs both levels for that long and prints their lines with <c>"round": TAG</c>;
/// end of input ends it. tools/load/run.sh uses this to alternate in-process and HTTP measurements in short rounds
/// while both processes stay up, so drift in a shared machine's speed hits both sides of each ratio alike.
/// </para>
/// </summary>
public static class InProcessPipeline
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Arg(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var configPath = Arg("--config", Path.Combine(BenchPaths.RepoRoot, "tools", "load", "config.yaml"));
        var modelDir = Arg("--model-dir", BenchPaths.TinyClipDir);
        var bodyPath = Arg("--body", "");
        var seconds = double.Parse(Arg("--seconds", "8"), CultureInfo.InvariantCulture);
        var warmup = double.Parse(Arg("--warmup-seconds", "5"), CultureInfo.InvariantCulture);
        var slices = args.Contains("--slices");
        var body = File.ReadAllBytes(bodyPath);

        var config = TrussConfig.Load(configPath);
        using var model = new Model(new ModelContext(config, new TrussSecrets(config.Secrets), NullLoggerFactory.Instance), modelDir);
        model.Load();
        var classifier = model.Classifier!;

        // What the engine level starts from: the body's image already out of JSON/base64, and the label list.
        using var doc = JsonDocument.Parse(body);
        var labels = doc.RootElement.GetProperty("labels").EnumerateArray().Select(e => e.GetString()!).ToArray();
        byte[]? encoded = doc.RootElement.TryGetProperty("image_base64", out var b64) ? Convert.FromBase64String(b64.GetString()!) : null;
        byte[]? rgb = null;
        int width = 0, height = 0;
        if (encoded is null)
        {
            var rows = doc.RootElement.GetProperty("image");
            height = rows.GetArrayLength();
            width = rows[0].GetArrayLength();
            rgb = rows.EnumerateArray().SelectMany(r => r.EnumerateArray().SelectMany(p => p.EnumerateArray().Select(v => (byte)v.GetInt32()))).ToArray();
        }

        RgbImage LoadImage() => encoded is not null ? classifier.Decoder.Decode(encoded) : RgbImage.FromRgb(rgb, width, height);

        Func<ValueTask> engine = () =>
        {
            using var image = LoadImage();
            classifier.Classify([image], labels);
            return ValueTask.CompletedTask;
        };

        var output = new ArrayBufferWriter<byte>(4096);
        Func<ValueTask> full = () => ServeAsync(model, body, output);

        await full();
        var rowsAfterFirst = classifier.TextRowsEncoded;
        var rowsFirst = rowsAfterFirst;
        var concurrency = int.Parse(Arg("--concurrency", "0"), CultureInfo.InvariantCulture);
        Level[] levels = [new("inproc_engine", engine), new("inproc_model", full)];
        if (concurrency > 0)
        {
            levels = [.. levels, new("inproc_model_concurrent", Concurrently(model, body, concurrency), concurrency)];
        }

        var rotate = int.Parse(Arg("--rotate-bodies", "0"), CultureInfo.InvariantCulture);
        if (rotate > 0)
        {
            var copies = Enumerable.Range(0, rotate).Select(_ => new byte[body.Length]).ToArray();
            var next = 0;
            levels = [.. levels, new("inproc_model_rotated", () =>
            {
                var copy = copies[next];
                next = (next + 1) % copies.Length;
                body.CopyTo(copy, 0);
                return ServeAsync(model, copy, output);
            })];
        }

        await WarmUp(levels, warmup);
        if (slices)
        {
            Console.WriteLine("""{"stage": "ready"}""");
            while (Console.ReadLine() is { } line)
            {
                var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 0)
                {
                    continue;
                }

                await Measure(levels, double.Parse(parts[0], CultureInfo.InvariantCulture), parts.Length > 1 ? parts[1] : null);
            }
        }
        else
        {
            await Measure(levels, seconds, round: null);
        }

        var repeated = classifier.TextRowsEncoded - rowsAfterFirst;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            stage = "label_cache",
            labels = labels.Length,
            text_rows_first_request = rowsFirst,
            text_rows_repeated_requests = repeated,
            cache_hits = classifier.LabelCache.Hits,
            cache_misses = classifier.LabelCache.Misses,
            response = System.Text.Encoding.UTF8.GetString(output.WrittenSpan),
        }));
        return 0;
    }

    /// <summary>Warm-up, as long as the server's (tools/load/run.sh): tiered JIT, pools and ORT arenas settle.</summary>
    private static async Task WarmUp(Level[] levels, double warmupSeconds)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < warmupSeconds)
        {
            foreach (var level in levels)
            {
                await level.Work();
            }
        }
    }

    /// <summary>
    /// Times the levels in alternating slices of a quarter second until each has run <paramref name="seconds"/>, so
    /// a change in the machine's background load (it is shared) hits every level alike instead of whichever ran last.
    /// </summary>
    private static async Task Measure(Level[] levels, double seconds, string? round)
    {
        var stats = levels.Select(_ => new LevelStats()).ToArray();
        var process = Process.GetCurrentProcess();
        while (stats.Any(s => s.Seconds < seconds))
        {
            for (var i = 0; i < levels.Length; i++)
            {
                var s = stats[i];
                var gen0 = GC.CollectionCount(0);
                var gen2 = GC.CollectionCount(2);
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                var slice = Stopwatch.StartNew();
                while (slice.Elapsed.TotalSeconds < 0.25)
                {
                    var t = Stopwatch.GetTimestamp();
                    await levels[i].Work();
                    s.Latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                }

                s.Seconds += slice.Elapsed.TotalSeconds;
                process.Refresh();
                s.CpuSeconds += (process.TotalProcessorTime - cpu).TotalSeconds;
                s.Allocated += GC.GetAllocatedBytesForCurrentThread() - allocated;
                s.Gen0 += GC.CollectionCount(0) - gen0;
                s.Gen2 += GC.CollectionCount(2) - gen2;
            }
        }

        for (var i = 0; i < levels.Length; i++)
        {
            var s = stats[i];
            var calls = s.Latencies.Count;
            var n = calls * levels[i].RequestsPerCall;
            s.Latencies.Sort();
            double Pct(double p) => s.Latencies[(int)Math.Min(calls - 1, Math.Round(p * (calls - 1)))];
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                stage = levels[i].Stage,
                round,
                requests = n,
                seconds = Math.Round(s.Seconds, 3),
                req_per_s = Math.Round(n / s.Seconds, 1),
                p50_ms = Math.Round(Pct(0.5), 4),
                p90_ms = Math.Round(Pct(0.9), 4),
                p99_ms = Math.Round(Pct(0.99), 4),
                cpu_ms_per_request = Math.Round(s.CpuSeconds * 1000 / n, 4),
                // Counted on the measuring thread, which runs all of a sequential level's work but not the
                // concurrent level's.
                allocated_bytes_per_request = levels[i].RequestsPerCall == 1 ? s.Allocated / n : (long?)null,
                gen0 = s.Gen0,
                gen2 = s.Gen2,
            }));
        }
    }

    /// <summary>One request at the model level: what the server does with a body, less Kestrel.</summary>
    private static async ValueTask ServeAsync(Model model, byte[] body, ArrayBufferWriter<byte> output)
    {
        var input = JsonPayloadReader.Read(body.AsMemory(), utf8TextMinBytes: model.Utf8TextMinBytes);
        var result = await model.PredictAsync(input, CancellationToken.None);
        output.ResetWrittenCount();
        PythonJsonWriter.Write(output, result);
    }

    /// <summary>One measured level: <paramref name="Work"/> serves <paramref name="RequestsPerCall"/> requests.</summary>
    private sealed record Level(string Stage, Func<ValueTask> Work, int RequestsPerCall = 1);

    /// <summary>Work that runs <paramref name="count"/> full requests at once on the thread pool and waits for all.</summary>
    private static Func<ValueTask> Concurrently(Model model, byte[] body, int count)
    {
        var outputs = new ArrayBufferWriter<byte>[count];
        var tasks = new Task[count];
        for (var i = 0; i < count; i++)
        {
            outputs[i] = new ArrayBufferWriter<byte>(4096);
        }

        async Task OneAsync(ArrayBufferWriter<byte> output)
        {
            await Task.Yield();
            await ServeAsync(model, body, output);
        }

        return async () =>
        {
            for (var i = 0; i < count; i++)
            {
                tasks[i] = OneAsync(outputs[i]);
            }

            await Task.WhenAll(tasks);
        };
    }

    private sealed class LevelStats
    {
        public List<double> Latencies { get; } = new(16_384);

        public double Seconds { get; set; }

        public double CpuSeconds { get; set; }

        public long Allocated { get; set; }

        public int Gen0 { get; set; }

        public int Gen2 { get; set; }
    }
}
