namespace Truss.Server;

/// <summary>
/// Secrets declared under <c>secrets:</c> in config.yaml. A value comes from the file <c>/secrets/&lt;name&gt;</c>
/// (how Baseten mounts them), else the environment variable <c>TRUSS_SECRET_&lt;name&gt;</c>, else the default
/// written in config.yaml. File contents are used verbatim (no trimming), as truss does.
/// Thread-safe; nothing is cached, so a rotated secret file is seen on the next read.
/// </summary>
public sealed class TrussSecrets
{
    /// <summary>Where Baseten mounts secret files.</summary>
    public const string DefaultDirectory = "/secrets";

    private readonly IReadOnlyDictionary<string, string?> _declared;
    private readonly string _directory;
    private readonly Func<string, string?> _environment;

    public TrussSecrets(
        IReadOnlyDictionary<string, string?> declared,
        string directory = DefaultDirectory,
        Func<string, string?>? environment = null)
    {
        _declared = declared;
        _directory = directory;
        _environment = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>The declared secret names.</summary>
    public IEnumerable<string> Names => _declared.Keys;

    /// <summary>Returns the secret's value, or throws <see cref="SecretNotFoundException"/> with truss's message.</summary>
    public string Get(string name) =>
        TryGet(name, out var value)
            ? value
            : throw new SecretNotFoundException(
                $"Secret '{name}' not found. Please ensure that:\n" +
                $"  * Secret '{name}' is defined in the 'secrets' section of the Truss config file\n" +
                $"  * The model was pushed with the --trusted flag\n" +
                $"  * Secret '{name}' is defined in the secrets section of the Baseten web UI\n" +
                $"  * Or, for local runs, the file {Path.Combine(_directory, name)} or the environment variable " +
                $"TRUSS_SECRET_{name} holds it");

    /// <summary>Resolves a declared secret; false when it is undeclared or every source is empty.</summary>
    public bool TryGet(string name, out string value)
    {
        value = "";
        if (!_declared.TryGetValue(name, out var configDefault))
        {
            return false;
        }

        var candidate = ReadFile(name) ?? NonEmpty(_environment("TRUSS_SECRET_" + name)) ?? NonEmpty(configDefault);
        if (candidate is null)
        {
            return false;
        }

        value = candidate;
        return true;
    }

    private string? ReadFile(string name)
    {
        // A secret name is a single path segment; anything else could read outside the secrets folder.
        if (name.Length == 0 || name.Contains('/') || name.Contains('\\') || name is "." or "..")
        {
            return null;
        }

        var path = Path.Combine(_directory, name);
        return File.Exists(path) ? NonEmpty(File.ReadAllText(path)) : null;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
