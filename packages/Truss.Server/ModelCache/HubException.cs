namespace Truss.Server.ModelCache;

/// <summary>What went wrong talking to the Hub, so callers can choose an exit code or a retry policy.</summary>
public enum HubErrorKind
{
    /// <summary>A bad repository id, revision, file name or endpoint: the caller's input.</summary>
    InvalidArgument,

    /// <summary>HTTP 401/403: the repository is gated or private and no (or a refused) token was sent.</summary>
    Unauthorized,

    /// <summary>HTTP 404: the repository, revision or file does not exist.</summary>
    NotFound,

    /// <summary>The endpoint could not be reached (DNS, refused connection, timeouts), after retries.</summary>
    Unreachable,

    /// <summary>A downloaded file did not match the size or SHA-256 that the Hub lists.</summary>
    Integrity,

    /// <summary>Any other HTTP failure (for example repeated 5xx answers).</summary>
    Http,

    /// <summary>Writing to the local disk failed.</summary>
    LocalIo,
}

/// <summary>
/// A Hub listing or download failed. <see cref="Exception.Message"/> is one line written for the user (it names the
/// repository or file and what to do); <see cref="Kind"/> classifies it.
/// </summary>
public sealed class HubException : Exception
{
    /// <summary>Creates the exception.</summary>
    public HubException(HubErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>What went wrong.</summary>
    public HubErrorKind Kind { get; }
}
