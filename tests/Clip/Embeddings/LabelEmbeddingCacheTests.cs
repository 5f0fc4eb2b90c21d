using Clip.Embeddings;

namespace Truss.Clip.Tests.Clip.Embeddings;

public class LabelEmbeddingCacheTests
{
    private static float[][] Encode(IReadOnlyList<string> prompts) => prompts.Select(p => new float[] { p.Length }).ToArray();

    [Test]
    public void GetOrCompute_RepeatedLabelSet_ComputesNothingTheSecondTime()
    {
        var cache = new LabelEmbeddingCache(100);
        var calls = new List<IReadOnlyList<string>>();

        cache.GetOrCompute("m", ["cat", "dog"], p => { calls.Add(p.ToArray()); return Encode(p); });
        var second = cache.GetOrCompute("m", ["dog", "cat"], p => { calls.Add(p.ToArray()); return Encode(p); });

        Assert.That(calls, Has.Count.EqualTo(1));
        Assert.That(second.Select(v => v[0]), Is.EqualTo(new[] { 3f, 3f }));
        Assert.That((cache.Hits, cache.Misses), Is.EqualTo((2L, 2L)));
    }

    [Test]
    public void GetOrCompute_OnlyMissesReachTheEncoderInOneBatch()
    {
        var cache = new LabelEmbeddingCache(100);
        cache.GetOrCompute("m", ["a"], Encode);
        IReadOnlyList<string>? batch = null;

        var result = cache.GetOrCompute("m", ["a", "bb", "ccc", "bb"], p => { batch = p.ToArray(); return Encode(p); });

        Assert.That(batch, Is.EqualTo(new[] { "bb", "ccc" }), "a duplicate within one call is computed once");
        Assert.That(result.Select(v => v[0]), Is.EqualTo(new[] { 1f, 2f, 3f, 2f }));
    }

    [Test]
    public void GetOrCompute_DifferentModels_DoNotShareEntries()
    {
        var cache = new LabelEmbeddingCache(100);
        cache.GetOrCompute("m1", ["cat"], Encode);
        var computed = 0;

        cache.GetOrCompute("m2", ["cat"], p => { computed += p.Count; return Encode(p); });

        Assert.That(computed, Is.EqualTo(1));
    }

    [Test]
    public void GetOrCompute_Full_ClearsAndStaysBounded()
    {
        var cache = new LabelEmbeddingCache(3);

        for (var i = 0; i < 50; i++)
        {
            cache.GetOrCompute("m", [$"label {i}"], Encode);
            Assert.That(cache.Count, Is.LessThanOrEqualTo(3));
        }
    }

    [Test]
    public void GetOrCompute_EncoderThrows_PropagatesAndCachesNothing()
    {
        var cache = new LabelEmbeddingCache(10);

        Assert.That(() => cache.GetOrCompute("m", ["x"], _ => throw new InvalidOperationException("boom")),
            Throws.InvalidOperationException.With.Message.EqualTo("boom"));
        Assert.That(cache.Count, Is.Zero);
        Assert.That(cache.GetOrCompute("m", ["x"], Encode)[0], Is.EqualTo(new[] { 1f }));
    }

    [Test]
    public async Task GetOrCompute_ConcurrentMissesOfTheSamePrompt_ComputeOnce()
    {
        var cache = new LabelEmbeddingCache(10);
        var computations = 0;
        using var start = new ManualResetEventSlim();
        float[][] Slow(IReadOnlyList<string> prompts)
        {
            Interlocked.Add(ref computations, prompts.Count);
            Thread.Sleep(100);
            return Encode(prompts);
        }

        var tasks = Enumerable.Range(0, 8).Select(_ => Task.Run(() => { start.Wait(); return cache.GetOrCompute("m", ["shared"], Slow); })).ToArray();
        start.Set();
        var results = await Task.WhenAll(tasks);

        Assert.That(computations, Is.EqualTo(1));
        Assert.That(results.Select(r => r[0][0]), Is.All.EqualTo(6f));
    }

    [Test]
    public void GetOrCompute_CapacityZero_AlwaysComputes()
    {
        var cache = new LabelEmbeddingCache(0);
        var computed = 0;

        cache.GetOrCompute("m", ["a"], p => { computed += p.Count; return Encode(p); });
        cache.GetOrCompute("m", ["a"], p => { computed += p.Count; return Encode(p); });

        Assert.That(computed, Is.EqualTo(2));
    }
}
