using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Truss.Clip.Tests.model.ImageSources;

/// <summary>
/// A minimal HTTP/1.1 server on a loopback address (127.0.0.1, 127.0.0.2, ...; anything else is refused) that counts
/// TCP connections, not only requests, so a test can prove that the SSRF guard refused before any connect. Every
/// answer closes its connection. Routes answer a body or a redirect; unknown paths answer 404.
/// </summary>
public sealed class RecordingLoopbackServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly ConcurrentDictionary<string, (int Status, string? Location, byte[] Body, string ContentType)> _routes = new();
    private readonly ConcurrentQueue<string> _requestTargets = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _connections;

    private RecordingLoopbackServer(IPAddress address)
    {
        _listener = new TcpListener(address, 0);
        _listener.Start();
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BaseAddress = new Uri($"http://{address}:{port}/");
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The server's root URL, e.g. <c>http://127.0.0.2:41234/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>TCP connections accepted so far, plus one if a connection is waiting in the accept queue.</summary>
    public int Connections => Volatile.Read(ref _connections) + (_listener.Pending() ? 1 : 0);

    /// <summary>The request targets (paths) received, in order.</summary>
    public IReadOnlyCollection<string> RequestTargets => [.. _requestTargets];

    /// <summary>Starts a server on <paramref name="address"/>, which must be a loopback address.</summary>
    public static RecordingLoopbackServer Start(IPAddress address)
    {
        // The guard's tests may only ever send traffic to this machine.
        if (!IPAddress.IsLoopback(address))
        {
            throw new ArgumentException($"Test servers listen on loopback only, not {address}.", nameof(address));
        }

        return new RecordingLoopbackServer(address);
    }

    /// <summary>Serves <paramref name="body"/> at <paramref name="path"/>; returns its absolute URL.</summary>
    public string Serve(string path, byte[] body, string contentType = "image/png")
    {
        _routes[path] = (200, null, body, contentType);
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>Answers <paramref name="status"/> with <c>Location: <paramref name="location"/></c>; returns the URL.</summary>
    public string Redirect(string path, string location, int status = 302)
    {
        _routes[path] = (status, location, [], "text/plain");
        return new Uri(BaseAddress, path).ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop.ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            Interlocked.Increment(ref _connections);
            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var target = await ReadRequestTargetAsync(stream);
                _requestTargets.Enqueue(target);
                var (status, location, body, contentType) = _routes.TryGetValue(target, out var route)
                    ? route
                    : (404, null, [], "text/plain");
                var head = new StringBuilder()
                    .Append($"HTTP/1.1 {status} {(status == 200 ? "OK" : status == 404 ? "Not Found" : "Redirect")}\r\n")
                    .Append($"Content-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n");
                if (location is not null)
                {
                    head.Append($"Location: {location}\r\n");
                }

                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), _stop.Token);
                await stream.WriteAsync(body, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // The client went away or the server is stopping; nothing to answer.
            }
        }
    }

    private async Task<string> ReadRequestTargetAsync(NetworkStream stream)
    {
        // Only the request line matters; the headers are read to their end so the client sees a normal exchange.
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && received.Length < 64 * 1024)
        {
            var read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                break;
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        var requestLine = received.ToString().Split("\r\n")[0].Split(' ');
        return requestLine.Length >= 2 ? requestLine[1] : "";
    }
}
