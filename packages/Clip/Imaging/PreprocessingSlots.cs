namespace Clip.Imaging;

/// <summary>
/// Bounds how many requests turn images into input tensors (decode, resize, normalize) at the same time. That work
/// runs on the requests' own threads. Unbounded, every concurrent request (<c>predict_concurrency</c> of them, or
/// more) would decode at once on as few cores, which only interleaves them: each request finishes later, their
/// decoders' working sets compete for the same caches, and the image tower's threads lose the cores for longer.
/// </summary>
/// <remarks>
/// A request waits asynchronously (cancellable) for a slot, holds it while it decodes and preprocesses all its images,
/// and gives it back before it waits for the image tower, so requests queued behind it go on preprocessing and
/// dynamic batches still form. The engine sets no bound unless configured (<see cref="ClipEngineOptions.PreprocessThreads"/>
/// says why). Waiters get slots in arrival order: <see cref="SemaphoreSlim"/> hands a released count
/// to its oldest asynchronous waiter, and a new caller cannot take a count while anyone waits. Thread-safe.
/// </remarks>
public sealed class PreprocessingSlots
{
    // Not disposed: a SemaphoreSlim holds nothing to free unless its AvailableWaitHandle is used, and a slot given
    // back after the engine is disposed (a request outliving shutdown) must not throw.
    private readonly SemaphoreSlim _free;
    private int _waiting;

    /// <summary>Creates <paramref name="count"/> slots.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    public PreprocessingSlots(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
        _free = new SemaphoreSlim(count, count);
    }

    /// <summary>How many requests may preprocess at the same time.</summary>
    public int Count { get; }

    /// <summary>Slots held right now.</summary>
    public int Busy => Count - _free.CurrentCount;

    /// <summary>Requests waiting for a slot right now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>A slot count that never makes anyone wait (no bound of its own).</summary>
    public const int Unbounded = int.MaxValue;

    /// <summary>
    /// Takes a slot, waiting for one when all are held. Dispose the returned slot to give it back (once; later
    /// disposals do nothing). Completes synchronously, without allocating a task, when a slot is free.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public ValueTask<PreprocessingSlot> EnterAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _free.Wait(0) ? new ValueTask<PreprocessingSlot>(new PreprocessingSlot(this)) : new ValueTask<PreprocessingSlot>(WaitAsync(cancellationToken));
    }

    internal void Release() => _free.Release();

    private async Task<PreprocessingSlot> WaitAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _free.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

        return new PreprocessingSlot(this);
    }
}

/// <summary>One held slot of <see cref="PreprocessingSlots"/>; disposing it gives the slot back, once.</summary>
public sealed class PreprocessingSlot : IDisposable
{
    private PreprocessingSlots? _owner;

    internal PreprocessingSlot(PreprocessingSlots owner) => _owner = owner;

    /// <summary>Whether this slot is still held (not yet given back).</summary>
    public bool IsHeld => Volatile.Read(ref _owner) is not null;

    /// <summary>Gives the slot back; does nothing when it was given back already.</summary>
    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
}
