using System.Buffers;
using System.Threading.Channels;

namespace Clip.Batching;

/// <summary>
/// Dynamic batching of image-tower runs across concurrent requests: a single reader takes queued requests off a
/// bounded channel until it has <see cref="BatchingOptions.MaxBatchSize"/> images or
/// <see cref="BatchingOptions.MaxDelay"/> has passed since the first one, runs the tower once on all of them, and
/// completes each request with its own rows. An ONNX run costs much less per image at batch 8 than at batch 1, so
/// under concurrency this raises throughput at the price of at most MaxDelay of extra latency.
/// </summary>
/// <remarks>
/// The reader waits for more images only while a request is on its way: callers <see cref="Announce"/> a request
/// when they start preparing its images and the announcement ends when it is queued. With nothing announced the
/// batch runs at once, so a lone request (a sequential client, a quiet server) never pays MaxDelay; under load,
/// requests pile up while the tower runs and the next batch takes them all without waiting
/// (continuous batching, as text-generation servers do). When a request finds the tower idle, nothing queued and no
/// one else announced, its batch would be itself alone: it then runs on the caller's thread, which saves the two
/// thread hops through the reader (a visible share of a small model's cost at low concurrency).
/// </remarks>
/// <remarks>
/// Requests cancelled while queued are skipped (their images never reach the tower). Each request gets its own
/// completion (continuations run asynchronously, so the reader never runs request code). The channel is bounded; the
/// server's predict gate already bounds how many requests can be waiting. Disposal stops accepting and completes
/// everything still queued. Modelled on Serilog's BatchingSink and text-embeddings-inference's queue. Thread-safe.
/// </remarks>
public sealed class ImageBatcher : IAsyncDisposable
{
    /// <summary>Runs the image tower: pixels [batch,3,S,S] in, embeddings [batch,dim] out.</summary>
    public delegate void EncodeBatch(ReadOnlySpan<float> pixels, int batch, Span<float> embeddings);

    private readonly EncodeBatch _encode;
    private readonly int _tensorLength;
    private readonly int _embeddingDim;
    private readonly BatchingOptions _options;
    // Queued when the last announced request gives up before queueing, to end a wait that is no longer useful.
    private static readonly Pending WakeUp = new([], 0, new TaskCompletionSource<float[]>(), CancellationToken.None);

    private readonly Channel<Pending> _queue;
    private readonly Task _reader;
    private long _batches;
    private long _images;
    private int _announced;
    private int _runsInProgress;

    // 1 while the reader holds a batch it is still filling (it may be waiting for announced requests).
    private int _filling;

    public ImageBatcher(EncodeBatch encode, int tensorLength, int embeddingDim, BatchingOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tensorLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingDim, 1);
        _encode = encode;
        _tensorLength = tensorLength;
        _embeddingDim = embeddingDim;
        _options = options;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Tower runs so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Images encoded so far.</summary>
    public long Images => Interlocked.Read(ref _images);

    /// <summary>Requests announced and not yet queued: what the reader may wait for.</summary>
    public int Announced => Volatile.Read(ref _announced);

    /// <summary>
    /// Announces a request that will call <see cref="EncodeAsync"/> soon, so that a batch being filled waits for it
    /// (up to MaxDelay). Pass it to <see cref="EncodeAsync"/>, which ends it once the request is queued; dispose it
    /// in any case (ending twice is harmless), so a request that fails before queueing stops being waited for.
    /// </summary>
    public Announcement Announce()
    {
        Interlocked.Increment(ref _announced);
        return new Announcement(this);
    }

    /// <summary>Requests queued and not yet taken into a batch.</summary>
    public int QueuedRequests => _queue.Reader.Count;

    /// <summary>
    /// Queues <paramref name="count"/> preprocessed images (<paramref name="pixels"/>, CHW each, back to back) and
    /// returns their embeddings [count, dim]. The caller keeps ownership of <paramref name="pixels"/> but must not
    /// touch it until the task completes.
    /// </summary>
    public async Task<float[]> EncodeAsync(float[] pixels, int count, CancellationToken cancellationToken, Announcement? announcement = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (pixels.Length < count * _tensorLength)
        {
            throw new ArgumentException($"Expected {count} × {_tensorLength} floats, got {pixels.Length}.", nameof(pixels));
        }

        if (TryRunAlone(pixels, count, announcement, cancellationToken) is { } alone)
        {
            return alone;
        }

        var pending = new Pending(pixels, count, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
        try
        {
            await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
            announcement?.End(queued: true);
        }
        finally
        {
            announcement?.Dispose();
        }

        using (cancellationToken.Register(static state => ((TaskCompletionSource<float[]>)state!).TrySetCanceled(), pending.Completion))
        {
            return await pending.Completion.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Runs the request on this thread when it would be a batch of one anyway; null when it must queue.</summary>
    private float[]? TryRunAlone(float[] pixels, int count, Announcement? announcement, CancellationToken cancellationToken)
    {
        var othersAnnounced = Volatile.Read(ref _announced) - (announcement is { IsActive: true } ? 1 : 0);
        if (othersAnnounced > 0 || _queue.Reader.Count > 0 || Volatile.Read(ref _filling) == 1 || count > _options.MaxBatchSize ||
            Interlocked.CompareExchange(ref _runsInProgress, 1, 0) != 0)
        {
            return null;
        }

        try
        {
            announcement?.End(queued: false);
            cancellationToken.ThrowIfCancellationRequested();
            var rows = new float[count * _embeddingDim];
            _encode(pixels.AsSpan(0, count * _tensorLength), count, rows);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _images, count);
            return rows;
        }
        finally
        {
            Interlocked.Decrement(ref _runsInProgress);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _reader.ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        var batch = new List<Pending>(_options.MaxBatchSize);
        Pending? carried = null;
        while (carried is not null || await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            var images = 0;

            // A full fence: an announcement that ends after this sees it and wakes the reader (see End).
            Interlocked.Exchange(ref _filling, 1);
            if (carried is { } first || _queue.Reader.TryRead(out first))
            {
                carried = null;
                Add(first, batch, ref images);
            }

            // Fill the batch until it is full, nothing more is on its way, or the first request has waited MaxDelay.
            CancellationTokenSource? window = null;
            while (images < _options.MaxBatchSize)
            {
                if (_queue.Reader.TryRead(out var next))
                {
                    if (images > 0 && images + next.Count > _options.MaxBatchSize)
                    {
                        carried = next; // too big for this batch: it opens the next one
                        break;
                    }

                    Add(next, batch, ref images);
                    continue;
                }

                if (Volatile.Read(ref _announced) == 0 || _options.MaxDelay == TimeSpan.Zero)
                {
                    break;
                }

                window ??= new CancellationTokenSource(_options.MaxDelay);
                try
                {
                    if (!await _queue.Reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            window?.Dispose();
            Volatile.Write(ref _filling, 0);
            if (images > 0)
            {
                Run(batch, images);
            }
        }
    }

    private static void Add(Pending pending, List<Pending> batch, ref int images)
    {
        if (ReferenceEquals(pending, WakeUp))
        {
            return;
        }

        // A request whose caller has gone is skipped rather than encoded.
        if (pending.Cancellation.IsCancellationRequested)
        {
            pending.Completion.TrySetCanceled(pending.Cancellation);
            return;
        }

        batch.Add(pending);
        images += pending.Count;
    }

    private void Run(List<Pending> batch, int images)
    {
        var pixels = ArrayPool<float>.Shared.Rent(images * _tensorLength);
        var embeddings = ArrayPool<float>.Shared.Rent(images * _embeddingDim);
        try
        {
            var offset = 0;
            foreach (var pending in batch)
            {
                pending.Pixels.AsSpan(0, pending.Count * _tensorLength).CopyTo(pixels.AsSpan(offset));
                offset += pending.Count * _tensorLength;
            }

            Interlocked.Increment(ref _runsInProgress);
            try
            {
                _encode(pixels.AsSpan(0, images * _tensorLength), images, embeddings.AsSpan(0, images * _embeddingDim));
            }
            finally
            {
                Interlocked.Decrement(ref _runsInProgress);
            }

            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _images, images);
            offset = 0;
            foreach (var pending in batch)
            {
                var rows = embeddings.AsSpan(offset, pending.Count * _embeddingDim).ToArray();
                offset += rows.Length;
                pending.Completion.TrySetResult(rows);
            }
        }
        catch (Exception e)
        {
            // The reader must survive a failed run: every request of this batch gets the error, later ones go on.
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(e);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
            ArrayPool<float>.Shared.Return(embeddings);
        }
    }

    /// <summary>A request on its way to the queue (see <see cref="Announce"/>).</summary>
    public sealed class Announcement : IDisposable
    {
        private ImageBatcher? _batcher;

        internal Announcement(ImageBatcher batcher) => _batcher = batcher;

        internal bool IsActive => Volatile.Read(ref _batcher) is not null;

        /// <summary>Ends the announcement if <see cref="EncodeAsync"/> has not: the request is no longer on its way.</summary>
        public void Dispose() => End(queued: false);

        /// <param name="queued">The request's images went into the queue, which wakes the reader by itself.</param>
        internal void End(bool queued)
        {
            // Decrement, then look at _filling: the reader sets _filling, then reads _announced (both fenced), so
            // either it sees this request gone or this sees it filling and wakes it.
            if (Interlocked.Exchange(ref _batcher, null) is { } batcher &&
                Interlocked.Decrement(ref batcher._announced) == 0 && !queued && Volatile.Read(ref batcher._filling) == 1)
            {
                // The reader may be waiting for this request, which is not coming (it gave up, or ran alone): wake
                // it so it stops waiting. A full queue means it has work and will look again anyway.
                batcher._queue.Writer.TryWrite(WakeUp);
            }
        }
    }

    private sealed record Pending(float[] Pixels, int Count, TaskCompletionSource<float[]> Completion, CancellationToken Cancellation);
}

/// <summary>Dynamic batching settings (<c>model_metadata.clip.batching</c>).</summary>
public sealed record BatchingOptions
{
    /// <summary>Most images per tower run (default 16).</summary>
    public int MaxBatchSize
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), value, "Must be ≥ 1.");
    } = 16;

    /// <summary>Longest a request waits for others to join its batch (default 2 ms).</summary>
    public TimeSpan MaxDelay
    {
        get;
        init => field = value >= TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(MaxDelay), value, "Must be ≥ 0.");
    } = TimeSpan.FromMilliseconds(2);

    /// <summary>Requests that may wait in the queue (default 1024).</summary>
    public int QueueCapacity
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(QueueCapacity), value, "Must be ≥ 1.");
    } = 1024;
}
