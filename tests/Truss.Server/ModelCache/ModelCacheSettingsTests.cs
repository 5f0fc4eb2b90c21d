using Truss.Server.Configuration;

namespace Truss.Clip.Tests.Truss.Server.ModelCache;

public class ModelCacheSettingsTests
{
    private static TrussConfig Parse(string yaml) => TrussConfig.Parse(new StringReader(yaml), "/srv/truss");

    [Test]
    public void Parse_NoModelCache_HasNoEntriesAndTheTrussRoot()
    {
        var config = Parse("model_name: clip\n");

        Assert.That(config.ModelCache.Entries, Is.Empty);
        Assert.That(config.ModelCache.Root, Is.EqualTo("/app/model_cache"));
    }

    [Test]
    public void Parse_FullEntries_ReadsEveryKeyAndResolvesFolders()
    {
        var config = Parse("""
            data_dir: weights
            model_cache:
              - repo_id: Xenova/clip-vit-base-patch32
                revision: 3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268
                allow_patterns: ["onnx/*_fp16.onnx", "*.json"]
                ignore_patterns: ["*.md"]
                use_volume: true
                volume_folder: clip
                kind: hf
                runtime_secret_name: my_hf_token
              - repo_id: immich-app/ViT-B-32__openai
              - repo_id: owner/other
                volume_folder: other/
            model_metadata:
              server:
                model_cache_dir: cache
            """);

        var entries = config.ModelCache.Entries;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(config.ModelCache.Root, Is.EqualTo("/srv/truss/cache"));
            Assert.That(entries, Has.Count.EqualTo(3));
            Assert.That(entries[0].RepoId, Is.EqualTo("Xenova/clip-vit-base-patch32"));
            Assert.That(entries[0].Revision, Is.EqualTo("3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268"));
            Assert.That(entries[0].Filter.AllowPatterns, Is.EqualTo(new[] { "onnx/*_fp16.onnx", "*.json" }));
            Assert.That(entries[0].Filter.IgnorePatterns, Is.EqualTo(new[] { "*.md" }));
            Assert.That(entries[0].RuntimeSecretName, Is.EqualTo("my_hf_token"));
            Assert.That(entries[0].Directory, Is.EqualTo("/srv/truss/cache/clip"), "use_volume: under the cache root");
            Assert.That(entries[1].Revision, Is.EqualTo("main"));
            Assert.That(entries[1].RuntimeSecretName, Is.EqualTo("hf_access_token"));
            Assert.That(entries[1].Filter.AllowPatterns, Is.Empty);
            Assert.That(entries[1].Directory, Is.EqualTo("/srv/truss/weights/immich-app__ViT-B-32__openai"), "no volume: under data_dir");
            Assert.That(entries[2].Directory, Is.EqualTo("/srv/truss/weights/other"));
        }
    }

    [TestCase("model_cache:\n  - repo_id: a/b\n    kind: gcs\n",
        "config.yaml: model_cache[0].kind is not supported by this server: only 'hf' (Hugging Face) repositories can be cached, got 'gcs' (line 3)")]
    [TestCase("model_cache:\n  - revision: main\n", "config.yaml: model_cache[0].repo_id is required (e.g. 'Xenova/clip-vit-base-patch32')")]
    [TestCase("model_cache:\n  - repo_id: a/b\n    use_volume: true\n", "config.yaml: model_cache[0].volume_folder is required when use_volume is true")]
    [TestCase("model_cache:\n  - repo_id: a/b\n    volume_folder: ../x\n", "config.yaml: model_cache[0].volume_folder must be a relative folder name without '..', got '../x' (line 3)")]
    [TestCase("model_cache:\n  - repo_id: not a repo\n", "config.yaml: model_cache[0].repo_id must be a Hugging Face repository id like 'owner/name', got 'not a repo' (line 2)")]
    [TestCase("model_cache: {repo_id: a/b}\n", "config.yaml: model_cache must be a list (line 1)")]
    public void Parse_BadEntry_FailsNamingTheKey(string yaml, string message)
    {
        var error = Assert.Throws<TrussConfigException>(() => Parse(yaml));

        Assert.That(error!.Message, Is.EqualTo(message));
    }
}
