using Truss.Server.ModelCache;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Truss.Server.Configuration;

/// <summary>
/// The parsed config.yaml: the Truss keys the server honours, typed and validated once at startup, plus the raw
/// <see cref="Root"/> so a model can read its own settings (truss hands the whole config to the model too).
/// Unknown keys are ignored (truss rejects them only at <c>truss push</c>). Immutable.
/// </summary>
public sealed class TrussConfig
{
    private TrussConfig(ConfigSection root, string directory)
    {
        Root = root;
        Directory = directory;
        ModelName = root.GetString("model_name");
        DataDirectory = System.IO.Path.GetFullPath(root.GetString("data_dir", "data")!, directory);
        ModelMetadata = root.GetSection("model_metadata");
        Secrets = root.GetStringMap("secrets");
        EnvironmentVariables = root.GetStringMap("environment_variables");

        var resources = root.GetSection("resources");
        Accelerator = resources.GetString("accelerator");
        Cpu = resources.GetString("cpu", "1")!;
        Memory = resources.GetString("memory", "2Gi")!;

        var runtime = root.GetSection("runtime");
        PredictConcurrency = runtime.GetInt32("predict_concurrency", 1, min: 1);
        EnableDebugLogs = runtime.GetBoolean("enable_debug_logs", false);
        Server = new ServerOptions(ModelMetadata.GetSection("server"));
        ModelCache = ModelCacheSettings.Parse(root, ModelMetadata.GetSection("server"), Directory, DataDirectory);
    }

    /// <summary>The whole file, for model-specific sections.</summary>
    public ConfigSection Root { get; }

    /// <summary>The folder holding config.yaml: the Truss root, against which relative paths resolve.</summary>
    public string Directory { get; }

    /// <summary><c>model_name</c>.</summary>
    public string? ModelName { get; }

    /// <summary><c>data_dir</c> (default <c>data</c>) as an absolute path.</summary>
    public string DataDirectory { get; }

    /// <summary><c>model_metadata</c>: free-form; this server's own settings live under its <c>server</c> key.</summary>
    public ConfigSection ModelMetadata { get; }

    /// <summary><c>secrets</c>: declared names and their optional defaults.</summary>
    public IReadOnlyDictionary<string, string?> Secrets { get; }

    /// <summary><c>environment_variables</c>.</summary>
    public IReadOnlyDictionary<string, string?> EnvironmentVariables { get; }

    /// <summary><c>resources.accelerator</c>, e.g. <c>T4</c> or <c>H100:2</c>; null means CPU.</summary>
    public string? Accelerator { get; }

    /// <summary>True when an accelerator is requested (truss computes <c>use_gpu</c> this way; the key itself is ignored).</summary>
    public bool UseGpu => Accelerator is not null;

    /// <summary><c>resources.cpu</c> (e.g. <c>"3"</c> or <c>"500m"</c>).</summary>
    public string Cpu { get; }

    /// <summary><c>resources.memory</c> (e.g. <c>"8Gi"</c>).</summary>
    public string Memory { get; }

    /// <summary><c>runtime.predict_concurrency</c>: how many predict calls run at once (default 1).</summary>
    public int PredictConcurrency { get; }

    /// <summary><c>runtime.enable_debug_logs</c>: log at Debug level (default false).</summary>
    public bool EnableDebugLogs { get; }

    /// <summary>This server's own settings (<c>model_metadata.server</c>).</summary>
    public ServerOptions Server { get; }

    /// <summary>
    /// <c>model_cache</c>: Hugging Face repositories the server downloads before constructing the model (cache root:
    /// <c>model_metadata.server.model_cache_dir</c>, default <c>/app/model_cache</c>).
    /// </summary>
    public ModelCacheSettings ModelCache { get; }

    /// <summary>Reads and validates a config file.</summary>
    public static TrussConfig Load(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new TrussConfigException($"{path}: file not found (pass --config or run from the Truss folder)");
        }

        using var reader = File.OpenText(fullPath);
        return Parse(reader, System.IO.Path.GetDirectoryName(fullPath)!, System.IO.Path.GetFileName(fullPath));
    }

    /// <summary>Parses config text; relative paths resolve against <paramref name="directory"/>.</summary>
    public static TrussConfig Parse(TextReader text, string directory, string sourceName = "config.yaml")
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(text);
        }
        catch (YamlException e)
        {
            throw new TrussConfigException($"{sourceName}: not valid YAML (line {e.Start.Line}): {e.Message}", e);
        }

        YamlMappingNode? root = null;
        if (stream.Documents.Count > 0)
        {
            root = stream.Documents[0].RootNode as YamlMappingNode
                ?? throw new TrussConfigException($"{sourceName}: the top level must be a mapping of keys to values");
        }

        return new TrussConfig(new ConfigSection(root, "", sourceName), System.IO.Path.GetFullPath(directory));
    }
}
