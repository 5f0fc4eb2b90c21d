using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Truss.Server.Configuration;

namespace Truss.Server;

/// <summary>
/// What the shim hands the model's constructor, as truss passes <c>config</c>, <c>data_dir</c> and
/// <c>secrets</c> to <c>Model.__init__</c>.
/// </summary>
public sealed class ModelContext
{
    public ModelContext(TrussConfig config, TrussSecrets secrets, ILoggerFactory loggerFactory)
    {
        Config = config;
        Secrets = secrets;
        LoggerFactory = loggerFactory;
    }

    /// <summary>The parsed config.yaml.</summary>
    public TrussConfig Config { get; }

    /// <summary>Absolute path of the Truss <c>data_dir</c> (resolved against the config file's folder).</summary>
    public string DataDirectory => Config.DataDirectory;

    /// <summary>The declared secrets, resolved lazily.</summary>
    public TrussSecrets Secrets { get; }

    /// <summary>Loggers that write through the server's log pipeline (request ids included).</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>
    /// Where the model creates its <see cref="Meter"/>s: the server exports every meter made here on
    /// <c>/metrics</c> (see README, "Metrics"). Null outside a server (command line, benchmarks).
    /// </summary>
    public IMeterFactory? MeterFactory { get; init; }
}
