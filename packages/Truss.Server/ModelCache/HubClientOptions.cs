namespace Truss.Server.ModelCache;

/// <summary>
/// Where the Hugging Face Hub is and how to talk to it: endpoint, token, timeouts and retries. Every timeout is
/// bounded so that a dead network fails a download instead of hanging a server's startup forever.
/// </summary>
public sealed record HubClientOptions
{
    /// <summary>The public Hub.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Environment variable that points at another Hub (a mirror, or a fake one in tests).</summary>
    public const string EndpointVariable = "HF_ENDPOINT";

    /// <summary>Environment variable holding the access token.</summary>
    public const string TokenVariable = "HF_TOKEN";

    /// <summary>The Hub's base address (no trailing slash needed).</summary>
    public Uri Endpoint { get; init; } = new(DefaultEndpoint);

    /// <summary>Access token sent as <c>Authorization: Bearer</c> to the endpoint's host (never to redirect targets elsewhere).</summary>
    public string? Token { get; init; }

    /// <summary>Time to open a TCP (and TLS) connection.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time from sending a request to receiving the response headers.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for the next chunk of a response body: a stalled transfer fails (and is resumed) after this.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Attempts per request or file for transient failures (5xx, 429, connection and I/O errors, timeouts).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Pause before the first retry; doubled before each further one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Options from the environment, as huggingface_hub reads it: <c>HF_ENDPOINT</c> (default
    /// <c>https://huggingface.co</c>) and the token from <paramref name="token"/> when given, else <c>HF_TOKEN</c>,
    /// else <c>HUGGING_FACE_HUB_TOKEN</c>, else the file <c>huggingface-cli login</c> writes
    /// (<c>$HF_TOKEN_PATH</c>, else <c>$HF_HOME/token</c>, else <c>~/.cache/huggingface/token</c>).
    /// </summary>
    /// <exception cref="HubException"><c>HF_ENDPOINT</c> is not an http(s) URL.</exception>
    public static HubClientOptions FromEnvironment(Func<string, string?> environment, string? token = null)
    {
        var endpointText = NonEmpty(environment(EndpointVariable)) ?? DefaultEndpoint;
        if (!Uri.TryCreate(endpointText.TrimEnd('/'), UriKind.Absolute, out var endpoint) ||
            endpoint.Scheme is not ("http" or "https"))
        {
            throw new HubException(
                HubErrorKind.InvalidArgument, $"{EndpointVariable} must be an http(s) URL, got '{endpointText}'");
        }

        return new HubClientOptions
        {
            Endpoint = endpoint,
            Token = NonEmpty(token) ?? NonEmpty(environment(TokenVariable)) ??
                    NonEmpty(environment("HUGGING_FACE_HUB_TOKEN")) ?? ReadTokenFile(environment),
        };
    }

    private static string? ReadTokenFile(Func<string, string?> environment)
    {
        var path = NonEmpty(environment("HF_TOKEN_PATH"));
        if (path is null)
        {
            var home = NonEmpty(environment("HF_HOME"));
            if (home is null)
            {
                var cache = NonEmpty(environment("XDG_CACHE_HOME")) ??
                            (NonEmpty(environment("HOME")) is { } userHome ? Path.Combine(userHome, ".cache") : null);
                home = cache is null ? null : Path.Combine(cache, "huggingface");
            }

            path = home is null ? null : Path.Combine(home, "token");
        }

        try
        {
            return path is not null && File.Exists(path) ? NonEmpty(File.ReadAllText(path).Trim()) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An unreadable token file is the same as none: public repositories still work.
            return null;
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
