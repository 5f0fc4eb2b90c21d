using Truss.Server.Configuration;

namespace Truss.Clip.Tests.Truss.Server.Configuration;

public class TrussConfigTests
{
    private static TrussConfig Parse(string yaml) => TrussConfig.Parse(new StringReader(yaml), "/srv/truss");

    [Test]
    public void Parse_Minimal_GivesTrussDefaults()
    {
        var config = Parse("model_name: clip\n");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(config.ModelName, Is.EqualTo("clip"));
            Assert.That(config.PredictConcurrency, Is.EqualTo(1));
            Assert.That(config.DataDirectory, Is.EqualTo("/srv/truss/data"));
            Assert.That(config.UseGpu, Is.False);
            Assert.That(config.Server.MaxRequestBodyBytes, Is.EqualTo(100L * 1024 * 1024));
            Assert.That(config.Server.MaxQueuedPredictions, Is.EqualTo(256));
            Assert.That(config.Server.Host, Is.EqualTo("0.0.0.0"));
            Assert.That(config.Server.ShutdownTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
            Assert.That(config.Server.Metrics, Is.True);
            Assert.That(config.Server.MetricsProcess, Is.True);
        }
    }

    [Test]
    public void Parse_FullConfig_ReadsEveryKeyAndIgnoresUnknownOnes()
    {
        var config = Parse("""
            model_name: "CLIP"
            data_dir: weights
            unknown_top_level: 3
            resources:
              accelerator: "H100:2"
              cpu: "3"
              memory: 14Gi
              use_gpu: false
            runtime:
              predict_concurrency: 8
              enable_debug_logs: true
              streaming_read_timeout: 60
            secrets:
              hf_access_token: null
            environment_variables:
              FOO: bar
            model_metadata:
              server:
                max_queued_predictions: 0
                shutdown_timeout_seconds: 2.5
                host: "::"
                metrics: false
                metrics_process: false
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(config.DataDirectory, Is.EqualTo("/srv/truss/weights"));
            Assert.That(config.Accelerator, Is.EqualTo("H100:2"));
            Assert.That(config.UseGpu, Is.True, "use_gpu is computed from accelerator, as truss does");
            Assert.That(config.Cpu, Is.EqualTo("3"));
            Assert.That(config.PredictConcurrency, Is.EqualTo(8));
            Assert.That(config.EnableDebugLogs, Is.True);
            Assert.That(config.Secrets.ContainsKey("hf_access_token"), Is.True);
            Assert.That(config.EnvironmentVariables["FOO"], Is.EqualTo("bar"));
            Assert.That(config.Server.MaxQueuedPredictions, Is.Zero);
            Assert.That(config.Server.ShutdownTimeout, Is.EqualTo(TimeSpan.FromSeconds(2.5)));
            Assert.That(config.Server.Host, Is.EqualTo("::"));
            Assert.That(config.Server.Metrics, Is.False);
            Assert.That(config.Server.MetricsProcess, Is.False);
        }
    }

    [TestCase("model_metadata:\n  server:\n    metrics: on\n", "config.yaml: model_metadata.server.metrics must be true or false, got 'on' (line 3)")]
    [TestCase("model_metadata:\n  server:\n    metrics_process: [1]\n", "config.yaml: model_metadata.server.metrics_process must be true or false (line 3)")]
    [TestCase("runtime:\n  predict_concurrency: many\n", "config.yaml: runtime.predict_concurrency must be an integer ≥ 1, got 'many' (line 2)")]
    [TestCase("runtime:\n  predict_concurrency: 0\n", "config.yaml: runtime.predict_concurrency must be an integer ≥ 1, got '0' (line 2)")]
    [TestCase("runtime: [1, 2]\n", "config.yaml: runtime must be a mapping of keys to values (line 1)")]
    [TestCase("model_metadata:\n  server:\n    max_request_body_bytes: -5\n", "config.yaml: model_metadata.server.max_request_body_bytes must be an integer ≥ 1, got '-5' (line 3)")]
    [TestCase("model_metadata:\n  server:\n    log_requests: sometimes\n", "config.yaml: model_metadata.server.log_requests must be true or false, got 'sometimes' (line 3)")]
    [TestCase("model_metadata:\n  server:\n    max_request_body_bytes: 2000\n    max_buffered_body_bytes: 1000\n", "config.yaml: model_metadata.server.max_buffered_body_bytes must be at least max_request_body_bytes, or a largest request could never be served, got '1000' (line 4)")]
    [TestCase("runtime:\n  enable_debug_logs: yes please\n", "config.yaml: runtime.enable_debug_logs must be true or false, got 'yes please' (line 2)")]
    public void Parse_BadValue_FailsNamingTheKey(string yaml, string message) =>
        Assert.That(() => Parse(yaml), Throws.TypeOf<TrussConfigException>().With.Message.EqualTo(message));

    [Test]
    public void Parse_NotYaml_FailsWithTheLine() =>
        Assert.That(() => Parse("model_name: [unclosed\n"), Throws.TypeOf<TrussConfigException>().With.Message.StartWith("config.yaml: not valid YAML"));

    [Test]
    public void Parse_TopLevelList_Fails() =>
        Assert.That(() => Parse("- a\n- b\n"), Throws.TypeOf<TrussConfigException>().With.Message.Contains("top level must be a mapping"));

    [Test]
    public void Load_MissingFile_SaysSo() =>
        Assert.That(() => TrussConfig.Load("/nonexistent/config.yaml"), Throws.TypeOf<TrussConfigException>().With.Message.Contains("file not found"));

    [Test]
    public void ConfigSection_Getters_ValidateEveryShape()
    {
        var section = Parse("""
            model_metadata:
              clip:
                mean: [0.5, 0.5, 0.5]
                bad_mean: [0.5, x]
                templates: ["a photo of a {}."]
                mode: Squash
                ratio: 0.25
            """).ModelMetadata.GetSection("clip");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(section.GetDoubleList("mean", requiredCount: 3), Is.EqualTo(new[] { 0.5, 0.5, 0.5 }));
            Assert.That(() => section.GetDoubleList("mean", requiredCount: 2), Throws.TypeOf<TrussConfigException>()
                .With.Message.Contains("model_metadata.clip.mean must be a list of exactly 2 numbers"));
            Assert.That(() => section.GetDoubleList("bad_mean"), Throws.TypeOf<TrussConfigException>());
            Assert.That(section.GetStringList("templates"), Is.EqualTo(new[] { "a photo of a {}." }));
            Assert.That(section.GetChoice("mode", "shortest", "shortest", "squash"), Is.EqualTo("squash"));
            Assert.That(() => section.GetChoice("mode", "shortest", "shortest"), Throws.TypeOf<TrussConfigException>()
                .With.Message.Contains("model_metadata.clip.mode must be one of shortest"));
            Assert.That(section.GetDouble("ratio", 1, min: 0, max: 1), Is.EqualTo(0.25));
            Assert.That(() => section.GetDouble("ratio", 1, min: 0.5, max: 1), Throws.TypeOf<TrussConfigException>());
            Assert.That(section.GetDouble("absent", 7), Is.EqualTo(7));
        }
    }
}
