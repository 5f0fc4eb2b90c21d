using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Truss.Server.Configuration;
using Truss.Server.Hosting;
using Truss.Server.Serialization;

namespace Truss.Server.Http;

/// <summary>
/// The one place where an exception becomes an HTTP answer, mirroring truss's <c>_truss_common/errors.py</c>:
/// a status, the body <c>{"error": message}</c>, and the headers <c>X-BASETEN-ERROR-SOURCE: 04</c> and
/// <c>X-BASETEN-ERROR-CODE</c> (700 = the caller's fault, 600 = the model's, 500 = unexpected).
/// Details of unexpected failures go to the log only; no stack trace or internal message reaches a client.
/// </summary>
public static class TrussErrors
{
    /// <summary>The message truss sends for any exception raised by model code.</summary>
    public const string ModelErrorMessage = "Internal Server Error (in model/chainlet).";

    /// <summary>Error code for the caller's mistakes.</summary>
    public const int ClientErrorCode = 700;

    /// <summary>Error code for model (downstream) failures.</summary>
    public const int ModelErrorCode = 600;

    /// <summary>Error code for unexpected server failures.</summary>
    public const int UnexpectedErrorCode = 500;

    private static readonly JsonWriterOptions ErrorJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>How one exception is answered.</summary>
    public readonly record struct ErrorAnswer(int StatusCode, int ErrorCode, string Message, LogLevel LogLevel);

    /// <summary>The mapping table.</summary>
    public static ErrorAnswer Map(Exception exception) => exception switch
    {
        InvalidPayloadException e => new(400, ClientErrorCode, e.Message, LogLevel.Information),
        RequestBodyTooLargeException e => new(413, ClientErrorCode, e.Message, LogLevel.Information),
        ModelInputException e => new(e.StatusCode, ClientErrorCode, e.Message, LogLevel.Information),
        ModelNotReadyException e => new(503, ModelErrorCode, e.Message, LogLevel.Information),
        ModelMethodNotImplementedException e => new(404, ClientErrorCode, e.Message, LogLevel.Information),
        ServerOverloadedException e => new(503, ModelErrorCode, e.Message, LogLevel.Warning),
        ClientDisconnectedException e => new(499, ModelErrorCode, e.Message, LogLevel.Information),
        ModelHttpException e => new(e.StatusCode, ModelErrorCode, e.Message, LogLevel.Warning),
        ResultSerializationException e => new(500, UnexpectedErrorCode, "Unhandled exception: " + e.Message, LogLevel.Error),
        _ => new(500, ModelErrorCode, ModelErrorMessage, LogLevel.Error),
    };

    /// <summary>
    /// Logs <paramref name="exception"/> at its level and writes its answer, unless the response has started. With
    /// <paramref name="bodyNeverSent"/> (the request declared a body the client holds back until 100-continue) the
    /// answer closes the connection, which cannot carry another request while that body is owed.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, Exception exception, ILogger logger, bool bodyNeverSent = false)
    {
        var answer = Map(exception);
        if (answer.LogLevel >= LogLevel.Error)
        {
            logger.Log(answer.LogLevel, exception, "Exception while serving {Path}: {Reason}",
                context.Request.Path.Value, exception.Message);
        }
        else
        {
            logger.Log(answer.LogLevel, "Request rejected with {StatusCode}: {Reason}", answer.StatusCode, answer.Message);
        }

        if (context.Response.HasStarted)
        {
            return;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            // Nobody reads this answer, but the access log and http_requests_total read the status: without this a
            // request whose client left before the answer would be counted as the 200 it never got.
            context.Response.StatusCode = answer.StatusCode;
            return;
        }

        // The rest of an oversized body was never read: closing tells the client not to reuse a connection that
        // still carries it.
        await WriteErrorAsync(context, answer.StatusCode, answer.ErrorCode, answer.Message,
            closeConnection: bodyNeverSent || exception is RequestBodyTooLargeException { BodyWasDrained: false }).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes <c>{"error": message}</c> with the Baseten error headers; with
    /// <see cref="ServerOptions.ErrorEnvelope"/> (read from the request's services) also <c>status</c>, <c>data</c>
    /// and <c>message</c>.
    /// </summary>
    public static Task WriteErrorAsync(HttpContext context, int statusCode, int errorCode, string message, bool closeConnection = false)
    {
        var response = context.Response;
        response.Clear();
        if (closeConnection)
        {
            response.Headers.Connection = "close";
        }

        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        response.Headers["X-BASETEN-ERROR-SOURCE"] = "04";
        response.Headers["X-BASETEN-ERROR-CODE"] = errorCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var writer = new Utf8JsonWriter(response.BodyWriter, ErrorJson))
        {
            writer.WriteStartObject();
            writer.WriteString("error", message);
            if (context.RequestServices?.GetService(typeof(ServerOptions)) is ServerOptions { ErrorEnvelope: true })
            {
                writer.WriteString("status", "error");
                writer.WriteNull("data");
                writer.WriteString("message", message);
            }

            writer.WriteEndObject();
        }

        return response.BodyWriter.FlushAsync().AsTask();
    }
}
