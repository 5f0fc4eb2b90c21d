using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Serilog.Context;
using Truss.Server.Configuration;
using Truss.Server.Hosting;
using Truss.Server.Serialization;

namespace Truss.Server.Http;

/// <summary>
/// The Truss inference routes. Paths are literal as in truss; the model-name segment is ignored
/// (<c>/v1/models/anything:predict</c> works), and <c>GET /v1/models/model:predict</c> is readiness, because
/// truss's <c>{model_name}</c> matches <c>model:predict</c> too (<c>truss image run</c> polls exactly that).
/// </summary>
public static class TrussEndpoints
{
    /// <summary>The OpenAI-style routes and the model method each calls (truss: 404 when the model lacks it).</summary>
    private static readonly (string Path, ModelMethod Method)[] OpenAiRoutes =
    [
        ("/v1/chat/completions", ModelMethod.ChatCompletions),
        ("/v1/completions", ModelMethod.Completions),
        ("/v1/embeddings", ModelMethod.Embeddings),
        ("/v1/messages", ModelMethod.Messages),
        ("/v1/responses", ModelMethod.Responses),
    ];

    /// <summary>Maps every route of the contract onto <paramref name="app"/>.</summary>
    public static void MapTrussEndpoints(this IEndpointRouteBuilder app, ModelHost host, ServerOptions options, ILogger logger)
    {
        var budget = new BufferedBytesBudget(options.MaxBufferedBodyBytes);
        app.MapGet("/", static context => WriteRawJsonAsync(context, "true"u8));
        app.MapGet("/v1/models/{name}", context => ReadinessAsync(context, host.IsReady(consultModelHealth: true)));
        app.MapGet("/v1/models/{name}/loaded", context => ReadinessAsync(context, host.IsReady(consultModelHealth: false)));
        app.MapGet("/ping", context => ReadinessAsync(context, host.IsReady(consultModelHealth: false)));
        app.MapGet("/v1/models/{name}/schema", context => SchemaAsync(context, host));

        app.MapPost("/v1/models/{name}", context =>
        {
            var name = (string)context.Request.RouteValues["name"]!;
            return name.EndsWith(":predict", StringComparison.Ordinal) || name.EndsWith(":predict_binary", StringComparison.Ordinal)
                ? ServeAsync(context, ModelMethod.Predict, host, options, budget, logger)
                : MethodNotAllowedAsync(context, "GET");
        });
        app.MapPost("/invocations", context => ServeAsync(context, ModelMethod.Predict, host, options, budget, logger));

        foreach (var (path, method) in OpenAiRoutes)
        {
            app.MapPost(path, context => ServeAsync(context, method, host, options, budget, logger));
        }
    }

    /// <summary>Writes <c>{"detail": ...}</c> for 404 and 405 answered by routing itself (FastAPI's default bodies).</summary>
    public static Task WriteRoutingErrorAsync(HttpContext context)
    {
        var detail = context.Response.StatusCode switch
        {
            404 => """{"detail":"Not Found"}"""u8.ToArray(),
            405 => """{"detail":"Method Not Allowed"}"""u8.ToArray(),
            _ => null,
        };
        return detail is null ? Task.CompletedTask : WriteRawJsonAsync(context, detail, context.Response.StatusCode);
    }

    private static Task ReadinessAsync(HttpContext context, bool ready) =>
        ready
            ? WriteRawJsonAsync(context, "{}"u8)
            : TrussErrors.WriteErrorAsync(context, 503, TrussErrors.ModelErrorCode, new ModelNotReadyException().Message);

    private static Task SchemaAsync(HttpContext context, ModelHost host) =>
        host.State == ModelState.Ready
            ? TrussErrors.WriteErrorAsync(context, 404, TrussErrors.ModelErrorCode, "No schema found")
            : TrussErrors.WriteErrorAsync(context, 503, TrussErrors.ModelErrorCode, "Schema not available, please try again later.");

    private static Task MethodNotAllowedAsync(HttpContext context, string allow)
    {
        context.Response.Headers.Allow = allow;
        return WriteRawJsonAsync(context, """{"detail":"Method Not Allowed"}"""u8, 405);
    }

    /// <summary>
    /// The one pipeline of every route that calls the model (truss's <c>_execute_request</c>): read the body within
    /// its limits, 503 until loaded, parse JSON or msgpack, call <paramref name="method"/> under the predict gate
    /// (404 when the model lacks it), write the result in the request's format; any failure goes through
    /// <see cref="TrussErrors"/>.
    /// </summary>
    private static async Task ServeAsync(
        HttpContext context, ModelMethod method, ModelHost host, ServerOptions options, BufferedBytesBudget budget, ILogger logger)
    {
        var binary = IsBinary(context.Request.ContentType);
        var bodyRead = false;
        try
        {
            object? result;

            // truss answers 503 before parsing, whatever the body, once nginx has let the body through (over its
            // size limit nginx answers 413 first). The same answer given before reading a declared body within the
            // limit saves a client that waits for 100-continue the upload; the check after reading stays for chunked
            // bodies, whose size is known only then, and for a model that stops being ready meanwhile.
            if (context.Request.ContentLength <= options.MaxRequestBodyBytes && host.State != ModelState.Ready)
            {
                throw new ModelNotReadyException();
            }

            // Known lengths are reserved before reading; chunked bodies once their length is known.
            using var reservation = budget.Reserve(context.Request.ContentLength ?? 0);
            using (var body = await RequestBody.ReadAsync(context.Request, options.MaxRequestBodyBytes, context.RequestAborted))
            using (context.Request.ContentLength is null ? budget.Reserve(body.Length) : null)
            {
                bodyRead = true;
                if (host.State != ModelState.Ready)
                {
                    throw new ModelNotReadyException();
                }

                var input = binary ? MsgPackPayload.Read(body.Memory) : JsonPayloadReader.Read(body.Memory, utf8TextMinBytes: host.Utf8TextMinBytes);
                try
                {
                    result = await host.InvokeAsync(method, input, context.RequestAborted);
                }
                catch (OperationCanceledException e) when (context.RequestAborted.IsCancellationRequested)
                {
                    throw new ClientDisconnectedException($"Client disconnected, skipping `{method.Name}`.", e);
                }
            }

            try
            {
                await WriteResultAsync(context, result, binary);
            }
            catch (OperationCanceledException e) when (context.RequestAborted.IsCancellationRequested)
            {
                // A client that leaves while its answer is written is as ordinary as one that leaves earlier: a 499
                // at Information, not an unexpected 500 with a stack trace in the log.
                throw new ClientDisconnectedException("Client disconnected before the response was written.", e);
            }
        }
        catch (Exception e)
        {
            // A client waiting for 100-continue that gets a final answer first never sends its body, but Kestrel
            // would still expect it and read the client's next request as body bytes: close the connection instead.
            var bodyNeverSent = !bodyRead && context.Request.ContentLength != 0 && RequestBody.ExpectsContinue(context.Request);
            await TrussErrors.WriteAsync(context, e, logger, bodyNeverSent);
        }
    }

    private static async Task WriteResultAsync(HttpContext context, object? result, bool binary)
    {
        // Serialize into a buffer first (answers are small): a serialization error must still become a clean 500.
        var buffer = new ArrayBufferWriter<byte>(4096);
        if (!binary)
        {
            PythonJsonWriter.Write(buffer, result);
        }
        else if (result is byte[] raw)
        {
            buffer.Write(raw);
        }
        else
        {
            MsgPackPayload.Write(buffer, result);
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = binary ? "application/octet-stream" : "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.BodyWriter.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>Binary (msgpack) mode: the media type, parameters dropped, is <c>application/octet-stream</c>.</summary>
    internal static bool IsBinary(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';');
        var mediaType = (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim();
        return mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase);
    }

    private static Task WriteRawJsonAsync(HttpContext context, ReadOnlySpan<byte> json, int statusCode = 200)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        return context.Response.Body.WriteAsync(json.ToArray()).AsTask();
    }
}

/// <summary>
/// Puts <c>x-baseten-request-id</c> (and <c>x-baseten-chain-request-id</c>) into every log line of the request,
/// and writes truss's access-log line, except for probes and metrics, which would drown the log.
/// </summary>
public sealed class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger, ServerOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = context.Request.Headers["x-baseten-request-id"].ToString();
        var chainRequestId = context.Request.Headers["x-baseten-chain-request-id"].ToString();
        using var requestIdProperty = requestId.Length > 0 ? LogContext.PushProperty("request_id", requestId) : null;
        using var chainIdProperty = chainRequestId.Length > 0 ? LogContext.PushProperty("chain_request_id", chainRequestId) : null;
        var started = Stopwatch.GetTimestamp();
        await next(context);
        if (options.LogRequests && !IsQuiet(context.Request))
        {
            logger.LogInformation(
                "Handled request: {Method} {Path} {Protocol} {StatusCode} in {ElapsedMs:0.0} ms",
                context.Request.Method, context.Request.Path.Value, context.Request.Protocol, context.Response.StatusCode,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private static bool IsQuiet(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        if (path.Contains("/metrics", StringComparison.Ordinal))
        {
            return true;
        }

        return HttpMethods.IsGet(request.Method) &&
               (path is "/" or "/ping" ||
                (path.StartsWith("/v1/models/", StringComparison.Ordinal) &&
                 (path.IndexOf('/', "/v1/models/".Length) < 0 || path.EndsWith("/loaded", StringComparison.Ordinal))));
    }
}
