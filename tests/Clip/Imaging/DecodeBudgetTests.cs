using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

public class DecodeBudgetTests
{
    [Test]
    public async Task Reserve_WithinTheBudget_CompletesAtOnce_AndDisposalGivesTheRoomBackOnce()
    {
        var budget = new DecodeBudget(10 * 1024);

        var reserving = budget.ReserveAsync(3000, CancellationToken.None);
        Assert.That(reserving.IsCompletedSuccessfully, Is.True, "room is free and nobody waits");
        var reservation = await reserving;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(budget.Pixels, Is.EqualTo(10 * 1024));
            Assert.That(budget.PixelsInUse, Is.EqualTo(3 * 1024), "reservations are whole kilopixels, rounded up");
        }

        reservation.Dispose();
        reservation.Dispose();
        Assert.That(budget.PixelsInUse, Is.Zero, "a second disposal gives nothing back twice");
    }

    [Test]
    public async Task Reserve_WhenTheBudgetIsFull_WaitsUntilRoomIsGivenBack()
    {
        var budget = new DecodeBudget(4 * 1024);
        var first = await budget.ReserveAsync(3 * 1024, CancellationToken.None);

        var second = budget.ReserveAsync(2 * 1024, CancellationToken.None).AsTask();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(second.IsCompleted, Is.False, "3 + 2 kilopixels do not fit in 4");
            Assert.That(budget.Waiting, Is.EqualTo(1));
        }

        first.Dispose();
        using var granted = await second.WaitAsync(TimeSpan.FromSeconds(10));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(budget.Waiting, Is.Zero);
            Assert.That(budget.PixelsInUse, Is.EqualTo(2 * 1024));
        }
    }

    [Test]
    public async Task Reserve_ServesWaitersOldestFirst_ASmallOneDoesNotOvertakeALargeOne()
    {
        var budget = new DecodeBudget(4 * 1024);
        var held = await budget.ReserveAsync(2 * 1024, CancellationToken.None);
        var large = budget.ReserveAsync(4 * 1024, CancellationToken.None).AsTask();

        var small = budget.ReserveAsync(1024, CancellationToken.None).AsTask();

        Assert.That(small.IsCompleted, Is.False, "the small image would fit, but the large one came first");
        held.Dispose();
        var largeReservation = await large.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(small.IsCompleted, Is.False, "the large one holds the whole budget now");
        largeReservation.Dispose();
        (await small.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        Assert.That(budget.PixelsInUse, Is.Zero);
    }

    [Test]
    public async Task Reserve_LargerThanTheBudget_IsCutToTheBudget_AndDecodesAlone()
    {
        var budget = new DecodeBudget(8 * 1024);

        var whole = await budget.ReserveAsync(50_000_000, CancellationToken.None);
        var next = budget.ReserveAsync(1, CancellationToken.None).AsTask();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(budget.PixelsInUse, Is.EqualTo(budget.Pixels));
            Assert.That(next.IsCompleted, Is.False, "nothing else decodes beside it");
        }

        whole.Dispose();
        (await next.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }

    [Test]
    public async Task Reserve_CancelledWhileWaiting_Throws_AndLeavesTheBudgetWhole()
    {
        var budget = new DecodeBudget(2 * 1024);
        var held = await budget.ReserveAsync(2 * 1024, CancellationToken.None);
        using var cancellation = new CancellationTokenSource();

        var waiting = budget.ReserveAsync(1024, cancellation.Token).AsTask();
        await cancellation.CancelAsync();

        Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(budget.Waiting, Is.Zero);
        held.Dispose();
        var full = budget.ReserveAsync(2 * 1024, CancellationToken.None);
        Assert.That(full.IsCompletedSuccessfully, Is.True, "the cancelled waiter took nothing with it");
        (await full).Dispose();
    }

    [Test]
    public void Reserve_AlreadyCancelled_ThrowsWithoutReserving()
    {
        var budget = new DecodeBudget(1024);

        Assert.That(async () => await budget.ReserveAsync(1, new CancellationToken(canceled: true)), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(budget.PixelsInUse, Is.Zero);
    }

    [Test]
    public void Budget_AndReservation_BelowOnePixel_AreRefused()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new DecodeBudget(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new DecodeBudget(1024).ReserveAsync(0, CancellationToken.None), Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
    }

    [Test]
    public async Task Budget_AsLargeAsALongAllows_StillWorks()
    {
        var budget = new DecodeBudget(long.MaxValue);

        using var reservation = await budget.ReserveAsync(long.MaxValue, CancellationToken.None);

        Assert.That(budget.PixelsInUse, Is.EqualTo(budget.Pixels), "capped at the limiter's 32-bit count of kilopixels");
    }
}
