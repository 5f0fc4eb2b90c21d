using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Clip.Batching;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The batcher against a stub tower whose cost is a fixed launch cost plus a per-image cost (as a GPU or a
/// well-threaded CPU run behaves), driven by 32 concurrent callers of one image each. Ideal throughput is what a
/// tower running full batches back to back would give; the ratio says how much of it the batcher delivers.
/// With <c>--model-dir DIR</c> the real image tower of that model runs instead, on the device <see cref="BenchDevice"/>
/// asks for (see <see cref="RunReal"/>).
/// </summary>
internal static class BatchingThroughput
{
    public static int Run(string[] args)
    {
        string? Arg(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }

        var seconds = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal)
            ? double.Parse(args[0], CultureInfo.InvariantCulture)
            : 5;
        if (Arg("--model-dir") is { } modelDir)
        {
            var defaults = new BatchingOptions();
            return RunReal(
                modelDir,
                seconds,
                int.Parse(Arg("--concurrency") ?? "32", CultureInfo.InvariantCulture),
                new BatchingOptions
                {
                    MaxBatchSize = int.Parse(Arg("--max-batch") ?? defaults.MaxBatchSize.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                    MaxDelay = Arg("--max-delay-ms") is { } ms ? TimeSpan.FromMilliseconds(double.Parse(ms, CultureInfo.InvariantCulture)) : defaults.MaxDelay,
                });
        }

        const int Concurrency = 32;
        const int MaxBatch = 16;
        var fixedCost = TimeSpan.FromMilliseconds(4);
        var perImage = TimeSpan.FromMilliseconds(0.25);
        var idealPerSecond = MaxBatch / (fixedCost + (perImage * MaxBatch)).TotalSeconds;

        var batcher = new ImageBatcher(
            (_, batch, _) => Thread.Sleep(fixedCost + (perImage * batch)),
            tensorLength: 1,
            embeddingDim: 1,
            new BatchingOptions { MaxBatchSize = MaxBatch, MaxDelay = TimeSpan.FromMilliseconds(2) });
        var completed = 0L;
        var stopwatch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var callers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            var pixels = new float[1];
            while (stopwatch.Elapsed < deadline)
            {
                // As ZeroShotClassifier.ClassifyAsync does: announce, prepare the image (nothing here), queue.
                using var announcement = batcher.Announce();
                await batcher.EncodeAsync(pixels, 1, CancellationToken.None, announcement);
                Interlocked.Increment(ref completed);
            }
        })).ToArray();
        Task.WaitAll(callers);
        var elapsed = stopwatch.Elapsed.TotalSeconds;
        batcher.DisposeAsync().AsTask().GetAwaiter().GetResult();

        var actual = completed / elapsed;
        var unbatched = 1 / (fixedCost + perImage).TotalSeconds;
        Console.WriteLine(
            $"batching: {actual:0} img/s at concurrency {Concurrency} (ideal {idealPerSecond:0} img/s at batch {MaxBatch}, " +
            $"unbatched {unbatched:0} img/s): {actual / idealPerSecond:P1} of ideal, mean batch {batcher.Images / (double)batcher.Batches:0.0}");
        return 0;
    }

    /// <summary>
    /// The real image tower (the server's batcher settings unless overridden) in three ways, each for
    /// <paramref name="seconds"/>, one JSON line each: <c>serial_b1</c>, one caller encoding one image at a time
    /// (what the replaced Python server does per request); <c>concurrent_unbatched</c>, <paramref name="concurrency"/>
    /// callers each running its own batch-1 tower call at the same time (the session is thread-safe); and
    /// <c>batched</c>, the same callers through <see cref="ImageBatcher"/>, as ZeroShotClassifier.ClassifyAsync runs
    /// them. Every batch size the batcher can form is run once first, so no measured call pays a first-shape cost
    /// (cuDNN's algorithm search on CUDA).
    /// </summary>
    private static int RunReal(string modelDir, double seconds, int concurrency, BatchingOptions options)
    {
        // The unbatched callers block inside the tower: give each its own pool thread from the start.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, concurrency + 4), io);
        using var model = BenchDevice.LoadModel(modelDir, BenchDevice.Variant(null));
        var encoder = model.ImageEncoder;
        var size = model.Descriptor.ImageSize;
        var dim = model.Descriptor.EmbeddingDim;
        for (var batch = 1; batch <= options.MaxBatchSize; batch++)
        {
            encoder.Encode(Workload.Pixels(batch, size), batch, new float[batch * dim]);
        }

        var common = new
        {
            device = BenchDevice.Name,
            provider = model.Descriptor.Image.ExecutionProvider.ToString(),
            io_binding = encoder.UsesIoBinding,
            model_dir = model.Descriptor.ModelDirectory,
        };

        // One caller, batch 1, back to back.
        var serial = Measure(1, seconds, (pixels, output) =>
        {
            encoder.Encode(pixels, 1, output);
            return Task.CompletedTask;
        }, size, dim);
        Emit("serial_b1", 1, serial, null, common);

        // Many callers, each its own batch-1 run: what concurrency alone gives without batching.
        var unbatched = Measure(concurrency, seconds, (pixels, output) =>
        {
            encoder.Encode(pixels, 1, output);
            return Task.CompletedTask;
        }, size, dim);
        Emit("concurrent_unbatched", concurrency, unbatched, null, common);

        // Many callers through the batcher.
        var batcher = new ImageBatcher((pixels, batch, embeddings) => encoder.Encode(pixels, batch, embeddings), 3 * size * size, dim, options);
        var batched = Measure(concurrency, seconds, async (pixels, _) =>
        {
            using var announcement = batcher.Announce();
            await batcher.EncodeAsync(pixels, 1, CancellationToken.None, announcement);
        }, size, dim);
        batcher.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Emit("batched", concurrency, batched, new { max_batch = options.MaxBatchSize, max_delay_ms = options.MaxDelay.TotalMilliseconds, mean_batch = Math.Round(batcher.Images / (double)batcher.Batches, 2) }, common);
        return 0;
    }

    private static (long Images, double Seconds, double[] LatenciesMs) Measure(int callers, double seconds, Func<float[], float[], Task> call, int size, int dim)
    {
        var latencies = new ConcurrentQueue<double>();
        var completed = 0L;
        var stopwatch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var tasks = Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            var pixels = Workload.Pixels(1, size);
            var output = new float[dim];
            while (stopwatch.Elapsed < deadline)
            {
                var t = Stopwatch.GetTimestamp();
                await call(pixels, output);
                latencies.Enqueue(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                Interlocked.Increment(ref completed);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        var sorted = latencies.ToArray();
        Array.Sort(sorted);
        return (completed, stopwatch.Elapsed.TotalSeconds, sorted);
    }

    private static void Emit(string stage, int concurrency, (long Images, double Seconds, double[] LatenciesMs) run, object? batching, object common)
    {
        var n = run.LatenciesMs.Length;
        double Pct(double p) => n == 0 ? double.NaN : run.LatenciesMs[(int)Math.Min(n - 1, Math.Round(p * (n - 1)))];
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            stage,
            concurrency,
            images = run.Images,
            seconds = Math.Round(run.Seconds, 3),
            img_per_s = Math.Round(run.Images / run.Seconds, 1),
            p50_ms = Math.Round(Pct(0.5), 3),
            p99_ms = Math.Round(Pct(0.99), 3),
            batching,
            common,
        }));
    }
}
