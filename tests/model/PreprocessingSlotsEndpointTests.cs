using System.Net;
using System.Text;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model;

/// <summary>
/// <c>execution.preprocess_threads</c> through real HTTP, with a single slot so that any slot held too long or never
/// given back shows as a request that cannot proceed: a download in progress holds no slot, a request waits for the
/// slot and is served once it is free, and failed requests give their slot back. Image URLs point only at a loopback
/// server (127.0.0.1, allow-listed).
/// </summary>
public class PreprocessingSlotsEndpointTests : SplitModelEndpointFixture
{
    protected override string ConfigYaml =>
        """
        model_metadata:
          clip:
            execution:
              preprocess_threads: 1
            fetch:
              timeout_seconds: 30
              allowed_networks: ["127.0.0.1/32"]
        runtime:
          predict_concurrency: 4
        """;

    private global::Clip.Imaging.PreprocessingSlots Slots => LoadedModel.Classifier!.PreprocessingSlots;

    private static int[][][] Pixels(int width, int height) =>
        Enumerable.Range(0, height).Select(y => Enumerable.Range(0, width).Select(x => new[] { x * 5 % 256, y * 7 % 256, 90 }).ToArray()).ToArray();

    [Test]
    public void Config_GivesTheEngineOneSlot()
    {
        Assert.That(Slots.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task Predict_WhileAnotherRequestDownloads_IsServed_BecauseADownloadHoldsNoSlot()
    {
        var requested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var url = Files.ServeWhenReleased("/gated.png", TestImages.RandomPng(32, 24, 32 * 24), requested, release.Task);

        var downloading = PredictAsync(new { labels = Labels, image_url = url });
        try
        {
            await requested.Task.WaitAsync(Patience);
            var (status, body) = await PredictAsync(new { labels = Labels, image = Pixels(20, 16) });

            using (Assert.EnterMultipleScope())
            {
                Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
                Assert.That(downloading.IsCompleted, Is.False, "the first request is still downloading");
                Assert.That(Slots.Busy, Is.Zero, "no slot is held during a download");
            }
        }
        finally
        {
            release.TrySetResult();
        }

        var (downloadedStatus, downloadedBody) = await downloading;
        Assert.That(downloadedStatus, Is.EqualTo(HttpStatusCode.OK), downloadedBody);
    }

    [Test]
    public async Task Predict_WhileTheOnlySlotIsHeld_Waits_ThenIsServed()
    {
        var held = await Slots.EnterAsync(Bounded());
        Task<(HttpStatusCode Status, string Body)> waiting;
        try
        {
            waiting = PredictAsync(new { labels = Labels, image = Pixels(12, 9) });
            Assert.That(await Poll.UntilAsync(() => Slots.Waiting == 1), Is.True, "the request waits for the slot");
            Assert.That(waiting.IsCompleted, Is.False);
        }
        finally
        {
            held.Dispose();
        }

        var (status, body) = await waiting;

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(Slots.Busy, Is.Zero);
    }

    [Test]
    public async Task FailedRequests_GiveTheirSlotBack()
    {
        var notAnImage = Files.Serve("/page.html", "<html>hi</html>"u8.ToArray(), "text/html");
        var missing = Files.ServeStatus("/missing.png", 404);

        var answers = new[]
        {
            await PredictAsync(new { labels = Labels, image_url = notAnImage }),
            await PredictAsync(new { labels = Labels, image_url = missing }),
            await PredictAsync(new { labels = Labels, image_base64 = Convert.ToBase64String(Encoding.ASCII.GetBytes("not an image at all")) }),
            await PredictAsync(new { labels = Labels, image = new[] { new[] { new[] { 1, 2 } } } }),
        };
        var (status, body) = await PredictAsync(new { labels = Labels, image = Pixels(8, 8) });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(answers.Select(a => (int)a.Status), Is.EqualTo(new[] { 415, 502, 400, 400 }), string.Join("\n", answers.Select(a => a.Body)));
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
            Assert.That(Slots.Busy, Is.Zero);
        }
    }
}
