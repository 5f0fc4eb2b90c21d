namespace Truss.Server.Serialization;

/// <summary>The request body is not a valid document in its wire format (answered 400, error code 700).</summary>
public sealed class InvalidPayloadException(string message, Exception? innerException = null)
    : Exception(message, innerException);
