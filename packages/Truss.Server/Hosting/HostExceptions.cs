namespace Truss.Server.Hosting;

/// <summary>The model has not finished loading (or failed to): truss's 503 "Model with name model is not ready."</summary>
public sealed class ModelNotReadyException() : Exception("Model with name model is not ready.");

/// <summary>Every predict slot is busy and the wait queue is full: answered 503 at once.</summary>
public sealed class ServerOverloadedException(string message) : Exception(message);

/// <summary>The request body exceeds <c>model_metadata.server.max_request_body_bytes</c>: answered 413.</summary>
public sealed class RequestBodyTooLargeException(long limitBytes)
    : Exception($"Request body is larger than the limit of {limitBytes} bytes (model_metadata.server.max_request_body_bytes).")
{
    /// <summary>True when the rest of the body was read and discarded, so the connection can be reused.</summary>
    public bool BodyWasDrained { get; init; }
}

/// <summary>The client went away before the server could answer: answered 499 (which nobody reads).</summary>
public sealed class ClientDisconnectedException(string message, Exception? innerException = null)
    : Exception(message, innerException);

/// <summary>
/// A route called a model method the model does not have (an OpenAI-style route such as <c>/v1/embeddings</c>):
/// truss's 404 "`embeddings` must only be called if model has it.", error code 700.
/// </summary>
public sealed class ModelMethodNotImplementedException(string methodName)
    : Exception($"`{methodName}` must only be called if model has it.");
