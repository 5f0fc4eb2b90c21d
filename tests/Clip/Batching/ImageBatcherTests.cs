using System.Collections.Concurrent;
using Clip;
using Clip.Batching;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Clip.Tests.Clip.Inference;

namespace Truss.Clip.Tests.Clip.Batching;

/// <summary>
/// The dynamic batcher with a stub tower (embedding row = [sum of the image's pixels, image count of its batch]),
/// so each request can check it got its own rows, and with the real fixture tower.
/// </summary>
public class ImageBatcherTests
{
    private const int TensorLength = 4;

    private sealed class StubTower
    {
        public ConcurrentQueue<int> BatchSizes { get; } = new();

        public ManualResetEventSlim Gate { get; } = new(initialState: true);

        public bool Fail { get; set; }

        public void Encode(ReadOnlySpan<float> pixels, int batch, Span<float> embeddings)
        {
            Gate.Wait(TimeSpan.FromSeconds(10));
            if (Fail)
            {
                throw new InvalidOperationException("tower failed");
            }

            BatchSizes.Enqueue(batch);
            for (var i = 0; i < batch; i++)
            {
                var sum = 0f;
                foreach (var value in pixels.Slice(i * TensorLength, TensorLength))
                {
                    sum += value;
                }

                embeddings[i * 2] = sum;
                embeddings[(i * 2) + 1] = batch;
            }
        }
    }

    private static float[] Pixels(int images, float value) => Enumerable.Repeat(value, images * TensorLength).ToArray();

    [Test]
    public async Task EncodeAsync_Concurrency32_FormsBatchesAndEveryCallerGetsItsOwnRows()
    {
        var tower = new StubTower();
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromMilliseconds(20) });

        // The tower is busy (blocked) while 32 callers arrive, as under load: they queue instead of each finding it idle.
        tower.Gate.Reset();
        var calls = Enumerable.Range(1, 32).Select(i => Task.Run(async () =>
        {
            using var announcement = batcher.Announce(); // as ZeroShotClassifier.ClassifyAsync does
            return (i, await batcher.EncodeAsync(Pixels(1, i), 1, CancellationToken.None, announcement));
        })).ToArray();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (batcher.QueuedRequests < 15 && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(5);
        }

        tower.Gate.Set();
        var results = await Task.WhenAll(calls);

        foreach (var (i, rows) in results)
        {
            Assert.That(rows[0], Is.EqualTo(i * TensorLength), $"caller {i} got another caller's row");
        }

        Assert.That(tower.BatchSizes.Sum(), Is.EqualTo(32));
        Assert.That(tower.BatchSizes, Has.All.LessThanOrEqualTo(8));
        Assert.That(tower.BatchSizes.Max(), Is.GreaterThan(1), "concurrent callers share tower runs");
        Assert.That(batcher.Batches, Is.LessThan(32));
    }

    [Test]
    public async Task EncodeAsync_LoneRequestWithNothingAnnounced_RunsWithoutWaitingMaxDelay()
    {
        var tower = new StubTower();
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromHours(1) });

        var rows = await batcher.EncodeAsync(Pixels(1, 1), 1, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(rows[0], Is.EqualTo(TensorLength));
    }

    [Test]
    public async Task EncodeAsync_IdleTowerAndNothingElsePending_RunsOnTheCallersThread()
    {
        var tower = new StubTower();
        var towerThread = 0;
        await using var batcher = new ImageBatcher(
            (pixels, batch, embeddings) =>
            {
                towerThread = Environment.CurrentManagedThreadId;
                tower.Encode(pixels, batch, embeddings);
            },
            TensorLength, 2, new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromHours(1) });
        var callerThread = Environment.CurrentManagedThreadId;
        var announcement = batcher.Announce(); // its own announcement does not count as someone else's

        var task = batcher.EncodeAsync(Pixels(1, 1), 1, CancellationToken.None, announcement);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(task.IsCompletedSuccessfully, Is.True, "completed before EncodeAsync returned");
            Assert.That(towerThread, Is.EqualTo(callerThread));
            Assert.That((await task)[0], Is.EqualTo(TensorLength));
            Assert.That(batcher.Announced, Is.Zero);
            Assert.That(batcher.Images, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task EncodeAsync_AnotherRequestAnnounced_WaitsForItAndRunsOneBatch()
    {
        var tower = new StubTower();
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromHours(1) });
        var late = batcher.Announce();

        var early = batcher.EncodeAsync(Pixels(1, 1), 1, CancellationToken.None);
        await Task.Delay(100);
        Assert.That(early.IsCompleted, Is.False, "the batch waits for the announced request");
        var second = batcher.EncodeAsync(Pixels(1, 2), 1, CancellationToken.None, late);
        await Task.WhenAll(early, second).WaitAsync(TimeSpan.FromSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(tower.BatchSizes, Is.EqualTo(new[] { 2 }));
            Assert.That(batcher.Announced, Is.Zero);
            Assert.That((await early)[0], Is.EqualTo(TensorLength));
            Assert.That((await second)[0], Is.EqualTo(2 * TensorLength));
        }
    }

    [Test]
    public async Task EncodeAsync_AnnouncedRequestGivesUp_WaitingBatchRunsAtOnce()
    {
        var tower = new StubTower();
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromHours(1) });
        var abandoned = batcher.Announce();

        var waiting = batcher.EncodeAsync(Pixels(1, 1), 1, CancellationToken.None);
        await Task.Delay(100);
        Assert.That(waiting.IsCompleted, Is.False);
        abandoned.Dispose();
        abandoned.Dispose(); // ending twice counts once

        var rows = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rows[0], Is.EqualTo(TensorLength));
            Assert.That(batcher.Announced, Is.Zero);
            Assert.That(tower.BatchSizes, Is.EqualTo(new[] { 1 }));
        }
    }

    [Test]
    public async Task EncodeAsync_MultiImageRequests_StayTogetherAndInOrder()
    {
        var tower = new StubTower();
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions { MaxBatchSize = 4 });
        var pixels = new float[3 * TensorLength];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = i / TensorLength;
        }

        var rows = await batcher.EncodeAsync(pixels, 3, CancellationToken.None);

        Assert.That(new[] { rows[0], rows[2], rows[4] }, Is.EqualTo(new[] { 0f, 4f, 8f }));
    }

    [Test]
    public async Task EncodeAsync_CancelledWhileQueued_IsSkipped()
    {
        var tower = new StubTower();
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions { MaxBatchSize = 1, MaxDelay = TimeSpan.Zero });
        tower.Gate.Reset();
        var first = Task.Run(() => batcher.EncodeAsync(Pixels(1, 1), 1, CancellationToken.None));
        await Task.Delay(50); // the first request is now inside the blocked tower (run alone, on its own thread)
        using var cancel = new CancellationTokenSource();
        var abandoned = batcher.EncodeAsync(Pixels(1, 2), 1, cancel.Token);

        await cancel.CancelAsync();
        tower.Gate.Set();

        Assert.That(async () => await abandoned, Throws.InstanceOf<OperationCanceledException>());
        await first;
        var after = await batcher.EncodeAsync(Pixels(1, 3), 1, CancellationToken.None);
        Assert.That(after[0], Is.EqualTo(3 * TensorLength));
        Assert.That(batcher.Images, Is.EqualTo(2), "the abandoned image never reached the tower");
    }

    [Test]
    public async Task EncodeAsync_TowerFails_FailsThatBatchOnlyAndKeepsServing()
    {
        var tower = new StubTower { Fail = true };
        await using var batcher = new ImageBatcher(tower.Encode, TensorLength, 2, new BatchingOptions());

        Assert.That(async () => await batcher.EncodeAsync(Pixels(1, 1), 1, CancellationToken.None),
            Throws.InvalidOperationException.With.Message.EqualTo("tower failed"));
        tower.Fail = false;
        Assert.That((await batcher.EncodeAsync(Pixels(1, 2), 1, CancellationToken.None))[0], Is.EqualTo(2 * TensorLength));
    }

    [Test]
    public async Task ClassifyAsync_WithBatching_EqualsUnbatchedClassify()
    {
        var options = new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split } };
        using var plain = ZeroShotClassifier.Load(options, NullLoggerFactory.Instance);
        using var batched = ZeroShotClassifier.Load(options with { Batching = new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromMilliseconds(10) } }, NullLoggerFactory.Instance);
        string[] labels = ["a red circle", "a photo of a cat"];
        var images = Enumerable.Range(0, 12).Select(i =>
        {
            var rgb = new byte[20 * 30 * 3];
            new Random(i).NextBytes(rgb);
            return RgbImage.FromRgb(rgb, 20, 30);
        }).ToArray();
        try
        {
            var concurrent = await Task.WhenAll(images.Select(image => Task.Run(() => batched.ClassifyAsync([image], labels, null, CancellationToken.None))));

            Assert.That(batched.Batcher, Is.Not.Null);
            for (var i = 0; i < images.Length; i++)
            {
                Assert.That(concurrent[i][0], Is.EqualTo(plain.Classify([images[i]], labels)[0]).Within(1e-5), $"image {i}");
            }
        }
        finally
        {
            foreach (var image in images)
            {
                image.Dispose();
            }
        }
    }

    [Test]
    public void Load_FixedBatchTower_DoesNotBatch()
    {
        var options = new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Immich }, Batching = new BatchingOptions() };

        using var classifier = ZeroShotClassifier.Load(options, NullLoggerFactory.Instance);

        Assert.That(classifier.Batcher, Is.Null, "Immich exports fix the batch at 1");
    }
}
