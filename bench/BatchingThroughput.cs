using System.Diagnostics;
using Clip.Batching;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The batcher against a stub tower whose cost is a fixed launch cost plus a per-image cost (as a GPU or a
/// well-threaded CPU run behaves), driven by 32 concurrent callers of one image each. Ideal throughput is what a
/// tower running full batches back to back would give; the ratio says how much of it the batcher delivers.
/// </summary>
internal static class BatchingThroughput
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
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
}
