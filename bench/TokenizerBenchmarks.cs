using BenchmarkDotNet.Attributes;
using Clip.Tokenization;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// CLIP BPE with OpenAI's real merges (49,408 ids), the engine's call <c>Encode(text, 77)</c>. The uncached tokenizer
/// (word cache off) is the baseline: it is what a never-seen label costs; the cached one what a repeated word costs.
/// </summary>
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private const string Prompt = "a photo of a cat";
    private ClipTokenizer _cached = null!;
    private ClipTokenizer _uncached = null!;

    [GlobalSetup]
    public void Setup()
    {
        var merges = BenchPaths.OpenAiMerges
            ?? throw new FileNotFoundException("OpenAI's merges were not found in ../shared/clip-vocab or the ViT-B/32 export folder.");
        _cached = ClipTokenizer.FromBpeMergesFile(merges);
        _uncached = ClipTokenizer.FromBpeMergesFile(merges, new ClipTokenizerOptions { CacheCapacity = 0 });
        foreach (var label in Workload.Labels)
        {
            _cached.Encode(label, 77);
        }
    }

    [Benchmark(Baseline = true)]
    public int PromptUncached() => _uncached.Encode(Prompt, 77).Length;

    [Benchmark]
    public int PromptCached() => _cached.Encode(Prompt, 77).Length;

    [Benchmark]
    public int FiveLabelsCached()
    {
        var total = 0;
        foreach (var label in Workload.Labels)
        {
            total += _cached.Encode(label, 77).Length;
        }

        return total;
    }
}
