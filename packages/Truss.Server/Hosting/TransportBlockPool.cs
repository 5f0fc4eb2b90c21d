using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Truss.Server.Hosting;

/// <summary>
/// The memory Kestrel's socket transport reads requests into and writes responses from: 64 KiB blocks instead of
/// Kestrel's 4 KiB.
/// </summary>
/// <remarks>
/// <para>
/// The transport receives into whatever is left of the pipe's current block, and by default first waits for data
/// with a one-byte <c>MSG_PEEK</c> receive. With 4 KiB blocks a 211 KB predict body (a base64 photo, the load test's
/// request) took 108 <c>recvfrom</c> calls, each followed by a pipe flush that can wake the reader; with 64 KiB blocks
/// it takes 14 (7 peeks and 7 reads), because one call takes what the kernel holds.
/// In alternating A/B rounds under wrk at 8 connections this raised throughput with the embedded model by 11 %
/// (median of paired rounds; docs/benchmarks.md). Kestrel has no setting for its block size; .NET 10 builds its
/// transport pools through <see cref="IMemoryPoolFactory{T}"/> from the service provider, which is how this pool
/// replaces Kestrel's.
/// </para>
/// <para>
/// Kestrel's <c>WaitForDataBeforeAllocatingBuffer</c> stays on: turning it off saved a few more per cent in the same
/// A/B, but then every connection would hold a block from the moment it is accepted, also one that never sends a
/// byte (10,000 of those: 640 MB). With it on, a connection rents blocks only when bytes arrive; the one cost of the
/// larger size is that Kestrel's input pipe can keep the last block of a request on an idle connection (when the
/// request's end was consumed while the socket loop was still writing; 9 of 16 idle connections in a test with
/// 4 KiB blocks, up to 15 of 16 with 64 KiB ones), so an idle
/// keep-alive connection costs up to 64 KiB instead of 4 KiB until its next request or its close (Kestrel closes
/// idle connections after its keep-alive timeout, 130 s). Blocks are pinned (allocated on the pinned object heap, as
/// Kestrel's are, since sockets read into them) and kept for reuse up to <see cref="MaxRetainedBlocks"/> (16 MiB at
/// the defaults); blocks returned beyond that are left to the GC, so a burst does not keep its peak memory for the
/// life of the process.
/// </para>
/// </remarks>
internal sealed class TransportBlockPool : MemoryPool<byte>
{
    /// <summary>The block size the server uses.</summary>
    public const int DefaultBlockSize = 64 * 1024;

    /// <summary>How many free blocks the server's pools keep: enough for 64 connections in flight with 211 KB bodies.</summary>
    public const int DefaultMaxRetainedBlocks = 256;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private int _leased;
    private volatile bool _disposed;

    public TransportBlockPool(int blockSize = DefaultBlockSize, int maxRetainedBlocks = DefaultMaxRetainedBlocks)
    {
        // Pipes fall back to their own 4 KiB minimum below this, so a smaller block would never be used whole.
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 4096);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBlocks);
        BlockSize = blockSize;
        MaxRetainedBlocks = maxRetainedBlocks;
    }

    public int BlockSize { get; }

    public int MaxRetainedBlocks { get; }

    /// <summary>Free blocks kept for reuse.</summary>
    public int RetainedBlocks => Volatile.Read(ref _freeCount);

    /// <summary>Blocks rented and not yet given back: what connections hold right now.</summary>
    public int LeasedBlocks => Volatile.Read(ref _leased);

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Pipes ask a pool for at most MaxBufferSize (larger segments come from ArrayPool), so a larger request is a
        // caller's bug, as it is for Kestrel's own pool.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
        }
        else
        {
            block = new Block(this, GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true));
        }

        block.Leased = true;
        Interlocked.Increment(ref _leased);
        return block;
    }

    private void Return(Block block)
    {
        Interlocked.Decrement(ref _leased);
        if (_disposed)
        {
            return;
        }

        if (Interlocked.Increment(ref _freeCount) > MaxRetainedBlocks)
        {
            Interlocked.Decrement(ref _freeCount);
            return;
        }

        _free.Enqueue(block);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
        Volatile.Write(ref _freeCount, 0);
    }

    private sealed class Block(TransportBlockPool pool, byte[] array) : IMemoryOwner<byte>
    {
        public bool Leased;

        public Memory<byte> Memory => array;

        public void Dispose()
        {
            // A second Dispose of the same lease must not put the block in the pool twice (two renters, one buffer).
            if (!Leased)
            {
                return;
            }

            Leased = false;
            pool.Return(this);
        }
    }
}

/// <summary>Hands Kestrel <see cref="TransportBlockPool"/>s in place of its 4 KiB-block pools (one factory per server).</summary>
internal sealed class TransportBlockPoolFactory(
    int blockSize = TransportBlockPool.DefaultBlockSize,
    int maxRetainedBlocks = TransportBlockPool.DefaultMaxRetainedBlocks) : IMemoryPoolFactory<byte>
{
    private readonly ConcurrentQueue<TransportBlockPool> _pools = new();

    /// <summary>Blocks rented from this factory's pools and not yet given back.</summary>
    public int LeasedBlocks => _pools.Sum(pool => pool.LeasedBlocks);

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new TransportBlockPool(blockSize, maxRetainedBlocks);
        _pools.Enqueue(pool);
        return pool;
    }
}
