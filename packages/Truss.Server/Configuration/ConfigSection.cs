using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Truss.Server.Configuration;

/// <summary>
/// A typed, validating view of one mapping in config.yaml (for example <c>runtime</c> or
/// <c>model_metadata.clip</c>). Every getter takes a default for an absent key and throws
/// <see cref="TrussConfigException"/> naming the full key path and line for a bad value. Unknown keys are ignored,
/// as truss does at serve time.
/// </summary>
/// <remarks>
/// Built on YamlDotNet's representation model rather than its object deserializer because the deserializer's errors
/// do not name the key, and "runtime.predict_concurrency must be an integer" is what a user needs to read.
/// Quoted scalars are always strings; plain scalars follow the YAML 1.2 core schema (null, booleans, numbers).
/// Immutable and thread-safe.
/// </remarks>
public sealed class ConfigSection
{
    private readonly YamlMappingNode? _mapping;
    private readonly string _source;

    internal ConfigSection(YamlMappingNode? mapping, string path, string source)
    {
        _mapping = mapping;
        Path = path;
        _source = source;
    }

    /// <summary>An empty section, for configs that lack the key entirely.</summary>
    public static ConfigSection Empty(string path, string source = "config.yaml") => new(null, path, source);

    /// <summary>Dotted key path of this section ("" for the root).</summary>
    public string Path { get; }

    /// <summary>True when the mapping was present in the file.</summary>
    public bool Exists => _mapping is not null;

    /// <summary>The keys present, in file order.</summary>
    public IEnumerable<string> Keys
    {
        get
        {
            if (_mapping is null)
            {
                yield break;
            }

            foreach (var entry in _mapping.Children)
            {
                if (entry.Key is YamlScalarNode { Value: { } key })
                {
                    yield return key;
                }
            }
        }
    }

    /// <summary>True when <paramref name="key"/> is present and not null.</summary>
    public bool Has(string key) => Find(key) is { } node && !IsNull(node);

    /// <summary>The nested mapping at <paramref name="key"/> (empty when absent or null).</summary>
    public ConfigSection GetSection(string key)
    {
        var node = Find(key);
        return node switch
        {
            null => new ConfigSection(null, Join(key), _source),
            YamlMappingNode mapping => new ConfigSection(mapping, Join(key), _source),
            _ when IsNull(node) => new ConfigSection(null, Join(key), _source),
            _ => throw Error(key, node, "must be a mapping of keys to values"),
        };
    }

    /// <summary>A string value; numbers and booleans written without quotes are taken as their text.</summary>
    public string? GetString(string key, string? defaultValue = null)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return defaultValue;
        }

        return node is YamlScalarNode scalar ? scalar.Value ?? defaultValue : throw Error(key, node, "must be a string");
    }

    /// <summary>A string that must be one of <paramref name="allowed"/> (compared case-insensitively).</summary>
    public string GetChoice(string key, string defaultValue, params string[] allowed)
    {
        var value = GetString(key, defaultValue)!;
        foreach (var candidate in allowed)
        {
            if (string.Equals(candidate, value, StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        throw Error(key, Find(key), $"must be one of {string.Join(", ", allowed)}");
    }

    /// <summary>An integer within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long GetInt64(string key, long defaultValue, long min = long.MinValue, long max = long.MaxValue)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return defaultValue;
        }

        if (node is not YamlScalarNode { Value: { } text } ||
            !long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign,
                CultureInfo.InvariantCulture, out var value))
        {
            throw Error(key, node, "must be an integer" + Range(min, max));
        }

        return value < min || value > max ? throw Error(key, node, "must be an integer" + Range(min, max)) : value;
    }

    /// <summary>An integer within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int GetInt32(string key, int defaultValue, int min = int.MinValue, int max = int.MaxValue) =>
        (int)GetInt64(key, defaultValue, min, max);

    /// <summary>A finite number within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public double GetDouble(
        string key, double defaultValue, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return defaultValue;
        }

        if (node is not YamlScalarNode { Value: { } text } || !TryParseNumber(text, out var value) ||
            !double.IsFinite(value) || value < min || value > max)
        {
            throw Error(key, node, "must be a number" + Range(min, max));
        }

        return value;
    }

    /// <summary>A boolean (<c>true</c>/<c>false</c>, YAML 1.2).</summary>
    public bool GetBoolean(string key, bool defaultValue)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return defaultValue;
        }

        return node is YamlScalarNode { Value: { } text } && bool.TryParse(text, out var value)
            ? value
            : throw Error(key, node, "must be true or false");
    }

    /// <summary>A list of numbers, each checked with the same rules as <see cref="GetDouble"/>.</summary>
    public double[]? GetDoubleList(string key, int? requiredCount = null)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return null;
        }

        var countRule = requiredCount is { } n ? $"a list of exactly {n} numbers" : "a list of numbers";
        if (node is not YamlSequenceNode sequence || (requiredCount is { } count && sequence.Children.Count != count))
        {
            throw Error(key, node, "must be " + countRule);
        }

        var values = new double[sequence.Children.Count];
        for (var i = 0; i < values.Length; i++)
        {
            if (sequence.Children[i] is not YamlScalarNode { Value: { } text } || !TryParseNumber(text, out values[i]) ||
                !double.IsFinite(values[i]))
            {
                throw Error(key, sequence.Children[i], "must be " + countRule);
            }
        }

        return values;
    }

    /// <summary>A list of strings.</summary>
    public string[]? GetStringList(string key)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return null;
        }

        if (node is not YamlSequenceNode sequence)
        {
            throw Error(key, node, "must be a list of strings");
        }

        var values = new string[sequence.Children.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = sequence.Children[i] is YamlScalarNode { Value: { } text } && !IsNull(sequence.Children[i])
                ? text
                : throw Error(key, sequence.Children[i], "must be a list of strings");
        }

        return values;
    }

    /// <summary>A mapping of string keys to string values (null values kept as null).</summary>
    public IReadOnlyDictionary<string, string?> GetStringMap(string key)
    {
        var map = new Dictionary<string, string?>(StringComparer.Ordinal);
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return map;
        }

        if (node is not YamlMappingNode mapping)
        {
            throw Error(key, node, "must be a mapping of names to values");
        }

        foreach (var (entryKey, entryValue) in mapping.Children)
        {
            if (entryKey is not YamlScalarNode { Value: { } name })
            {
                throw Error(key, entryKey, "must have string keys");
            }

            map[name] = entryValue switch
            {
                _ when IsNull(entryValue) => null,
                YamlScalarNode scalar => scalar.Value,
                _ => throw Error($"{key}.{name}", entryValue, "must be a string"),
            };
        }

        return map;
    }

    /// <summary>The sequence at <paramref name="key"/> as sections (each item must be a mapping).</summary>
    public IReadOnlyList<ConfigSection> GetSectionList(string key)
    {
        var node = Find(key);
        if (node is null || IsNull(node))
        {
            return [];
        }

        if (node is not YamlSequenceNode sequence)
        {
            throw Error(key, node, "must be a list");
        }

        var sections = new List<ConfigSection>(sequence.Children.Count);
        for (var i = 0; i < sequence.Children.Count; i++)
        {
            sections.Add(sequence.Children[i] is YamlMappingNode item
                ? new ConfigSection(item, $"{Join(key)}[{i}]", _source)
                : throw Error($"{key}[{i}]", sequence.Children[i], "must be a mapping"));
        }

        return sections;
    }

    /// <summary>An error about <paramref name="key"/> in this section, for validations the getters cannot express.</summary>
    public TrussConfigException Error(string key, string rule) => Error(key, Find(key), rule);

    private TrussConfigException Error(string key, YamlNode? node, string rule)
    {
        var where = node is null ? "" : $" (line {node.Start.Line})";
        var got = node is YamlScalarNode { Value: { } text } ? $", got '{Truncate(text)}'" : "";
        return new TrussConfigException($"{_source}: {Join(key)} {rule}{got}{where}");
    }

    private YamlNode? Find(string key)
    {
        if (_mapping is null)
        {
            return null;
        }

        // Duplicate keys: the last one wins, as in PyYAML (truss only warns).
        YamlNode? found = null;
        foreach (var (entryKey, entryValue) in _mapping.Children)
        {
            if (entryKey is YamlScalarNode { Value: { } name } && name == key)
            {
                found = entryValue;
            }
        }

        return found;
    }

    private string Join(string key) => Path.Length == 0 ? key : Path + "." + key;

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static bool TryParseNumber(string text, out double value) =>
        double.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.Float,
            CultureInfo.InvariantCulture, out value);

    private static string Range(double min, double max) => (double.IsInfinity(min) || min <= int.MinValue, double.IsInfinity(max) || max >= int.MaxValue) switch
    {
        (true, true) => "",
        (false, true) => $" ≥ {min.ToString(CultureInfo.InvariantCulture)}",
        (true, false) => $" ≤ {max.ToString(CultureInfo.InvariantCulture)}",
        _ => $" between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}",
    };

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..77] + "...";
}
