using System.Threading.RateLimiting;

namespace Clip.Imaging;

/// <summary>
/// Bounds the pixels decoded and held at the same time across all requests, whatever their number: a request
/// reserves an image's pixel count (read from its header) before decoding it and gives it back once the image is
/// preprocessed and disposed. Concurrency alone cannot bound decode memory: an admitted request may send a 50 MP
/// image (about 350 MB while it decodes), so four at once already need 1.4 GB, while a photo of 2 MP needs 14 MB and
/// hundreds fit. The budget lets many small images through at once and only queues the large ones.
/// </summary>
/// <remarks>
/// <para>
/// Built on <see cref="ConcurrencyLimiter"/> (System.Threading.RateLimiting), a weighted asynchronous semaphore with a
/// FIFO queue: waiters are served oldest first, and a new reservation cannot overtake one that waits, so a large
/// image is not starved by a stream of small ones. Permits are kilopixels (rounded up), so a budget of any practical
/// size fits the limiter's 32-bit counts.
/// </para>
/// <para>
/// A reservation larger than the whole budget is cut to the budget: that image decodes alone. Each request holds at
/// most one reservation at a time (its images decode one after another), so reservations cannot deadlock.
/// </para>
/// <para>Thread-safe. Not disposed: the limiter holds nothing native, and a late release must not throw.</para>
/// </remarks>
public sealed class DecodeBudget
{
    private const int PixelsPerPermit = 1024;

    private readonly ConcurrencyLimiter _limiter;
    private readonly int _permits;
    private int _waiting;

    /// <summary>Creates a budget of <paramref name="pixels"/> decoded pixels.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pixels"/> is below 1.</exception>
    public DecodeBudget(long pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixels, 1);
        _permits = ToPermits(pixels);
        Pixels = (long)_permits * PixelsPerPermit;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = _permits,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            QueueLimit = int.MaxValue,
        });
    }

    /// <summary>The budget in pixels (the configured value rounded up to whole kilopixels).</summary>
    public long Pixels { get; }

    /// <summary>Pixels reserved right now.</summary>
    public long PixelsInUse => (long)(_permits - (_limiter.GetStatistics()?.CurrentAvailablePermits ?? _permits)) * PixelsPerPermit;

    /// <summary>Images waiting for their reservation right now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>
    /// Reserves room for an image of <paramref name="pixels"/> pixels (cut to <see cref="Pixels"/>), waiting until
    /// enough is free and every earlier waiter has been served. Dispose the returned reservation to give the room back
    /// (once; later disposals do nothing). Completes synchronously when the room is free and nobody waits.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pixels"/> is below 1.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public ValueTask<IDisposable> ReserveAsync(long pixels, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixels, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var permits = Math.Min(ToPermits(pixels), _permits);
        var lease = _limiter.AttemptAcquire(permits);
        if (lease.IsAcquired)
        {
            return new ValueTask<IDisposable>(lease);
        }

        lease.Dispose();
        return new ValueTask<IDisposable>(WaitAsync(permits, cancellationToken));
    }

    private async Task<IDisposable> WaitAsync(int permits, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            var lease = await _limiter.AcquireAsync(permits, cancellationToken).ConfigureAwait(false);
            if (!lease.IsAcquired)
            {
                // Only a full queue (int.MaxValue kilopixels waiting) or a disposed limiter refuse; neither happens here.
                lease.Dispose();
                throw new InvalidOperationException("The decode budget refused a reservation; this is a bug.");
            }

            return lease;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private static int ToPermits(long pixels) => (int)Math.Min(int.MaxValue, (pixels + PixelsPerPermit - 1) / PixelsPerPermit);
}
