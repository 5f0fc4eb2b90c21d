using Truss.Server;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// A <see cref="FakeModel"/> that also has <c>embeddings</c> (<see cref="IEmbeddingsModel"/>): load and predict are
/// the inner fake's, embeddings runs a supplied function (by default it answers <c>{"embedded": input}</c>).
/// </summary>
public sealed class FakeEmbeddingsModel : ITrussModel, IEmbeddingsModel
{
    private readonly Func<object?, CancellationToken, Task<object?>> _embeddings;
    private int _embeddingsCalls;

    public FakeEmbeddingsModel(Func<object?, CancellationToken, Task<object?>>? embeddings = null, FakeModel? inner = null)
    {
        _embeddings = embeddings ?? ((input, _) => Task.FromResult<object?>(new OrderedDictionary<string, object?> { ["embedded"] = input }));
        Inner = inner ?? new FakeModel();
    }

    /// <summary>The fake that serves load and predict.</summary>
    public FakeModel Inner { get; }

    public int EmbeddingsCalls => Volatile.Read(ref _embeddingsCalls);

    public void Load() => Inner.Load();

    public ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken) => Inner.PredictAsync(input, cancellationToken);

    public async ValueTask<object?> EmbeddingsAsync(object? input, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _embeddingsCalls);
        return await _embeddings(input, cancellationToken);
    }
}
