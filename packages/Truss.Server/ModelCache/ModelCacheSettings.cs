using Truss.Server.Configuration;

namespace Truss.Server.ModelCache;

/// <summary>
/// One entry of config.yaml's <c>model_cache</c> list (Truss's schema): a Hugging Face repository to have on disk
/// before the model is constructed.
/// </summary>
/// <param name="RepoId"><c>repo_id</c> (required), e.g. <c>Xenova/clip-vit-base-patch32</c>.</param>
/// <param name="Revision"><c>revision</c>: branch, tag or commit (default <c>main</c>; pin a commit for reproducible deploys).</param>
/// <param name="Filter"><c>allow_patterns</c> and <c>ignore_patterns</c> (fnmatch globs, as huggingface_hub).</param>
/// <param name="VolumeFolder"><c>volume_folder</c>: the folder name under the cache root (required with <c>use_volume</c>).</param>
/// <param name="UseVolume"><c>use_volume</c>: download into <c>&lt;model_cache_dir&gt;/&lt;volume_folder&gt;</c>, where Truss mounts the cache volume.</param>
/// <param name="RuntimeSecretName"><c>runtime_secret_name</c>: the Truss secret holding the Hub token (default <c>hf_access_token</c>).</param>
/// <param name="Directory">The absolute folder the files go to (see <see cref="ModelCacheSettings"/>).</param>
public sealed record ModelCacheEntry(
    string RepoId,
    string Revision,
    HubFileFilter Filter,
    string? VolumeFolder,
    bool UseVolume,
    string RuntimeSecretName,
    string Directory);

/// <summary>
/// config.yaml's <c>model_cache</c>, validated at startup. Each entry is a list item
/// <c>{repo_id, revision, allow_patterns, ignore_patterns, volume_folder, use_volume, kind, runtime_secret_name}</c>;
/// only <c>kind: hf</c> (the default) is supported, and any other kind stops startup with a message naming it.
/// </summary>
/// <remarks>
/// Where files go: with <c>use_volume: true</c>, <c>&lt;root&gt;/&lt;volume_folder&gt;</c>, where the root is
/// <c>model_metadata.server.model_cache_dir</c> (default <c>/app/model_cache</c>, where Truss mounts the cache volume;
/// relative paths resolve against the Truss folder). Otherwise <c>&lt;data_dir&gt;/&lt;volume_folder&gt;</c>, or
/// <c>&lt;data_dir&gt;/&lt;owner&gt;__&lt;name&gt;</c> without a <c>volume_folder</c>. Point the model at that folder
/// (for CLIP, <c>model_metadata.clip.model_dir</c>).
/// </remarks>
public sealed class ModelCacheSettings
{
    /// <summary>Where Truss mounts the model cache volume.</summary>
    public const string DefaultRoot = "/app/model_cache";

    /// <summary>The Truss secret that holds a Hub token unless an entry names another.</summary>
    public const string DefaultSecretName = "hf_access_token";

    private ModelCacheSettings(string root, IReadOnlyList<ModelCacheEntry> entries)
    {
        Root = root;
        Entries = entries;
    }

    /// <summary>No entries.</summary>
    public static ModelCacheSettings None { get; } = new(DefaultRoot, []);

    /// <summary>The cache root for <c>use_volume</c> entries (absolute).</summary>
    public string Root { get; }

    /// <summary>The entries, in file order.</summary>
    public IReadOnlyList<ModelCacheEntry> Entries { get; }

    /// <summary>
    /// Reads <c>model_cache</c> from <paramref name="root"/> and the cache root from <paramref name="server"/>
    /// (<c>model_metadata.server</c>).
    /// </summary>
    /// <exception cref="TrussConfigException">A malformed entry or an unsupported <c>kind</c>.</exception>
    public static ModelCacheSettings Parse(ConfigSection root, ConfigSection server, string trussDirectory, string dataDirectory)
    {
        var cacheRoot = Path.GetFullPath(server.GetString("model_cache_dir", DefaultRoot)!, trussDirectory);
        var items = root.GetSectionList("model_cache");
        var entries = new List<ModelCacheEntry>(items.Count);
        foreach (var item in items)
        {
            var kind = item.GetString("kind", "hf")!;
            if (!string.Equals(kind, "hf", StringComparison.Ordinal))
            {
                throw item.Error("kind", "is not supported by this server: only 'hf' (Hugging Face) repositories can be cached");
            }

            var repoId = item.GetString("repo_id") ?? throw item.Error("repo_id", "is required (e.g. 'Xenova/clip-vit-base-patch32')");
            try
            {
                HuggingFaceHubClient.ValidateRepoId(repoId);
            }
            catch (HubException)
            {
                throw item.Error("repo_id", "must be a Hugging Face repository id like 'owner/name'");
            }

            var revision = item.GetString("revision", "main")!;
            if (revision.Length == 0)
            {
                throw item.Error("revision", "must not be empty");
            }

            var useVolume = item.GetBoolean("use_volume", false);
            var volumeFolder = item.GetString("volume_folder")?.TrimEnd('/');
            if (volumeFolder is not null && !IsSafeFolder(volumeFolder))
            {
                throw item.Error("volume_folder", "must be a relative folder name without '..'");
            }

            if (useVolume && volumeFolder is null)
            {
                throw item.Error("volume_folder", "is required when use_volume is true");
            }

            var directory = useVolume
                ? Path.Combine(cacheRoot, volumeFolder!)
                : Path.Combine(dataDirectory, volumeFolder ?? repoId.Replace("/", "__", StringComparison.Ordinal));
            entries.Add(new ModelCacheEntry(
                repoId,
                revision,
                new HubFileFilter(item.GetStringList("allow_patterns"), item.GetStringList("ignore_patterns")),
                volumeFolder,
                useVolume,
                item.GetString("runtime_secret_name", DefaultSecretName)!,
                Path.GetFullPath(directory)));
        }

        return new ModelCacheSettings(cacheRoot, entries);
    }

    private static bool IsSafeFolder(string folder)
    {
        if (folder.Length == 0 || Path.IsPathRooted(folder) || folder.Contains('\\'))
        {
            return false;
        }

        foreach (var segment in folder.Split('/'))
        {
            if (segment is ".." or "")
            {
                return false;
            }
        }

        return true;
    }
}
