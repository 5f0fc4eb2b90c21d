namespace Truss.Server;

/// <summary>
/// The caller sent something the model cannot use (missing field, wrong type, bad image), or pointed it at an image
/// URL that could not be fetched. Answered with the given status (4xx; 502 or 504 for an unreachable or slow URL the
/// caller supplied) and the message as-is, with error code 700 (client error), so the message must never carry
/// internals.
/// </summary>
public class ModelInputException : Exception
{
    /// <summary>Creates a caller error with HTTP status <paramref name="statusCode"/> (default 400).</summary>
    public ModelInputException(string message, int statusCode = 400, Exception? innerException = null)
        : base(message, innerException)
    {
        if (statusCode is (< 400 or > 499) and not (502 or 504))
        {
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "A caller error is 4xx, 502 or 504.");
        }

        StatusCode = statusCode;
    }

    /// <summary>The status to answer with.</summary>
    public int StatusCode { get; }
}

/// <summary>
/// The model answers with an explicit status and detail (Truss's user-raised <c>HTTPException</c>):
/// error code 600, message as given.
/// </summary>
public sealed class ModelHttpException(int statusCode, string detail, Exception? innerException = null)
    : Exception(detail, innerException)
{
    /// <summary>The status to answer with.</summary>
    public int StatusCode { get; } = statusCode;
}

/// <summary>A secret was asked for that is not declared in config.yaml or has no value.</summary>
public sealed class SecretNotFoundException(string message) : Exception(message);
