namespace Truss.Server.Configuration;

/// <summary>
/// The server's own settings, read from <c>model_metadata.server</c> in config.yaml. They live under
/// <c>model_metadata</c> because that is the one free-form section: unknown keys anywhere else make
/// <c>truss push</c> fail. Every value is validated here, once, at startup.
/// </summary>
public sealed class ServerOptions
{
    /// <summary>Defaults for every setting (what an absent <c>model_metadata.server</c> gives).</summary>
    public ServerOptions()
        : this(ConfigSection.Empty("model_metadata.server"))
    {
    }

    internal ServerOptions(ConfigSection section)
    {
        Host = section.GetString("host", "0.0.0.0")!;
        MaxRequestBodyBytes = section.GetInt64("max_request_body_bytes", 100L * 1024 * 1024, min: 1);
        MaxQueuedPredictions = section.GetInt32("max_queued_predictions", 256, min: 0);
        MaxBufferedBodyBytes = section.GetInt64("max_buffered_body_bytes", Math.Max(256L * 1024 * 1024, MaxRequestBodyBytes), min: 1);
        if (MaxBufferedBodyBytes < MaxRequestBodyBytes)
        {
            throw section.Error("max_buffered_body_bytes", "must be at least max_request_body_bytes, or a largest request could never be served");
        }

        ShutdownTimeout = TimeSpan.FromSeconds(section.GetDouble("shutdown_timeout_seconds", 30, min: 0, max: 86_400));
        LoadRetries = section.GetInt32("load_retries", 1, min: 0, max: 100);
        LogRequests = section.GetBoolean("log_requests", true);
        ErrorEnvelope = section.GetBoolean("error_envelope", true);
        Metrics = section.GetBoolean("metrics", true);
        MetricsProcess = section.GetBoolean("metrics_process", true);
    }

    /// <summary><c>host</c>: address Kestrel binds (default <c>0.0.0.0</c>; the port comes from <c>INFERENCE_SERVER_PORT</c>).</summary>
    public string Host { get; init; }

    /// <summary>
    /// <c>max_request_body_bytes</c>: larger bodies get 413 (default 100 MiB, what Baseten's proxy allows since
    /// truss PR #2608).
    /// </summary>
    public long MaxRequestBodyBytes { get; init; }

    /// <summary>
    /// <c>max_queued_predictions</c>: predict requests allowed to wait for a free <c>predict_concurrency</c> slot
    /// (default 256). One more is answered 503 at once instead of queueing without bound, which is what truss does;
    /// 0 rejects whenever every slot is busy.
    /// </summary>
    public int MaxQueuedPredictions { get; init; }

    /// <summary>
    /// <c>max_buffered_body_bytes</c>: request bytes all predict requests together may hold in memory (default
    /// 256 MiB, at least <see cref="MaxRequestBodyBytes"/>); a request that does not fit gets 503 at once.
    /// </summary>
    public long MaxBufferedBodyBytes { get; init; }

    /// <summary><c>shutdown_timeout_seconds</c>: on SIGTERM, how long in-flight requests may finish (default 30 s).</summary>
    public TimeSpan ShutdownTimeout { get; init; }

    /// <summary>
    /// <c>load_retries</c>: extra attempts after a failed <c>Load()</c>, 1 s apart (default 1, as truss's
    /// <c>NUM_LOAD_RETRIES_TRUSS</c>; that environment variable overrides it).
    /// </summary>
    public int LoadRetries { get; init; }

    /// <summary><c>log_requests</c>: one access-log line per non-probe request (default true).</summary>
    public bool LogRequests { get; init; }

    /// <summary>
    /// <c>error_envelope</c>: error bodies also carry <c>"status": "error"</c>, <c>"data": null</c> and
    /// <c>"message"</c> beside truss's <c>"error"</c> (default true), so clients of envelope-style models such as the
    /// CLIP truss read failures the way they read successes.
    /// </summary>
    public bool ErrorEnvelope { get; init; }

    /// <summary>
    /// <c>metrics</c>: serve Prometheus metrics on <c>GET /metrics</c> and <c>GET /metrics/</c> (default true). False
    /// removes the route (404) and every measurement the server would make for it.
    /// </summary>
    public bool Metrics { get; init; }

    /// <summary>
    /// <c>metrics_process</c>: with <see cref="Metrics"/>, also export the process's CPU, memory, thread and GC series
    /// (<c>process_*</c>, <c>dotnet_*</c>; default true). Truss's Python server drops its default collectors; a .NET
    /// server's operator usually wants them, and they are read only when scraped.
    /// </summary>
    public bool MetricsProcess { get; init; }
}
