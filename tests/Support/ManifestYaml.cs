using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// Reads the deployment manifests under <c>deploy/</c> with YamlDotNet and walks them by key, the way kubectl would
/// see them (including a kustomize strategic-merge patch, for the GPU overlay).
/// </summary>
public static partial class ManifestYaml
{
    public static string DeployDirectory => Path.Combine(RepositoryPaths.RepositoryRoot, "deploy");

    /// <summary>Every YAML document under <c>deploy/</c>, with its path relative to it.</summary>
    public static IReadOnlyList<(string File, YamlMappingNode Document)> LoadAll()
    {
        var documents = new List<(string, YamlMappingNode)>();
        foreach (var path in Directory.EnumerateFiles(DeployDirectory, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = File.OpenText(path))
            {
                stream.Load(reader);
            }

            var relative = Path.GetRelativePath(DeployDirectory, path);
            documents.AddRange(stream.Documents.Select(d => (relative, (YamlMappingNode)d.RootNode)));
        }

        return documents;
    }

    /// <summary>The single document of <c>deploy/<paramref name="relativePath"/></c>.</summary>
    public static YamlMappingNode Load(string relativePath)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(Path.Combine(DeployDirectory, relativePath)))
        {
            stream.Load(reader);
        }

        return (YamlMappingNode)stream.Documents.Single().RootNode;
    }

    /// <summary>
    /// Applies a strategic-merge patch the way kustomize does for the parts these manifests use: mappings merge key by
    /// key, lists of named objects (containers, env) merge by <c>name</c>, anything else is replaced.
    /// </summary>
    public static void MergeInto(YamlMappingNode target, YamlMappingNode patch)
    {
        foreach (var (key, value) in patch.Children)
        {
            if (!target.Children.TryGetValue(key, out var existing))
            {
                target.Children[key] = value;
            }
            else if (existing is YamlMappingNode existingMap && value is YamlMappingNode patchMap)
            {
                MergeInto(existingMap, patchMap);
            }
            else if (existing is YamlSequenceNode existingList && value is YamlSequenceNode patchList && IsNamedList(patchList))
            {
                foreach (var item in patchList.Children.Cast<YamlMappingNode>())
                {
                    var match = existingList.Children.OfType<YamlMappingNode>().FirstOrDefault(e => e.Str("name") == item.Str("name"));
                    if (match is null)
                    {
                        existingList.Children.Add(item);
                    }
                    else
                    {
                        MergeInto(match, item);
                    }
                }
            }
            else
            {
                target.Children[key] = value;
            }
        }
    }

    private static bool IsNamedList(YamlSequenceNode list) =>
        list.Children.All(item => item is YamlMappingNode map && map.Children.ContainsKey("name"));

    public static YamlMappingNode Map(this YamlMappingNode node, string dottedPath)
    {
        YamlNode current = node;
        foreach (var key in dottedPath.Split('.'))
        {
            current = ((YamlMappingNode)current).Children.TryGetValue(key, out var child)
                ? child
                : throw new KeyNotFoundException($"no '{key}' in '{dottedPath}'");
        }

        return (YamlMappingNode)current;
    }

    public static bool Has(this YamlMappingNode node, string key) => node.Children.ContainsKey(key);

    public static IReadOnlyList<YamlMappingNode> Maps(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var list) ? ((YamlSequenceNode)list).Children.Cast<YamlMappingNode>().ToList() : [];

    public static IReadOnlyList<string> Strings(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var list) ? ((YamlSequenceNode)list).Children.Select(c => ((YamlScalarNode)c).Value!).ToList() : [];

    public static string? Str(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) ? ((YamlScalarNode)value).Value : null;

    public static int Int(this YamlMappingNode node, string key) =>
        int.Parse(node.Str(key) ?? throw new KeyNotFoundException(key), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>Names of environment variables the server's own code reads: upper-case string literals in its sources.</summary>
    public static IReadOnlySet<string> EnvironmentVariablesTheServerReads()
    {
        var root = RepositoryPaths.RepositoryRoot;
        var sources = new[] { "packages", "model", "cli" }
            .SelectMany(dir => Directory.EnumerateFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Append(Path.Combine(root, "Program.cs"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in sources)
        {
            foreach (Match match in UpperCaseLiteral().Matches(File.ReadAllText(path)))
            {
                names.Add(match.Groups[1].Value);
            }
        }

        return names;
    }

    [GeneratedRegex("\"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\"")]
    private static partial Regex UpperCaseLiteral();
}
