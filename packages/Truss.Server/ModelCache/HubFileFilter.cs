using System.Text;
using System.Text.RegularExpressions;

namespace Truss.Server.ModelCache;

/// <summary>
/// Selects repository files with <c>allow_patterns</c> and <c>ignore_patterns</c>, exactly as huggingface_hub's
/// <c>filter_repo_objects</c> does: each pattern is a Python <c>fnmatch</c> glob matched against the whole path
/// (<c>*</c> matches any run of characters <em>including</em> '/', <c>?</c> one character, <c>[seq]</c> and
/// <c>[!seq]</c> a set), case-sensitively; a pattern ending in '/' means everything under that folder. A path is kept
/// when it matches some allow pattern (or there are none) and no ignore pattern. Immutable and thread-safe.
/// </summary>
public sealed class HubFileFilter
{
    private readonly Regex[]? _allow;
    private readonly Regex[] _ignore;

    /// <summary>
    /// Creates a filter. Null or empty <paramref name="allowPatterns"/> keeps every file (huggingface_hub would keep
    /// none for an empty list, which nobody means).
    /// </summary>
    public HubFileFilter(IReadOnlyList<string>? allowPatterns = null, IReadOnlyList<string>? ignorePatterns = null)
    {
        AllowPatterns = allowPatterns ?? [];
        IgnorePatterns = ignorePatterns ?? [];
        _allow = AllowPatterns.Count == 0 ? null : Compile(AllowPatterns);
        _ignore = Compile(IgnorePatterns);
    }

    /// <summary>A filter that keeps every file.</summary>
    public static HubFileFilter All { get; } = new();

    /// <summary>The allow patterns (empty: all files).</summary>
    public IReadOnlyList<string> AllowPatterns { get; }

    /// <summary>The ignore patterns.</summary>
    public IReadOnlyList<string> IgnorePatterns { get; }

    /// <summary>True when <paramref name="path"/> (a repository path with '/' separators) is selected.</summary>
    public bool Includes(string path)
    {
        if (_allow is not null && !AnyMatch(_allow, path))
        {
            return false;
        }

        return !AnyMatch(_ignore, path);
    }

    /// <summary>Python's <c>fnmatch.fnmatchcase(path, pattern)</c>.</summary>
    public static bool GlobMatches(string pattern, string path) => ToRegex(pattern).IsMatch(path);

    private static bool AnyMatch(Regex[] patterns, string path)
    {
        foreach (var pattern in patterns)
        {
            if (pattern.IsMatch(path))
            {
                return true;
            }
        }

        return false;
    }

    private static Regex[] Compile(IReadOnlyList<string> patterns)
    {
        var compiled = new Regex[patterns.Count];
        for (var i = 0; i < compiled.Length; i++)
        {
            // huggingface_hub's _add_wildcard_to_directories: "onnx/" means "onnx/*".
            var pattern = patterns[i];
            compiled[i] = ToRegex(pattern.EndsWith('/') ? pattern + "*" : pattern);
        }

        return compiled;
    }

    /// <summary>A port of CPython's <c>fnmatch.translate</c>, anchored at both ends.</summary>
    private static Regex ToRegex(string pattern)
    {
        var regex = new StringBuilder("\\A(?:");
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i++];
            switch (c)
            {
                case '*':
                    // Runs of stars are one star; collapsing them keeps the regex linear.
                    while (i < pattern.Length && pattern[i] == '*')
                    {
                        i++;
                    }

                    regex.Append(".*");
                    break;
                case '?':
                    regex.Append('.');
                    break;
                case '[':
                    var j = i;
                    if (j < pattern.Length && pattern[j] == '!')
                    {
                        j++;
                    }

                    if (j < pattern.Length && pattern[j] == ']')
                    {
                        j++;
                    }

                    while (j < pattern.Length && pattern[j] != ']')
                    {
                        j++;
                    }

                    if (j >= pattern.Length)
                    {
                        // No closing bracket: fnmatch takes '[' literally.
                        regex.Append("\\[");
                        break;
                    }

                    var set = pattern[i..j];
                    i = j + 1;
                    regex.Append('[');
                    var start = 0;
                    if (set.StartsWith('!'))
                    {
                        regex.Append('^');
                        start = 1;
                    }

                    for (var k = start; k < set.Length; k++)
                    {
                        var member = set[k];
                        // '-' keeps its range meaning; everything else that .NET treats specially is escaped.
                        if (member is '\\' or '[' or ']' or '^')
                        {
                            regex.Append('\\');
                        }

                        regex.Append(member);
                    }

                    regex.Append(']');
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        regex.Append(")\\z");
        return new Regex(regex.ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }
}
