using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Clip.Tokenization;

/// <summary>
/// A bounded, thread-safe map from pre-token text to its BPE ids. Lookups take a span, so a hit allocates nothing.
/// </summary>
/// <remarks>
/// When full it is cleared rather than evicting entries one by one, as Serilog's MessageTemplateCache does: tracking
/// recency would cost on every hit, while the working set (the words of the configured labels) is far below the
/// capacity; only a stream of distinct words fills it, and then a periodic reset just costs a few recomputations.
/// The openai/CLIP cache it replaces is unbounded and unsynchronised. Reads are lock-free; writes take a lock so the
/// count stays exact.
/// </remarks>
internal sealed class PieceCache
{
    private readonly ConcurrentDictionary<string, int[]> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Lock _writeLock = new();
    private readonly int _capacity;
    private int _count;

    /// <param name="capacity">Maximum number of entries; 0 disables caching.</param>
    public PieceCache(int capacity)
    {
        _capacity = capacity;
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The number of cached pre-tokens (for tests and diagnostics).</summary>
    public int Count => _entries.Count;

    /// <summary>Looks up a pre-token. The returned array is shared: never modify it.</summary>
    public bool TryGet(ReadOnlySpan<char> piece, [MaybeNullWhen(false)] out int[] ids) => _lookup.TryGetValue(piece, out ids);

    /// <summary>Caches <paramref name="ids"/>, which must not be modified afterwards.</summary>
    public void Add(ReadOnlySpan<char> piece, int[] ids)
    {
        if (_capacity == 0)
        {
            return;
        }

        lock (_writeLock)
        {
            if (_count >= _capacity)
            {
                _entries.Clear();
                _count = 0;
            }

            if (_lookup.TryAdd(piece, ids))
            {
                _count++;
            }
        }
    }
}
