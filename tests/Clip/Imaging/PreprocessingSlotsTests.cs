using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

/// <summary>
/// The bound on requests that preprocess at once: free slots are taken at once, the rest wait in arrival order, a
/// cancelled waiter takes nothing, and a slot is given back exactly once however often it is disposed.
/// </summary>
public class PreprocessingSlotsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [TestCase(0)]
    [TestCase(-1)]
    public void Constructor_FewerThanOneSlot_Throws(int count)
    {
        Assert.That(() => new PreprocessingSlots(count), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public async Task Unbounded_NeverWaits()
    {
        var slots = new PreprocessingSlots(PreprocessingSlots.Unbounded);

        var held = new List<PreprocessingSlot>();
        for (var i = 0; i < 1000; i++)
        {
            var entering = slots.EnterAsync(CancellationToken.None);
            Assert.That(entering.IsCompletedSuccessfully, Is.True);
            held.Add(await entering);
        }

        Assert.That(slots.Busy, Is.EqualTo(1000));
        held.ForEach(slot => slot.Dispose());
        Assert.That(slots.Busy, Is.Zero);
    }

    [Test]
    public void EnterAsync_FreeSlots_CompleteAtOnce_AndAreCounted()
    {
        var slots = new PreprocessingSlots(2);

        var first = slots.EnterAsync(CancellationToken.None);
        var second = slots.EnterAsync(CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.IsCompletedSuccessfully && second.IsCompletedSuccessfully, Is.True, "no wait while slots are free");
            Assert.That(slots.Busy, Is.EqualTo(2));
            Assert.That(slots.Waiting, Is.Zero);
            Assert.That(first.Result.IsHeld, Is.True);
        }

        first.Result.Dispose();
        second.Result.Dispose();

        Assert.That(slots.Busy, Is.Zero);
    }

    [Test]
    public async Task EnterAsync_AllHeld_WaitsUntilOneIsGivenBack()
    {
        var slots = new PreprocessingSlots(1);
        var held = await slots.EnterAsync(CancellationToken.None);

        var waiting = slots.EnterAsync(CancellationToken.None).AsTask();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(waiting.IsCompleted, Is.False);
            Assert.That(slots.Waiting, Is.EqualTo(1));
        }

        held.Dispose();
        using var next = await waiting.WaitAsync(Patience);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(next.IsHeld, Is.True);
            Assert.That(slots.Busy, Is.EqualTo(1));
            Assert.That(slots.Waiting, Is.Zero);
        }
    }

    [Test]
    public async Task EnterAsync_Waiters_GetSlotsInArrivalOrder()
    {
        var slots = new PreprocessingSlots(1);
        var held = await slots.EnterAsync(CancellationToken.None);
        var order = new List<int>();
        var waiters = Enumerable.Range(0, 4).Select(i => TakeAndRecord(i)).ToArray();

        async Task TakeAndRecord(int index)
        {
            using var slot = await slots.EnterAsync(CancellationToken.None);
            lock (order)
            {
                order.Add(index);
            }
        }

        held.Dispose();
        await Task.WhenAll(waiters).WaitAsync(Patience);

        Assert.That(order, Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(slots.Busy, Is.Zero);
    }

    [Test]
    public async Task EnterAsync_CancelledWhileWaiting_Throws_AndTakesNoSlot()
    {
        var slots = new PreprocessingSlots(1);
        var held = await slots.EnterAsync(CancellationToken.None);
        using var cancellation = new CancellationTokenSource();
        var cancelled = slots.EnterAsync(cancellation.Token).AsTask();
        var after = slots.EnterAsync(CancellationToken.None).AsTask();

        await cancellation.CancelAsync();

        Assert.That(async () => await cancelled.WaitAsync(Patience), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(slots.Waiting, Is.EqualTo(1), "only the other waiter is left");
        held.Dispose();
        using var next = await after.WaitAsync(Patience);
        Assert.That(slots.Busy, Is.EqualTo(1), "the slot went to the waiter behind the cancelled one");
    }

    [Test]
    public void EnterAsync_AlreadyCancelled_ThrowsEvenWithFreeSlots()
    {
        var slots = new PreprocessingSlots(1);

        Assert.That(() => slots.EnterAsync(new CancellationToken(canceled: true)), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(slots.Busy, Is.Zero);
    }

    [Test]
    public async Task Dispose_Twice_GivesTheSlotBackOnce()
    {
        var slots = new PreprocessingSlots(1);
        var slot = await slots.EnterAsync(CancellationToken.None);

        slot.Dispose();
        slot.Dispose();
        using var again = await slots.EnterAsync(CancellationToken.None);
        var third = slots.EnterAsync(CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(slot.IsHeld, Is.False);
            Assert.That(third.IsCompleted, Is.False, "one slot, held by `again`: a second give-back would have freed another");
            Assert.That(slots.Busy, Is.EqualTo(1));
        }

        again.Dispose();
        (await third.AsTask().WaitAsync(Patience)).Dispose();
    }
}
