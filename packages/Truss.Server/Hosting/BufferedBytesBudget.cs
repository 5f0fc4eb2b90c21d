namespace Truss.Server.Hosting;

/// <summary>
/// Caps the request bytes held in memory across all predict requests at once (bodies being read, parsed, queued for
/// a predict slot or predicted). Without it, a burst of large bodies that each pass <c>max_request_body_bytes</c>
/// could still exhaust memory together, because bodies are read and parsed before they queue. A request that does not
/// fit is answered 503 at once. Parsed trees cost more than their bytes (a pixel list is several times its JSON), so
/// the budget is a bound on inputs, not on the process. Thread-safe.
/// </summary>
public sealed class BufferedBytesBudget
{
    private readonly long _capacity;
    private long _reserved;

    public BufferedBytesBudget(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 1);
        _capacity = capacityBytes;
    }

    /// <summary>Bytes currently reserved.</summary>
    public long Reserved => Interlocked.Read(ref _reserved);

    /// <summary>Reserves <paramref name="bytes"/>; dispose the result to give them back.</summary>
    /// <exception cref="ServerOverloadedException">The budget cannot take them now.</exception>
    public Reservation Reserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        while (true)
        {
            var current = Interlocked.Read(ref _reserved);
            if (current + bytes > _capacity && current > 0)
            {
                throw new ServerOverloadedException(
                    $"Server is at capacity: {current} bytes of requests are in memory and this one needs {bytes} more " +
                    "(model_metadata.server.max_buffered_body_bytes). Retry later.");
            }

            if (Interlocked.CompareExchange(ref _reserved, current + bytes, current) == current)
            {
                return new Reservation(this, bytes);
            }
        }
    }

    /// <summary>A held part of the budget.</summary>
    public sealed class Reservation(BufferedBytesBudget budget, long bytes) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Add(ref budget._reserved, -bytes);
            }
        }
    }
}
