using System.Collections.Concurrent;

namespace Clip.Embeddings;

/// <summary>
/// A bounded, thread-safe cache of L2-normalized text embeddings keyed by (model, prompt text after templating), so
/// that repeated label sets never run the text encoder again. Zero-shot traffic repeats the same few label sets,
/// which makes this the single biggest saving for a CLIP server; none of the peers we studied caches label text.
/// </summary>
/// <remarks>
/// Concurrent misses of the same prompt compute once: the first caller owns the computation and the others wait
/// for its result. When the cache reaches its capacity it is cleared rather than evicted entry by entry, as
/// Serilog's MessageTemplateCache does: label sets are small and hot, so a rare full refill is cheaper than
/// bookkeeping on every hit. Cached arrays are shared; callers must not modify them.
/// </remarks>
public sealed class LabelEmbeddingCache
{
    private readonly ConcurrentDictionary<Key, Task<float[]>> _entries = new();
    private readonly int _capacity;
    private long _hits;
    private long _misses;

    /// <summary>Creates a cache holding at most <paramref name="capacity"/> prompts (0 disables caching).</summary>
    public LabelEmbeddingCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _capacity = capacity;
    }

    /// <summary>Prompts served from the cache (or from a concurrent caller's computation).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Prompts this cache had to compute: each one is a text-encoder row.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Entries currently held.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// Returns the embedding of each prompt, computing the missing ones with ONE call of
    /// <paramref name="computeMisses"/> (which receives the missing prompts, in order, and returns one normalized
    /// vector per prompt). Exceptions from the computation reach every waiting caller and are not cached.
    /// </summary>
    public float[][] GetOrCompute(string modelId, IReadOnlyList<string> prompts, Func<IReadOnlyList<string>, float[][]> computeMisses)
    {
        var results = new float[]?[prompts.Count];
        var waits = new List<(int Index, Task<float[]> Task)>();
        List<string>? missing = null;
        List<(int Index, Key Key, TaskCompletionSource<float[]> Source)>? owned = null;

        for (var i = 0; i < prompts.Count; i++)
        {
            var key = new Key(modelId, prompts[i]);
            if (_capacity > 0 && _entries.TryGetValue(key, out var existing))
            {
                Interlocked.Increment(ref _hits);
                if (existing.IsCompletedSuccessfully)
                {
                    results[i] = existing.Result;
                }
                else
                {
                    waits.Add((i, existing));
                }

                continue;
            }

            // A prompt repeated within one call is computed once too.
            var repeated = owned?.FindIndex(o => o.Key == key) ?? -1;
            if (repeated >= 0)
            {
                Interlocked.Increment(ref _hits);
                waits.Add((i, owned![repeated].Source.Task));
                continue;
            }

            var source = new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_capacity > 0)
            {
                if (_entries.Count >= _capacity)
                {
                    _entries.Clear();
                }

                var winner = _entries.GetOrAdd(key, source.Task);
                if (winner != source.Task)
                {
                    Interlocked.Increment(ref _hits);
                    waits.Add((i, winner));
                    continue;
                }
            }

            Interlocked.Increment(ref _misses);
            (missing ??= []).Add(prompts[i]);
            (owned ??= []).Add((i, key, source));
        }

        if (owned is not null)
        {
            Complete(owned, missing!, computeMisses, results);
        }

        foreach (var (index, task) in waits)
        {
            results[index] = task.GetAwaiter().GetResult();
        }

        return results!;
    }

    private void Complete(
        List<(int Index, Key Key, TaskCompletionSource<float[]> Source)> owned,
        List<string> missing,
        Func<IReadOnlyList<string>, float[][]> computeMisses,
        float[]?[] results)
    {
        float[][] computed;
        try
        {
            computed = computeMisses(missing);
            if (computed.Length != missing.Count)
            {
                throw new InvalidOperationException(
                    $"The text encoder returned {computed.Length} embeddings for {missing.Count} prompts; this is a bug.");
            }
        }
        catch (Exception e)
        {
            foreach (var (_, key, source) in owned)
            {
                _entries.TryRemove(new KeyValuePair<Key, Task<float[]>>(key, source.Task));
                source.TrySetException(e);
            }

            throw;
        }

        for (var j = 0; j < owned.Count; j++)
        {
            var (index, _, source) = owned[j];
            results[index] = computed[j];
            source.TrySetResult(computed[j]);
        }
    }

    private readonly record struct Key(string ModelId, string Prompt);
}
