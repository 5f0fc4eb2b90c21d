using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Truss.Server.Configuration;
using Truss.Server.Http;
using Truss.Server.Logging;
using Truss.Server.ModelCache;
using Truss.Server.Monitoring;

namespace Truss.Server.Hosting;

/// <summary>
/// One running Truss server: Kestrel with the Truss routes, Serilog, the model lifecycle and graceful shutdown.
/// </summary>
/// <remarks>
/// Exit codes from <see cref="WaitForShutdownAsync"/> and <see cref="RunAsync"/>: 0 after a normal stop, 1 when the model
/// failed to load (so an orchestrator restarts the container, as truss intends by exiting), 2 for a bad configuration
/// (command line), 3 when the server could not listen (port in use, no permission for it).
/// </remarks>
public sealed class TrussServer : IAsyncDisposable
{
    /// <summary>Exit code after a failed model load.</summary>
    public const int LoadFailedExitCode = 1;

    /// <summary>Exit code for a configuration error.</summary>
    public const int ConfigErrorExitCode = 2;

    /// <summary>Exit code when Kestrel could not bind its address.</summary>
    public const int ListenFailedExitCode = 3;

    private readonly WebApplication _app;
    private readonly Serilog.Core.Logger _logger;
    private readonly ServerMetrics? _metrics;

    private TrussServer(WebApplication app, ModelHost host, Serilog.Core.Logger logger, ServerMetrics? metrics)
    {
        _app = app;
        Host = host;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>The model lifecycle.</summary>
    public ModelHost Host { get; }

    /// <summary>The address Kestrel listens on (known after <see cref="StartAsync"/>).</summary>
    public Uri BaseAddress
    {
        get
        {
            var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal));
        }
    }

    /// <summary>The server's services (tests check what Kestrel was given).</summary>
    internal IServiceProvider Services => _app.Services;

    /// <summary>Builds a server; nothing listens until <see cref="StartAsync"/>.</summary>
    public static TrussServer Create(TrussServerSettings settings, Func<ModelContext, ITrussModel> createModel)
    {
        var config = settings.Config;
        var options = config.Server;
        var logger = TrussLogging.CreateLogger(config, settings.Environment, settings.LogOutput);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = config.Directory,
            EnvironmentName = Environments.Production,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog(logger, dispose: false);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddSingleton(options);
        // Kestrel's socket transport reads into blocks from this factory's pools (see TransportBlockPool for why).
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(new TransportBlockPoolFactory());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            Listen(kestrel, settings.Host ?? options.Host, settings.Port);
        });

        var app = builder.Build();
        var loggerFactory = app.Services.GetRequiredService<ILoggerFactory>();
        var secrets = new TrussSecrets(config.Secrets, settings.SecretsDirectory, settings.Environment);
        var loadRetries = settings.Environment("NUM_LOAD_RETRIES_TRUSS") is { Length: > 0 } retries &&
                          int.TryParse(retries, NumberStyles.None, CultureInfo.InvariantCulture, out var fromEnvironment)
            ? fromEnvironment
            : options.LoadRetries;
        var modelCache = new ModelCacheDownloader(
            config.ModelCache, secrets, settings.Environment, loggerFactory.CreateLogger<ModelCacheDownloader>());
        var meterFactory = app.Services.GetRequiredService<IMeterFactory>();
        var host = new ModelHost(
            () => createModel(new ModelContext(config, secrets, loggerFactory) { MeterFactory = meterFactory }),
            new PredictGate(config.PredictConcurrency, options.MaxQueuedPredictions),
            loadRetries,
            settings.LoadRetryDelay,
            loggerFactory.CreateLogger<ModelHost>(),
            prepare: config.ModelCache.Entries.Count > 0 ? modelCache.Run : null);

        var metrics = options.Metrics ? new ServerMetrics(options, host, meterFactory, loggerFactory) : null;
        if (metrics is not null)
        {
            app.UseMiddleware<HttpMetricsMiddleware>(metrics);
        }

        app.UseMiddleware<RequestLoggingMiddleware>();
        app.UseStatusCodePages(context => TrussEndpoints.WriteRoutingErrorAsync(context.HttpContext));
        app.MapTrussEndpoints(host, options, loggerFactory.CreateLogger("Truss.Server.Predict"));
        metrics?.MapEndpoint(app);

        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(() =>
        {
            loggerFactory.CreateLogger<TrussServer>().LogInformation(
                "Serving model {ModelName} with predict concurrency {PredictConcurrency}",
                config.ModelName ?? "model", config.PredictConcurrency);
            host.StartLoading(onFailed: lifetime.StopApplication);
        });
        lifetime.ApplicationStopping.Register(host.BeginStopping);
        return new TrussServer(app, host, logger, metrics);
    }

    /// <summary>Starts listening and starts loading the model in the background.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Asks the server to stop gracefully (what SIGTERM does).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Waits until the server has stopped; returns the process exit code.</summary>
    public async Task<int> WaitForShutdownAsync(CancellationToken cancellationToken = default)
    {
        await _app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return Host.State == ModelState.Failed ? LoadFailedExitCode : 0;
    }

    /// <summary>
    /// Runs a server until SIGTERM/SIGINT or a failed load; returns the exit code. Applies config.yaml's
    /// <c>environment_variables</c> to the process first, without overriding variables already set (Baseten injects
    /// them at deploy time; this does the same for local runs).
    /// </summary>
    public static async Task<int> RunAsync(TrussServerSettings settings, Func<ModelContext, ITrussModel> createModel)
    {
        foreach (var (name, value) in settings.Config.EnvironmentVariables)
        {
            if (value is not null && Environment.GetEnvironmentVariable(name) is null)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        await using var server = Create(settings, createModel);
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            // Kestrel could not bind (port taken, a privileged port, an address this host lacks): one clear line and
            // an exit code, not an unhandled exception's stack trace on stderr.
            server._logger.Fatal("Could not listen on {Host}:{Port}: {Reason}",
                settings.Host ?? settings.Config.Server.Host, settings.Port, e.Message);
            return ListenFailedExitCode;
        }

        return await server.WaitForShutdownAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        _metrics?.Dispose();
        Host.Dispose();
        await _logger.DisposeAsync().ConfigureAwait(false);
    }

    private static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, string host, int port)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(port);
        }
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            kestrel.Listen(address, port);
        }
        else
        {
            throw new TrussConfigException(
                $"model_metadata.server.host must be an IP address or 'localhost', got '{host}'");
        }
    }
}
