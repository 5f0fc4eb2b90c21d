namespace Truss.Server.Hosting;

/// <summary>
/// Bounds concurrent predict calls to <c>runtime.predict_concurrency</c>, like truss's predict semaphore, and
/// bounds how many callers may wait for a slot. Truss queues without limit; a production server should shed load
/// quickly instead, so one caller more than <c>max_queued_predictions</c> gets <see cref="ServerOverloadedException"/>.
/// Thread-safe.
/// </summary>
public sealed class PredictGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly int _maxQueued;
    private int _queued;

    public PredictGate(int concurrency, int maxQueued)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxQueued);
        _slots = new SemaphoreSlim(concurrency, concurrency);
        Concurrency = concurrency;
        _maxQueued = maxQueued;
    }

    /// <summary>How many predict calls may run at once.</summary>
    public int Concurrency { get; }

    /// <summary>Callers waiting for a slot right now.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Calls running right now.</summary>
    public int Running => Concurrency - _slots.CurrentCount;

    /// <summary>Waits for a slot; dispose the result to free it.</summary>
    public async ValueTask<Slot> EnterAsync(CancellationToken cancellationToken)
    {
        if (_slots.Wait(0, CancellationToken.None))
        {
            return new Slot(_slots);
        }

        if (Interlocked.Increment(ref _queued) > _maxQueued)
        {
            Interlocked.Decrement(ref _queued);
            throw new ServerOverloadedException(
                $"Server is at capacity: {Concurrency} predictions running and {_maxQueued} waiting " +
                "(runtime.predict_concurrency, model_metadata.server.max_queued_predictions). Retry later.");
        }

        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>A held predict slot; disposing it more than once releases it once.</summary>
    public sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
