using System.Net;
using System.Text;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.Truss.Server.Http;

/// <summary>
/// A client that goes away mid-request, in each phase of the predict pipeline, through a real Kestrel server on
/// loopback: the request is logged as a 499 at Information (never an error with a stack trace), the access log and
/// <c>http_requests_total</c> say 499 (not the 200 the client never got), and the server goes on serving.
/// </summary>
public class ClientDisconnectTests
{
    private const string Predict499 = """http_requests_total{method="POST",route="/v1/models/{name}",code="499"}""";
    private const string Predict200 = """http_requests_total{method="POST",route="/v1/models/{name}",code="200"}""";

    [Test]
    public async Task ClientLeavesWhileSendingTheBody_Is499ReadingRequest()
    {
        var model = new FakeModel();
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        using (var client = await RawHttpConnection.OpenAsync(server))
        {
            // Kestrel answers 100-continue when the endpoint starts reading the body, so the client knows the
            // request is being read; it then sends 2 of the 1,000 bytes it declared and resets the connection.
            await client.SendAsync(RawHttpConnection.PredictHead(contentLength: 1000, "Expect: 100-continue\r\n"));
            Assert.That(await client.ReadLineAsync(), Is.EqualTo("HTTP/1.1 100 Continue"));
            await client.SendAsync("{}");
            client.Reset();
        }

        await AssertLogged499Async(server, "Client disconnected while reading request.");
    }

    [Test]
    public Task ClientLeavesWhileTheModelRuns_Is499SkippingPredict() =>
        // A model that honours the request's token.
        ClientLeavesDuringFirstPredictAsync(
            cancellationToken => Task.Delay(Timeout.Infinite, cancellationToken),
            "Client disconnected, skipping `predict`.");

    [Test]
    public Task ClientLeavesBeforeTheAnswerIsWritten_Is499NotAnError() =>
        // A model that ignores the token and answers once the client has gone: the server then fails to write.
        ClientLeavesDuringFirstPredictAsync(
            async cancellationToken =>
            {
                var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                await using (cancellationToken.Register(() => left.TrySetResult()))
                {
                    await left.Task.WaitAsync(TimeSpan.FromSeconds(10));
                }
            },
            "Client disconnected before the response was written.");

    /// <summary>
    /// The first predict runs <paramref name="firstPredict"/> with its request's token (later ones echo at once);
    /// its client resets the connection once the model has it, and the server must log and count
    /// <paramref name="reason"/> as a 499.
    /// </summary>
    private static async Task ClientLeavesDuringFirstPredictAsync(Func<CancellationToken, Task> firstPredict, string reason)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, cancellationToken) =>
        {
            if (entered.TrySetResult())
            {
                await firstPredict(cancellationToken);
            }

            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        using (var client = await RawHttpConnection.OpenAsync(server))
        {
            await client.SendAsync(RawHttpConnection.PredictHead(contentLength: 2) + "{}");
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            client.Reset();
        }

        await AssertLogged499Async(server, reason);
    }

    private static async Task AssertLogged499Async(TestTrussServer server, string reason)
    {
        Assert.That(await server.Log.WaitForAsync(
                line => line.Contains("Handled request: POST /v1/models/model:predict HTTP/1.1 ", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10)),
            Is.True, "the request finished");
        var scrape = await PrometheusScrape.GetAsync(server.Client);
        var lines = server.Log.Lines;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines, Has.Some.Contains("\"levelname\":\"INFO\"").And.Contains($"Request rejected with 499: {reason}"));
            Assert.That(lines, Has.Some.Contains("Handled request: POST /v1/models/model:predict HTTP/1.1 499 in "),
                "the access log has the status the request ended with");
            Assert.That(lines, Has.None.Contains("\"levelname\":\"ERROR\""), "a client leaving is not a server error");
            Assert.That(lines, Has.None.Contains("   at "), "no stack trace");
            Assert.That(scrape[Predict499], Is.EqualTo(1));
            Assert.That(scrape[Predict200], Is.Zero, "the request is not counted as answered");
        }

        var after = await server.Client.PostAsync("/v1/models/model:predict", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK), "still serving");
    }
}
