using System.Buffers;
using System.Collections.Frozen;

namespace Clip.Tokenization;

/// <summary>
/// A CLIP byte-level BPE vocabulary: the ids of the 512 base symbols, the ranked merges and the two special ids.
/// Immutable, so safe to share between threads.
/// </summary>
internal sealed class BpeVocabulary
{
    public const string EndOfWordSuffix = "</w>";
    public const string StartOfTextToken = "<|startoftext|>";
    public const string EndOfTextToken = "<|endoftext|>";

    private const int DeadSymbol = -1;

    // Both indexed by byte value. A word's last symbol carries "</w>", so its first-pass id differs.
    private readonly int[] _byteIds;
    private readonly int[] _finalByteIds;

    // Key: (left id << 32) | right id. Rank decides merge order; MergedId is the id of left + right.
    private readonly FrozenDictionary<long, Merge> _merges;

    private BpeVocabulary(int[] byteIds, int[] finalByteIds, FrozenDictionary<long, Merge> merges, int startOfTextId,
        int endOfTextId, int size)
    {
        _byteIds = byteIds;
        _finalByteIds = finalByteIds;
        _merges = merges;
        StartOfTextId = startOfTextId;
        EndOfTextId = endOfTextId;
        Size = size;
    }

    public int StartOfTextId { get; }

    public int EndOfTextId { get; }

    /// <summary>One more than the highest id: the row count an embedding table for this vocabulary needs.</summary>
    public int Size { get; }

    /// <summary>Builds the vocabulary from token strings, their ids and the merges in rank order.</summary>
    /// <param name="source">Names the file(s) in error messages.</param>
    /// <param name="tokenIds">Token string → id. Must hold the 256 byte symbols, with and without <c>&lt;/w&gt;</c>.</param>
    /// <param name="merges">Merge pairs; the index is the rank (lower merges first).</param>
    /// <param name="startOfTextId">Id of <c>&lt;|startoftext|&gt;</c>.</param>
    /// <param name="endOfTextId">Id of <c>&lt;|endoftext|&gt;</c>.</param>
    /// <param name="size">One more than the highest id.</param>
    /// <param name="mergesMustBeInVocabulary">
    /// True for files that list ids (vocab.json, tokenizer.json): a merge whose parts or result have no id is an error.
    /// False for the original merges file, where such a merge simply can never apply, as in openai/CLIP.
    /// </param>
    /// <exception cref="InvalidDataException">A required symbol or merge part has no id.</exception>
    public static BpeVocabulary Create(string source, IReadOnlyDictionary<string, int> tokenIds,
        IReadOnlyList<(string Left, string Right)> merges, int startOfTextId, int endOfTextId, int size,
        bool mergesMustBeInVocabulary)
    {
        var byteIds = new int[256];
        var finalByteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteLevelAlphabet.CharForByte[b].ToString();
            byteIds[b] = RequireId(source, tokenIds, symbol);
            finalByteIds[b] = RequireId(source, tokenIds, symbol + EndOfWordSuffix);
        }

        var table = new Dictionary<long, Merge>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            (string left, string right) = merges[rank];
            if (!tokenIds.TryGetValue(left, out int leftId) || !tokenIds.TryGetValue(right, out int rightId)
                || !tokenIds.TryGetValue(left + right, out int mergedId))
            {
                if (mergesMustBeInVocabulary)
                {
                    throw new InvalidDataException(
                        $"{source}: merge #{rank + 1} \"{left} {right}\" uses or produces a symbol " +
                        "that is not in the vocabulary.");
                }

                continue;
            }

            // A repeated pair keeps its last rank, as dict(zip(merges, range(len(merges)))) does in the original.
            table[PairKey(leftId, rightId)] = new Merge(rank, mergedId);
        }

        return new BpeVocabulary(byteIds, finalByteIds, table.ToFrozenDictionary(), startOfTextId, endOfTextId, size);
    }

    /// <summary>
    /// Runs BPE over one pre-token and returns its ids. Same result as openai/CLIP <c>SimpleTokenizer.bpe()</c>
    /// followed by the vocabulary lookup.
    /// </summary>
    /// <param name="utf8">The pre-token's UTF-8 bytes; at least one.</param>
    public int[] EncodeWord(ReadOnlySpan<byte> utf8)
    {
        int length = utf8.Length;
        if (length == 1)
        {
            return [_finalByteIds[utf8[0]]];
        }

        // The original rescans every pair after each merge, which is quadratic in the word length; label text is
        // untrusted, so this runs the same passes over a linked list with a heap of candidate pairs instead.
        int[]? rented = null;
        Span<int> storage = length <= 128 ? stackalloc int[3 * length] : rented = ArrayPool<int>.Shared.Rent(3 * length);
        try
        {
            Span<int> symbols = storage[..length];
            Span<int> next = storage.Slice(length, length);
            Span<int> previous = storage.Slice(2 * length, length);
            for (int i = 0; i < length; i++)
            {
                symbols[i] = i == length - 1 ? _finalByteIds[utf8[i]] : _byteIds[utf8[i]];
                next[i] = i + 1 < length ? i + 1 : -1;
                previous[i] = i - 1;
            }

            // Priority = (rank << 32) | position: all occurrences of the best pair come out together, left to right.
            var candidates = new PriorityQueue<int, long>(length);
            for (int i = 0; i + 1 < length; i++)
            {
                EnqueueIfRanked(candidates, symbols, next, i);
            }

            var formed = new List<int>();
            int remaining = length;
            while (remaining > 1 && candidates.TryPeek(out _, out long best))
            {
                // One pass of the original's while-loop: merge every occurrence of this pair, left to right. Pairs formed
                // by the pass wait until it ends, because the original only looks for the next pair after a full pass.
                int rank = (int)(best >> 32);
                while (candidates.TryPeek(out int position, out long priority) && (int)(priority >> 32) == rank)
                {
                    candidates.Dequeue();
                    int right = next[position];
                    if (symbols[position] == DeadSymbol || right < 0
                        || !_merges.TryGetValue(PairKey(symbols[position], symbols[right]), out Merge merge)
                        || merge.Rank != rank)
                    {
                        continue; // stale: a symbol of this pair was merged since it was queued
                    }

                    symbols[position] = merge.MergedId;
                    symbols[right] = DeadSymbol;
                    next[position] = next[right];
                    if (next[right] >= 0)
                    {
                        previous[next[right]] = position;
                    }

                    remaining--;

                    // Positions only grow within a pass, so checking the last entry is enough to skip duplicates.
                    if (previous[position] >= 0 && (formed.Count == 0 || formed[^1] != previous[position]))
                    {
                        formed.Add(previous[position]);
                    }

                    if (next[position] >= 0 && (formed.Count == 0 || formed[^1] != position))
                    {
                        formed.Add(position);
                    }
                }

                foreach (int position in formed)
                {
                    EnqueueIfRanked(candidates, symbols, next, position);
                }

                formed.Clear();
            }

            var ids = new int[remaining];
            for (int i = 0, node = 0; node >= 0; node = next[node])
            {
                ids[i++] = symbols[node];
            }

            return ids;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private void EnqueueIfRanked(PriorityQueue<int, long> candidates, Span<int> symbols, Span<int> next, int position)
    {
        if (_merges.TryGetValue(PairKey(symbols[position], symbols[next[position]]), out Merge merge))
        {
            candidates.Enqueue(position, ((long)merge.Rank << 32) | (uint)position);
        }
    }

    private static long PairKey(int leftId, int rightId) => ((long)leftId << 32) | (uint)rightId;

    private static int RequireId(string source, IReadOnlyDictionary<string, int> tokenIds, string symbol) =>
        tokenIds.TryGetValue(symbol, out int id)
            ? id
            : throw new InvalidDataException($"{source}: the vocabulary has no id for the byte-level symbol \"{symbol}\".");

    private readonly record struct Merge(int Rank, int MergedId);
}
