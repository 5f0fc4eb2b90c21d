using System.Text.Json;
using System.Text.RegularExpressions;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// The repository's Dockerfile as stages of instructions (continuation lines joined, comments dropped), so that tests
/// can hold the image against the server, config.yaml and the deployment manifests.
/// </summary>
public sealed partial class DockerfileModel
{
    private DockerfileModel(IReadOnlyList<DockerfileStage> stages) => Stages = stages;

    public IReadOnlyList<DockerfileStage> Stages { get; }

    /// <summary>The stage a plain <c>docker build</c> produces.</summary>
    public DockerfileStage Final => Stages[^1];

    public static DockerfileModel Load() => Parse(File.ReadAllText(Path.Combine(RepositoryPaths.RepositoryRoot, "Dockerfile")));

    public static DockerfileModel Parse(string text)
    {
        var stages = new List<DockerfileStage>();
        var pending = "";
        foreach (var rawLine in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = rawLine.TrimEnd();
            if (pending.Length == 0 && (line.TrimStart().StartsWith('#') || line.Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1].Trim() + " ";
                continue;
            }

            var instruction = (pending + line.Trim()).Trim();
            pending = "";
            var space = instruction.IndexOf(' ', StringComparison.Ordinal);
            var keyword = instruction[..space].ToUpperInvariant();
            var arguments = instruction[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                stages.Add(new DockerfileStage(parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : "", parts[0]));
            }
            else if (stages.Count > 0)
            {
                stages[^1].Add(keyword, arguments);
            }
        }

        return new DockerfileModel(stages);
    }

    public DockerfileStage Stage(string name) =>
        Stages.SingleOrDefault(s => s.Name == name) ?? throw new InvalidOperationException($"Dockerfile has no stage '{name}'");

    /// <summary>
    /// <paramref name="stage"/>, the stage it builds on, and so on while the base is a stage of this file, with
    /// <c>${FLAVOR}</c> in FROM lines read as <paramref name="flavor"/>.
    /// </summary>
    public IEnumerable<DockerfileStage> Lineage(DockerfileStage stage, string flavor = "cpu")
    {
        for (DockerfileStage? current = stage; current is not null;
             current = Stages.SingleOrDefault(s => s.Name == current.From.Replace("${FLAVOR}", flavor, StringComparison.Ordinal)))
        {
            yield return current;
        }
    }

    /// <summary>The ENV a container of <paramref name="stage"/> starts with (from its stages in this file).</summary>
    public IReadOnlyDictionary<string, string> Environment(DockerfileStage stage, string flavor = "cpu")
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var current in Lineage(stage, flavor).Reverse())
        {
            foreach (var (name, value) in current.All("ENV").SelectMany(EnvPairs))
            {
                environment[name] = value;
            }
        }

        return environment;
    }

    /// <summary>JSON exec form (<c>["a", "b"]</c>) as its strings.</summary>
    public static string[] ExecForm(string arguments) =>
        JsonSerializer.Deserialize<string[]>(arguments) ?? throw new FormatException($"not an exec form: {arguments}");

    /// <summary>Splits <c>K=V K2=V2</c> (the ENV form used in this Dockerfile; values without spaces).</summary>
    public static IEnumerable<KeyValuePair<string, string>> EnvPairs(string arguments) =>
        EnvPair().Matches(arguments).Select(m => KeyValuePair.Create(m.Groups[1].Value, m.Groups[2].Value));

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(\S*)")]
    private static partial Regex EnvPair();
}

/// <summary>One <c>FROM ... AS name</c> stage and its instructions in order.</summary>
public sealed class DockerfileStage(string name, string from)
{
    private readonly List<(string Keyword, string Arguments)> _instructions = [];

    public string Name { get; } = name;

    public string From { get; } = from;

    public IReadOnlyList<(string Keyword, string Arguments)> Instructions => _instructions;

    public IEnumerable<string> All(string keyword) => _instructions.Where(i => i.Keyword == keyword).Select(i => i.Arguments);

    /// <summary>The last instruction of a kind (the one that counts for USER, CMD, ENTRYPOINT...), or null.</summary>
    public string? Last(string keyword) => All(keyword).LastOrDefault();

    internal void Add(string keyword, string arguments) => _instructions.Add((keyword, arguments));
}
