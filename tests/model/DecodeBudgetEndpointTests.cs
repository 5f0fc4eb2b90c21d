using System.Net;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model;

/// <summary>
/// <c>image.max_pixels_in_flight</c> through real HTTP: while other decoded images fill the budget, a request with an
/// encoded image (base64 or URL) waits before decoding and is served once room is given back; a decode that fails or a
/// client that leaves gives its room back; an image larger than the whole budget is still served, alone. The tests
/// fill the budget themselves with a reservation, so nothing depends on timing. Image URLs point only at a loopback
/// server (127.0.0.1, allow-listed).
/// </summary>
public class DecodeBudgetEndpointTests : SplitModelEndpointFixture
{
    private const long BudgetPixels = 10_000; // 10 kilopixels once rounded up: room for a 100×100 image, not two

    protected override string ConfigYaml =>
        $$"""
        model_metadata:
          clip:
            image:
              max_pixels_in_flight: {{BudgetPixels}}
            fetch:
              timeout_seconds: 30
              allowed_networks: ["127.0.0.1/32"]
        runtime:
          predict_concurrency: 4
        """;

    private global::Clip.Imaging.DecodeBudget Budget => LoadedModel.Classifier!.DecodeBudget;

    [Test]
    public void Config_SetsTheBudget()
    {
        Assert.That(Budget.Pixels, Is.EqualTo(10 * 1024), "whole kilopixels, rounded up");
    }

    [TestCase("image_base64")]
    [TestCase("image_url")]
    public async Task Predict_WhileTheBudgetIsFull_WaitsBeforeDecoding_ThenIsServed(string field)
    {
        var png = TestImages.RandomPng(60, 40, 60 * 40);
        object request = field == "image_url"
            ? new { labels = Labels, image_url = Files.Serve($"/budget-{Guid.NewGuid():N}.png", png) }
            : new { labels = Labels, image_base64 = Convert.ToBase64String(png) };
        var full = await Budget.ReserveAsync(Budget.Pixels, Bounded());
        Task<(HttpStatusCode Status, string Body)> waiting;
        try
        {
            waiting = PredictAsync(request);
            Assert.That(await Poll.UntilAsync(() => Budget.Waiting == 1), Is.True, "the request waits for room");
            Assert.That(waiting.IsCompleted, Is.False);
        }
        finally
        {
            full.Dispose();
        }

        var (status, body) = await waiting;

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(Budget.PixelsInUse, Is.Zero, "the decoded image gave its room back");
    }

    [Test]
    public async Task Predict_ClientLeavesWhileWaitingForRoom_TakesNothing()
    {
        var full = await Budget.ReserveAsync(Budget.Pixels, Bounded());
        try
        {
            using var leaving = new CancellationTokenSource();
            var abandoned = PredictAsync(new { labels = Labels, image_base64 = Convert.ToBase64String(TestImages.RandomPng(30, 30, 30 * 30)) }, leaving.Token);
            Assert.That(await Poll.UntilAsync(() => Budget.Waiting == 1), Is.True);
            await leaving.CancelAsync();
            Assert.That(async () => await abandoned, Throws.InstanceOf<OperationCanceledException>());
            Assert.That(await Poll.UntilAsync(() => Budget.Waiting == 0), Is.True, "the departed request stops waiting");
        }
        finally
        {
            full.Dispose();
        }

        Assert.That(Budget.PixelsInUse, Is.Zero);
        var (status, body) = await PredictAsync(new { labels = Labels, image_base64 = Convert.ToBase64String(TestImages.RandomPng(30, 30, 30 * 30)) });
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
    }

    [Test]
    public async Task Predict_ImageLargerThanTheWholeBudget_IsServedAlone()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image_base64 = Convert.ToBase64String(TestImages.RandomPng(200, 100, 200 * 100)) });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(Budget.PixelsInUse, Is.Zero);
    }

    [Test]
    public async Task FailedDecodes_GiveTheirRoomBack()
    {
        var png = TestImages.RandomPng(50, 50, 50 * 50);
        var cutAfterTheHeader = png[..(png.Length / 2)]; // the header reserves 2,500 pixels, then the pixels run out

        var (status, body) = await PredictAsync(new { labels = Labels, image_base64 = Convert.ToBase64String(cutAfterTheHeader) });

        using (Assert.EnterMultipleScope())
        {
            Assert.That((int)status, Is.EqualTo(400), body);
            Assert.That(body, Does.Contain("image_base64").And.Contain("incomplete"));
            Assert.That(Budget.PixelsInUse, Is.Zero);
            Assert.That(Budget.Waiting, Is.Zero);
        }
    }
}
