using System.CommandLine;
using Truss.Server.Configuration;
using Truss.Server.Hosting;
using Truss.Server.Logging;

namespace Truss.Server.CommandLine;

/// <summary>
/// <c>serve</c>: runs the Truss server for a model. Applications add their own options to it and read them in the
/// model factory, which receives the <see cref="ParseResult"/>.
/// </summary>
public sealed class ServeCommand : Command
{
    /// <summary><c>--config</c>: the Truss config file (default <c>$TRUSS_CONFIG</c> or <c>config.yaml</c>).</summary>
    public Option<string> ConfigOption { get; } = new("--config")
    {
        Description = "Path to the Truss config.yaml (default: $TRUSS_CONFIG, else ./config.yaml)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRUSS_CONFIG") is { Length: > 0 } path ? path : "config.yaml",
    };

    /// <summary><c>--port</c>: overrides <c>INFERENCE_SERVER_PORT</c>.</summary>
    public Option<int?> PortOption { get; } = new("--port")
    {
        Description = "Port to listen on (default: $INFERENCE_SERVER_PORT, else 8080)",
    };

    /// <summary><c>--host</c>: overrides <c>model_metadata.server.host</c>.</summary>
    public Option<string?> HostOption { get; } = new("--host")
    {
        Description = "Address to bind (default: model_metadata.server.host, else 0.0.0.0)",
    };

    public ServeCommand(Func<ParseResult, ModelContext, ITrussModel> createModel)
        : base("serve", "Serve the model over the Truss HTTP contract (the default when no command is given)")
    {
        Options.Add(ConfigOption);
        Options.Add(PortOption);
        Options.Add(HostOption);
        SetAction(async (parseResult, _) =>
        {
            TrussConfig config;
            int port;
            try
            {
                config = TrussConfig.Load(parseResult.GetValue(ConfigOption)!);
                port = parseResult.GetValue(PortOption) ?? TrussServerSettings.PortFromEnvironment(Environment.GetEnvironmentVariable);
                if (port is < 0 or > 65535)
                {
                    throw new TrussConfigException($"--port must be between 0 and 65535, got {port}");
                }
            }
            catch (TrussConfigException e)
            {
                await using var bootstrap = TrussLogging.CreateLogger(null, Environment.GetEnvironmentVariable);
                bootstrap.Fatal("Invalid configuration: {Reason}", e.Message);
                return TrussServer.ConfigErrorExitCode;
            }

            var settings = new TrussServerSettings(config) { Port = port, Host = parseResult.GetValue(HostOption) };
            try
            {
                return await TrussServer.RunAsync(settings, context => createModel(parseResult, context)).ConfigureAwait(false);
            }
            catch (TrussConfigException e)
            {
                await using var bootstrap = TrussLogging.CreateLogger(config, Environment.GetEnvironmentVariable);
                bootstrap.Fatal("Invalid configuration: {Reason}", e.Message);
                return TrussServer.ConfigErrorExitCode;
            }
        });
    }

    /// <summary>
    /// Invokes <paramref name="root"/> with <paramref name="args"/>, serving when no command is given. Leaves
    /// SIGTERM to the host so that in-flight requests drain (System.CommandLine would otherwise end the process).
    /// </summary>
    public static Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal) && args[0] is not ("--help" or "-h" or "--version"))
        {
            args = ["serve", .. args];
        }

        return root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}
