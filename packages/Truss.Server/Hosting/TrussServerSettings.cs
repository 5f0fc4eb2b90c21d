using Truss.Server.Configuration;

namespace Truss.Server.Hosting;

/// <summary>How to run one server: the config plus what the command line and environment decide.</summary>
public sealed record TrussServerSettings(TrussConfig Config)
{
    /// <summary>TCP port (0 picks a free one; tests use that). Default: <c>INFERENCE_SERVER_PORT</c> or 8080.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Bind address; null uses <c>model_metadata.server.host</c>.</summary>
    public string? Host { get; init; }

    /// <summary>Where secret files are mounted.</summary>
    public string SecretsDirectory { get; init; } = TrussSecrets.DefaultDirectory;

    /// <summary>Environment lookup (tests substitute their own).</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>Replaces console logging (tests capture log lines this way).</summary>
    public TextWriter? LogOutput { get; init; }

    /// <summary>Pause between load attempts (truss waits 1 s).</summary>
    public TimeSpan LoadRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The port from <c>INFERENCE_SERVER_PORT</c>, as truss's <c>main.py</c> reads it (default 8080).</summary>
    public static int PortFromEnvironment(Func<string, string?> environment)
    {
        var text = environment("INFERENCE_SERVER_PORT");
        if (string.IsNullOrEmpty(text))
        {
            return 8080;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new TrussConfigException($"INFERENCE_SERVER_PORT must be a port number between 1 and 65535, got '{text}'");
    }
}
