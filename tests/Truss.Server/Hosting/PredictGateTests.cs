using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Truss.Server.Hosting;

public class PredictGateTests
{
    [Test]
    public async Task EnterAsync_SlotsFullAndQueueFull_RejectsAtOnce()
    {
        using var gate = new PredictGate(concurrency: 1, maxQueued: 1);
        using var held = await gate.EnterAsync(CancellationToken.None);
        var waiting = gate.EnterAsync(CancellationToken.None).AsTask();

        Assert.That(async () => await gate.EnterAsync(CancellationToken.None), Throws.TypeOf<ServerOverloadedException>());
        Assert.That(gate.Queued, Is.EqualTo(1));
        held.Dispose();
        (await waiting).Dispose();
        Assert.That(gate.Running, Is.Zero);
    }

    [Test]
    public async Task EnterAsync_CancelledWhileQueued_LeavesTheQueue()
    {
        using var gate = new PredictGate(concurrency: 1, maxQueued: 4);
        using var held = await gate.EnterAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = gate.EnterAsync(cancel.Token).AsTask();

        await cancel.CancelAsync();

        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(gate.Queued, Is.Zero);
    }

    [Test]
    public void Constructor_ZeroConcurrency_Throws() =>
        Assert.That(() => new PredictGate(0, 1), Throws.TypeOf<ArgumentOutOfRangeException>());
}

public class BufferedBytesBudgetTests
{
    [Test]
    public void Reserve_OverCapacity_RejectsUntilReleased()
    {
        var budget = new BufferedBytesBudget(100);
        var first = budget.Reserve(60);

        Assert.That(() => budget.Reserve(50), Throws.TypeOf<ServerOverloadedException>().With.Message.Contains("max_buffered_body_bytes"));
        first.Dispose();
        first.Dispose();
        using var second = budget.Reserve(50);
        Assert.That(budget.Reserved, Is.EqualTo(50));
    }

    [Test]
    public void Reserve_LargerThanCapacityWhenIdle_IsAllowedSoNoRequestStarves()
    {
        var budget = new BufferedBytesBudget(10);

        using var reservation = budget.Reserve(50);

        Assert.That(budget.Reserved, Is.EqualTo(50));
    }

    [Test]
    public void Extend_GrowsAReservation_RefusesPastCapacityWhileOthersHold_AndDisposeGivesAllBack()
    {
        var budget = new BufferedBytesBudget(100, "downloaded images", "model_metadata.clip.fetch.max_bytes_in_flight");
        var growing = budget.Reserve(10);
        growing.Extend(30);
        var other = budget.Reserve(50);

        Assert.That(() => growing.Extend(30), Throws.TypeOf<ServerOverloadedException>()
            .With.Message.EqualTo("Server is at capacity: 90 bytes of downloaded images are in memory and this one needs 30 more " +
                                  "(model_metadata.clip.fetch.max_bytes_in_flight). Retry later."));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(growing.Bytes, Is.EqualTo(40), "a refused extension keeps what was held");
            Assert.That(budget.Reserved, Is.EqualTo(90));
        }

        other.Dispose();
        growing.Extend(200);
        Assert.That(budget.Reserved, Is.EqualTo(240), "alone, a reservation may grow past the capacity, as Reserve allows");
        growing.Dispose();
        growing.Dispose();
        Assert.That(budget.Reserved, Is.Zero);
        Assert.That(() => growing.Extend(1), Throws.TypeOf<ObjectDisposedException>());
    }
}
