using System.Buffers;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Connections;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Truss.Server.Hosting;

public class TransportBlockPoolTests
{
    [Test]
    public void Rent_hands_out_whole_blocks_of_the_configured_size()
    {
        using var pool = new TransportBlockPool(blockSize: 16 * 1024, maxRetainedBlocks: 4);
        using var small = pool.Rent(1);
        using var full = pool.Rent(16 * 1024);
        using var unspecified = pool.Rent();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(pool.MaxBufferSize, Is.EqualTo(16 * 1024));
            Assert.That(small.Memory.Length, Is.EqualTo(16 * 1024));
            Assert.That(full.Memory.Length, Is.EqualTo(16 * 1024));
            Assert.That(unspecified.Memory.Length, Is.EqualTo(16 * 1024));
        }
    }

    [Test]
    public void A_returned_block_is_reused()
    {
        using var pool = new TransportBlockPool(blockSize: 8192, maxRetainedBlocks: 4);
        var first = pool.Rent();
        var memory = first.Memory;
        first.Dispose();

        Assert.That(pool.RetainedBlocks, Is.EqualTo(1));
        using var second = pool.Rent();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(second.Memory.Span.Overlaps(memory.Span), Is.True, "the same buffer comes back");
            Assert.That(pool.RetainedBlocks, Is.Zero);
        }
    }

    [Test]
    public void Disposing_a_lease_twice_does_not_hand_its_block_to_two_renters()
    {
        using var pool = new TransportBlockPool(blockSize: 8192, maxRetainedBlocks: 4);
        var lease = pool.Rent();
        lease.Dispose();
        lease.Dispose();

        using var a = pool.Rent();
        using var b = pool.Rent();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(pool.RetainedBlocks, Is.Zero);
            Assert.That(a.Memory.Span.Overlaps(b.Memory.Span), Is.False);
        }
    }

    [Test]
    public void Blocks_beyond_the_retention_limit_are_let_go()
    {
        using var pool = new TransportBlockPool(blockSize: 4096, maxRetainedBlocks: 3);
        var leases = Enumerable.Range(0, 10).Select(_ => pool.Rent()).ToList();
        leases.ForEach(lease => lease.Dispose());

        Assert.That(pool.RetainedBlocks, Is.EqualTo(3));
    }

    [Test]
    public void Blocks_are_pinned_so_sockets_can_read_into_them()
    {
        using var pool = new TransportBlockPool(blockSize: 4096, maxRetainedBlocks: 1);
        using var lease = pool.Rent();
        Assert.That(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(lease.Memory, out var segment), Is.True);
        Assert.That(GC.GetGeneration(segment.Array!), Is.EqualTo(GC.MaxGeneration), "pinned object heap arrays report the oldest generation");
    }

    [Test]
    public void Bad_sizes_and_use_after_dispose_are_refused()
    {
        var pool = new TransportBlockPool(blockSize: 4096, maxRetainedBlocks: 1);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new TransportBlockPool(blockSize: 1024, maxRetainedBlocks: 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new TransportBlockPool(blockSize: 4096, maxRetainedBlocks: -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => pool.Rent(4097), Throws.InstanceOf<ArgumentOutOfRangeException>());
        }

        var lease = pool.Rent();
        pool.Dispose();
        lease.Dispose();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(pool.RetainedBlocks, Is.Zero, "a block returned after Dispose is not kept");
            Assert.That(() => pool.Rent(), Throws.InstanceOf<ObjectDisposedException>());
        }
    }

    [Test]
    public async Task A_pipe_over_the_pool_carries_a_multi_block_body_intact_in_large_segments()
    {
        using var pool = new TransportBlockPool(blockSize: 64 * 1024, maxRetainedBlocks: 8);
        var pipe = new Pipe(new PipeOptions(pool, minimumSegmentSize: 4096, useSynchronizationContext: false));
        var body = new byte[300_000];
        new Random(7).NextBytes(body);

        // Written the way Kestrel's socket loop writes: ask for any memory, fill what it got, advance.
        var largestSegment = 0;
        for (var offset = 0; offset < body.Length;)
        {
            var memory = pipe.Writer.GetMemory(2048);
            largestSegment = Math.Max(largestSegment, memory.Length);
            var n = Math.Min(memory.Length, body.Length - offset);
            body.AsSpan(offset, n).CopyTo(memory.Span);
            pipe.Writer.Advance(n);
            offset += n;
        }

        await pipe.Writer.CompleteAsync();
        var received = new MemoryStream();
        while (true)
        {
            var result = await pipe.Reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                received.Write(segment.Span);
            }

            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await pipe.Reader.CompleteAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(received.ToArray(), Is.EqualTo(body));
            Assert.That(largestSegment, Is.EqualTo(64 * 1024), "one receive can take a whole 64 KiB block");
            Assert.That(pool.RetainedBlocks, Is.InRange(1, 8), "the pipe gave its blocks back");
        }
    }

    [Test]
    public void The_default_factory_makes_64_KiB_pools_and_counts_their_leases()
    {
        var factory = new TransportBlockPoolFactory();
        using var first = factory.Create(new MemoryPoolOptions());
        using var second = factory.Create();
        var a = first.Rent();
        var b = second.Rent();
        var c = second.Rent();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.MaxBufferSize, Is.EqualTo(TransportBlockPool.DefaultBlockSize).And.EqualTo(64 * 1024));
            Assert.That(factory.LeasedBlocks, Is.EqualTo(3));
        }

        a.Dispose();
        b.Dispose();
        b.Dispose();
        Assert.That(factory.LeasedBlocks, Is.EqualTo(1), "a double Dispose counts once");
        c.Dispose();
        Assert.That(factory.LeasedBlocks, Is.Zero);
    }
}

/// <summary>The pool in place: Kestrel on loopback reads a body of many blocks through it, byte for byte.</summary>
public class TransportBlockPoolServerTests
{
    [Test]
    public async Task The_server_reads_requests_through_the_large_block_pool()
    {
        await using var server = await Support.TestTrussServer.StartAsync(new Support.FakeModel());
        await server.WaitUntilReadyAsync();
        Assert.That(PoolFactory(server), Is.InstanceOf<TransportBlockPoolFactory>());

        // 700 KB of JSON: eleven blocks, echoed back by the fake model, so every byte crossed the pool's blocks.
        var random = new Random(11);
        var text = new string(Enumerable.Range(0, 700_000).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray());
        using var content = new StringContent($$"""{"text": "{{text}}"}""");
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await server.Client.PostAsync("/v1/models/model:predict", content);
        var answer = await response.Content.ReadAsStringAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK), answer.Length < 500 ? answer : answer[..500]);
            Assert.That(answer, Is.EqualTo($$"""{"text": "{{text}}"}"""));
        }
    }

    [Test]
    public async Task Idle_keep_alive_connections_hold_at_most_one_block_each_and_none_once_closed()
    {
        await using var server = await Support.TestTrussServer.StartAsync(new Support.FakeModel());
        await server.WaitUntilReadyAsync();
        var factory = (TransportBlockPoolFactory)PoolFactory(server);

        // Sixteen connections, each sends a 300 KB body (five blocks while it arrives), gets its answer and stays
        // open. Kestrel waits for data before renting, but its input pipe keeps the last block when the request's
        // end was consumed while the socket loop was still writing, so an idle connection may hold one block.
        var body = $$"""{"text": "{{new string('x', 300_000)}}"}""";
        var clients = Enumerable.Range(0, 16).Select(_ => new HttpClient { BaseAddress = server.Client.BaseAddress }).ToList();
        try
        {
            var answers = await Task.WhenAll(clients.Select(async client =>
            {
                using var content = new StringContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await client.PostAsync("/v1/models/model:predict", content);
                return (response.StatusCode, (await response.Content.ReadAsStringAsync()).Length);
            }));
            Assert.That(answers, Has.All.EqualTo((System.Net.HttpStatusCode.OK, body.Length)));
            await Support.Poll.UntilAsync(() => factory.LeasedBlocks <= clients.Count);
            Assert.That(factory.LeasedBlocks, Is.InRange(0, clients.Count), "idle connections hold at most one block each");
        }
        finally
        {
            clients.ForEach(client => client.Dispose());
        }

        await Support.Poll.UntilAsync(() => factory.LeasedBlocks == 0);
        Assert.That(factory.LeasedBlocks, Is.Zero, "closed connections give every block back");
    }

    private static IMemoryPoolFactory<byte> PoolFactory(Support.TestTrussServer server) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IMemoryPoolFactory<byte>>(server.Server.Services);
}
