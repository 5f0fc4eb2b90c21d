using Truss.Server;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// A test double for <see cref="ITrussModel"/>: load can be held open or made to fail, and predict runs a
/// supplied function while counting how many calls overlap.
/// </summary>
public sealed class FakeModel : ITrussModel, IHealthReportingModel
{
    private readonly Func<object?, CancellationToken, Task<object?>> _predict;
    private int _running;
    private int _maxRunning;
    private int _loadCalls;

    public FakeModel(Func<object?, CancellationToken, Task<object?>>? predict = null)
    {
        _predict = predict ?? ((input, _) => Task.FromResult(input));
    }

    /// <summary>Load blocks until this is set (set by default).</summary>
    public ManualResetEventSlim LoadGate { get; } = new(initialState: true);

    /// <summary>How many Load() calls throw before one succeeds (int.MaxValue: always throw).</summary>
    public int LoadFailures { get; init; }

    public bool Healthy { get; set; } = true;

    public int LoadCalls => Volatile.Read(ref _loadCalls);

    public int MaxConcurrentPredictions => Volatile.Read(ref _maxRunning);

    public void Load()
    {
        var call = Interlocked.Increment(ref _loadCalls);
        if (!LoadGate.Wait(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException("The test never released the load gate.");
        }

        if (call <= LoadFailures)
        {
            throw new InvalidOperationException($"weights are corrupt (attempt {call})");
        }
    }

    public async ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken)
    {
        var running = Interlocked.Increment(ref _running);
        int seen;
        while ((seen = Volatile.Read(ref _maxRunning)) < running && Interlocked.CompareExchange(ref _maxRunning, running, seen) != seen)
        {
        }

        try
        {
            return await _predict(input, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public bool IsHealthy() => Healthy;
}
