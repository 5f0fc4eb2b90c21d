namespace Truss.Server.Configuration;

/// <summary>config.yaml is unreadable or holds a bad value. The message names the file, the key and the line.</summary>
public sealed class TrussConfigException(string message, Exception? innerException = null)
    : Exception(message, innerException);
