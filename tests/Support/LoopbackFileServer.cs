using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// A tiny HTTP server on 127.0.0.1 that serves in-memory files, for <c>image_url</c> tests. Tests never send traffic
/// anywhere but loopback. Routes can also be made to answer with a status, stall, or cut the body short.
/// </summary>
public sealed class LoopbackFileServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Func<HttpContext, Task>> _routes = new();
    private readonly WebApplication _app;

    private LoopbackFileServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<LoopbackFileServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new LoopbackFileServer(app);
        app.Run(context => server._routes.TryGetValue(context.Request.Path.Value ?? "", out var handler)
            ? handler(context)
            : WriteStatusAsync(context, 404));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address);
        return server;
    }

    /// <summary>Serves <paramref name="body"/> at <paramref name="path"/>; returns its absolute URL.</summary>
    public string Serve(string path, byte[] body, string contentType = "image/png")
    {
        _routes[path] = async context =>
        {
            context.Response.ContentType = contentType;
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        };
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>Answers <paramref name="status"/> at <paramref name="path"/>.</summary>
    public string ServeStatus(string path, int status)
    {
        _routes[path] = context => WriteStatusAsync(context, status);
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>Answers 503 to the first <paramref name="failures"/> requests, then serves <paramref name="body"/>.</summary>
    public string ServeFlaky(string path, int failures, byte[] body, string contentType = "image/png")
    {
        var remaining = failures;
        _routes[path] = async context =>
        {
            if (Interlocked.Decrement(ref remaining) >= 0)
            {
                context.Response.StatusCode = 503;
                return;
            }

            context.Response.ContentType = contentType;
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        };
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>Answers a 302 redirect to <paramref name="location"/> at <paramref name="path"/>.</summary>
    public string ServeRedirect(string path, string location)
    {
        _routes[path] = context =>
        {
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = location;
            return Task.CompletedTask;
        };
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>
    /// Serves <paramref name="body"/> at <paramref name="path"/> only once <paramref name="release"/> completes; each
    /// request arriving completes <paramref name="requested"/> first, so a test knows a download is under way.
    /// </summary>
    public string ServeWhenReleased(string path, byte[] body, TaskCompletionSource requested, Task release, string contentType = "image/png")
    {
        _routes[path] = async context =>
        {
            requested.TrySetResult();
            await release.WaitAsync(context.RequestAborted);
            context.Response.ContentType = contentType;
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        };
        return new Uri(BaseAddress, path).ToString();
    }

    /// <summary>Sends headers, then never finishes the body (until the server stops).</summary>
    public string ServeStall(string path)
    {
        _routes[path] = async context =>
        {
            context.Response.ContentType = "image/png";
            context.Response.ContentLength = 1000;
            await context.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        };
        return new Uri(BaseAddress, path).ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static Task WriteStatusAsync(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }
}
