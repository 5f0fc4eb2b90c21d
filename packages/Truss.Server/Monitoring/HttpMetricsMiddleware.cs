using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Prometheus;

namespace Truss.Server.Monitoring;

/// <summary>
/// Counts and times every request except scrapes into <c>http_requests_total</c> and
/// <c>http_request_duration_seconds</c>, labelled by method, route template and status code.
/// </summary>
/// <remarks>
/// <para>
/// Every label value comes from a bounded set, whatever clients send: the route is the matched endpoint's template
/// (<c>/v1/models/{name}</c>, never the raw path) or <see cref="UnmatchedRoute"/>; the method is one of the nine
/// standard ones or <c>OTHER</c>; the code is the server's own status.
/// </para>
/// <para>
/// Own middleware rather than prometheus-net's <c>UseHttpMetrics</c>, which labels with the raw request method (so
/// invented methods add series without bound) and allocates label arrays and route data on every request. Here a
/// request's two series are found in a lock-free cache keyed by (route, method, code), all of them strings the
/// framework already holds, so a request allocates nothing once its combination has been seen.
/// </para>
/// </remarks>
public sealed class HttpMetricsMiddleware(RequestDelegate next, ServerMetrics metrics)
{
    /// <summary>The route label of requests no endpoint matched (404s, and 405s answered by routing).</summary>
    public const string UnmatchedRoute = "unmatched";

    /// <summary>The method label of anything but the nine standard methods.</summary>
    public const string OtherMethod = "OTHER";

    private readonly ConcurrentDictionary<(string Route, string Method, int Code), (Counter.Child Requests, Histogram.Child Duration)> _series = new();

    public Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        Task pending;
        try
        {
            pending = next(context);
        }
        catch
        {
            RecordFailure(context, started);
            throw;
        }

        // Most routes complete synchronously: no async state machine for them.
        if (pending.IsCompletedSuccessfully)
        {
            Record(context, started, context.Response.StatusCode);
            return Task.CompletedTask;
        }

        return AwaitAsync(pending, context, started);
    }

    /// <summary>The method label: the canonical name of a standard method, else <see cref="OtherMethod"/>.</summary>
    internal static string MethodLabel(string method) =>
        HttpMethods.IsGet(method) ? HttpMethods.Get
        : HttpMethods.IsPost(method) ? HttpMethods.Post
        : HttpMethods.IsHead(method) ? HttpMethods.Head
        : HttpMethods.IsPut(method) ? HttpMethods.Put
        : HttpMethods.IsDelete(method) ? HttpMethods.Delete
        : HttpMethods.IsPatch(method) ? HttpMethods.Patch
        : HttpMethods.IsOptions(method) ? HttpMethods.Options
        : HttpMethods.IsTrace(method) ? HttpMethods.Trace
        : HttpMethods.IsConnect(method) ? HttpMethods.Connect
        : OtherMethod;

    private async Task AwaitAsync(Task pending, HttpContext context, long started)
    {
        try
        {
            await pending;
        }
        catch
        {
            RecordFailure(context, started);
            throw;
        }

        Record(context, started, context.Response.StatusCode);
    }

    /// <summary>Kestrel answers 500 for an exception that escapes before the response has started.</summary>
    private void RecordFailure(HttpContext context, long started) =>
        Record(context, started, context.Response.HasStarted ? context.Response.StatusCode : StatusCodes.Status500InternalServerError);

    private void Record(HttpContext context, long started, int statusCode)
    {
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? UnmatchedRoute;
        if (string.Equals(route, ServerMetrics.Route, StringComparison.Ordinal))
        {
            return; // scrapes would mostly count themselves
        }

        var key = (route, MethodLabel(context.Request.Method), statusCode);
        if (!_series.TryGetValue(key, out var series))
        {
            series = _series.GetOrAdd(key, static (k, m) =>
            {
                var code = k.Code.ToString(CultureInfo.InvariantCulture);
                return (m.HttpRequests.WithLabels(k.Method, k.Route, code), m.HttpRequestDuration.WithLabels(k.Method, k.Route, code));
            }, metrics);
        }

        series.Requests.Inc();
        series.Duration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}
