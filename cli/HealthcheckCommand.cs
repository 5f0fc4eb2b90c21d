using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Truss.Server.Configuration;
using Truss.Server.Hosting;

namespace Truss.Clip.Cli;

/// <summary>
/// <c>healthcheck [--port N] [--path /v1/models/model] [--timeout 3] [--host 127.0.0.1]</c>: one GET of the local
/// server's readiness route; exit code 0 when it answers 2xx, 1 otherwise (refused, timed out, 503 while loading or
/// shutting down). It is the container image's HEALTHCHECK, so the runtime image needs no curl.
/// </summary>
/// <remarks>
/// Docker reserves exit code 2, so a bad option value also exits 1. Only loopback addresses are accepted: the
/// command checks the server in its own container, never another host.
/// </remarks>
internal static class HealthcheckCommand
{
    /// <summary>The route probed by default: readiness, which answers 200 only once the model is loaded.</summary>
    public const string DefaultPath = "/v1/models/model";

    public const int HealthyExitCode = 0;

    public const int UnhealthyExitCode = 1;

    private const int MaxBodyCharactersShown = 300;

    /// <summary>The command; <paramref name="environment"/> supplies <c>INFERENCE_SERVER_PORT</c> when <c>--port</c> is absent.</summary>
    public static Command Create(Func<string, string?> environment)
    {
        var port = new Option<int?>("--port")
        {
            Description = "Port of the local server (default: $INFERENCE_SERVER_PORT, else 8080, as serve)",
        };
        var path = new Option<string>("--path")
        {
            Description = $"Route to GET (default {DefaultPath}, readiness; '/' is liveness)",
            DefaultValueFactory = _ => DefaultPath,
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds to wait for the whole answer (default 3)",
            DefaultValueFactory = _ => 3,
        };
        var host = new Option<string>("--host")
        {
            Description = "Loopback address of the server (default 127.0.0.1, which a 0.0.0.0 bind answers on)",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var command = new Command("healthcheck", "GET the local server's readiness route; exit 0 when it answers 2xx, else 1 (for container HEALTHCHECKs)")
        {
            port, path, timeout, host,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            Uri target;
            TimeSpan limit;
            try
            {
                target = Target(
                    parseResult.GetValue(host)!,
                    parseResult.GetValue(port) ?? TrussServerSettings.PortFromEnvironment(environment),
                    parseResult.GetValue(path)!);
                limit = Timeout(parseResult.GetValue(timeout));
            }
            catch (TrussConfigException e)
            {
                await error.WriteLineAsync("unhealthy: " + e.Message);
                return UnhealthyExitCode;
            }

            var (healthy, outcome) = await ProbeAsync(target, limit, cancellationToken).ConfigureAwait(false);
            var line = $"{(healthy ? "healthy" : "unhealthy")}: GET {target} -> {outcome}";
            await (healthy ? output : error).WriteLineAsync(line);
            return healthy ? HealthyExitCode : UnhealthyExitCode;
        });
        return command;
    }

    private static Uri Target(string host, int port, string path)
    {
        if (!IPAddress.TryParse(host.Trim('[', ']'), out var address) || !IPAddress.IsLoopback(address))
        {
            throw new TrussConfigException($"--host must be a loopback address such as 127.0.0.1 or ::1, got '{host}'");
        }

        if (port is < 1 or > 65535)
        {
            throw new TrussConfigException($"--port must be between 1 and 65535, got {port}");
        }

        if (!path.StartsWith('/') || path.StartsWith("//", StringComparison.Ordinal))
        {
            throw new TrussConfigException($"--path must be a route starting with '/', got '{path}'");
        }

        var authority = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        return new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{authority}:{port}{path}"));
    }

    private static TimeSpan Timeout(double seconds) =>
        seconds is > 0 and <= 60
            ? TimeSpan.FromSeconds(seconds)
            : throw new TrussConfigException($"--timeout must be more than 0 and at most 60 seconds, got {seconds.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>One GET bounded by <paramref name="limit"/> (connect and answer together); never throws.</summary>
    private static async Task<(bool Healthy, string Outcome)> ProbeAsync(Uri target, TimeSpan limit, CancellationToken cancellationToken)
    {
        // No proxy (a container's HTTP_PROXY must not capture a loopback probe) and no redirects.
        using var handler = new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, ConnectTimeout = limit };
        using var client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            using var response = await client.GetAsync(target, HttpCompletionOption.ResponseContentRead, deadline.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return (true, status.ToString(CultureInfo.InvariantCulture));
            }

            var body = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            return (false, $"{status} {Shorten(body)}".TrimEnd());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, $"no answer within {limit.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (HttpRequestException e)
        {
            return (false, e.InnerException is SocketException socket ? socket.Message : e.Message);
        }
    }

    private static string Shorten(string body)
    {
        var oneLine = body.ReplaceLineEndings(" ").Trim();
        return oneLine.Length <= MaxBodyCharactersShown ? oneLine : string.Concat(oneLine.AsSpan(0, MaxBodyCharactersShown), "…");
    }
}
