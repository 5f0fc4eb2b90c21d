using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// One loopback TCP connection to a test server, written and read byte by byte, for what HttpClient cannot do:
/// send half a body, wait for <c>100 Continue</c>, or reset the connection mid-request.
/// </summary>
public sealed class RawHttpConnection : IDisposable
{
    private readonly TcpClient _client;

    private RawHttpConnection(TcpClient client) => _client = client;

    public static async Task<RawHttpConnection> OpenAsync(TestTrussServer server)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.Server.BaseAddress.Port);
        return new RawHttpConnection(client);
    }

    /// <summary>A predict request's head (request line and headers, then the blank line).</summary>
    public static string PredictHead(long contentLength, string extraHeaders = "") =>
        "POST /v1/models/model:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        $"Content-Length: {contentLength}\r\n{extraHeaders}\r\n";

    public async Task SendAsync(string text) => await _client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Reads one CRLF-terminated line (at most 10 s); null when the server closed the connection first.</summary>
    public async Task<string?> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await _client.GetStream().ReadAsync(one, timeout.Token) == 0)
            {
                return line.Length > 0 ? line.ToString() : null;
            }

            if (one[0] == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)one[0]);
        }
    }

    /// <summary>Reads a response's status line and headers, up to the blank line.</summary>
    public async Task<(string StatusLine, IReadOnlyList<string> Headers)> ReadHeadAsync()
    {
        var status = await ReadLineAsync() ?? throw new IOException("The server closed the connection before answering.");
        var headers = new List<string>();
        while (await ReadLineAsync() is { Length: > 0 } header)
        {
            headers.Add(header);
        }

        return (status, headers);
    }

    /// <summary>Closes with a reset (linger 0), as a client that is killed or times out does.</summary>
    public void Reset()
    {
        _client.LingerState = new LingerOption(enable: true, seconds: 0);
        _client.Close();
    }

    public void Dispose() => _client.Dispose();
}
