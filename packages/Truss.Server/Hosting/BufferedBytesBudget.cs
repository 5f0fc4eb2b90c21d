namespace Truss.Server.Hosting;

/// <summary>
/// Caps the request bytes held in memory across all predict requests at once (bodies being read, parsed, queued for
/// a predict slot or predicted). Without it, a burst of large bodies that each pass <c>max_request_body_bytes</c>
/// could still exhaust memory together, because bodies are read and parsed before they queue. A request that does not
/// fit is answered 503 at once. Parsed trees cost more than their bytes (a pixel list is several times its JSON), so
/// the budget is a bound on inputs, not on the process. Thread-safe.
/// </summary>
/// <remarks>
/// The model reuses it for other bytes it holds on a request's behalf (downloaded images), with its own
/// <c>what</c> and <c>setting</c> for the message.
/// </remarks>
public sealed class BufferedBytesBudget
{
    private readonly long _capacity;
    private readonly string _what;
    private readonly string _setting;
    private long _reserved;

    /// <summary>Creates a budget of <paramref name="capacityBytes"/>.</summary>
    /// <param name="capacityBytes">The most bytes reserved at once.</param>
    /// <param name="what">What the bytes are, for the 503 message ("requests": "N bytes of requests are in memory").</param>
    /// <param name="setting">The config key that sets the capacity, named in the 503 message.</param>
    public BufferedBytesBudget(long capacityBytes, string what = "requests", string setting = "model_metadata.server.max_buffered_body_bytes")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        _capacity = capacityBytes;
        _what = what;
        _setting = setting;
    }

    /// <summary>The most bytes reserved at once.</summary>
    public long Capacity => _capacity;

    /// <summary>Bytes currently reserved.</summary>
    public long Reserved => Interlocked.Read(ref _reserved);

    /// <summary>Reserves <paramref name="bytes"/>; dispose the result to give them back.</summary>
    /// <exception cref="ServerOverloadedException">The budget cannot take them now.</exception>
    public Reservation Reserve(long bytes)
    {
        Take(bytes, held: 0);
        return new Reservation(this, bytes);
    }

    /// <summary>Adds <paramref name="bytes"/> to the reserved total, refusing when that passes the capacity (unless nothing else is held).</summary>
    private void Take(long bytes, long held)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        while (true)
        {
            var current = Interlocked.Read(ref _reserved);
            if (current + bytes > _capacity && current > held)
            {
                throw new ServerOverloadedException(
                    $"Server is at capacity: {current} bytes of {_what} are in memory and this one needs {bytes} more " +
                    $"({_setting}). Retry later.");
            }

            if (Interlocked.CompareExchange(ref _reserved, current + bytes, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>A held part of the budget. Not thread-safe: one owner extends it, and disposes it once or more.</summary>
    public sealed class Reservation : IDisposable
    {
        private readonly BufferedBytesBudget _budget;
        private long _bytes;
        private int _released;

        internal Reservation(BufferedBytesBudget budget, long bytes)
        {
            _budget = budget;
            _bytes = bytes;
        }

        /// <summary>Bytes held by this reservation.</summary>
        public long Bytes => _bytes;

        /// <summary>
        /// Holds <paramref name="bytes"/> more (a body that turns out longer than announced), on the same terms as
        /// <see cref="Reserve"/>: refused when the total would pass the capacity while others hold part of it.
        /// </summary>
        /// <exception cref="ServerOverloadedException">The budget cannot take them now; what was held stays held.</exception>
        public void Extend(long bytes)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _released) != 0, this);
            _budget.Take(bytes, held: _bytes);
            _bytes += bytes;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Add(ref _budget._reserved, -_bytes);
            }
        }
    }
}
