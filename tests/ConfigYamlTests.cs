using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Truss.Clip.Tests.Support;
using Truss.Server.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Truss.Clip.Tests;

/// <summary>The repository's config.yaml is a valid Truss config that this server also accepts.</summary>
public class ConfigYamlTests
{
    private static string ConfigPath => Path.Combine(RepositoryPaths.RepositoryRoot, "config.yaml");

    [Test]
    [Category("Reference")]
    public void ConfigYaml_ValidatesAgainstTrussSchema()
    {
        var schema = LoadTrussSchema();

        var result = schema.Evaluate(ToJson(File.ReadAllText(ConfigPath)), new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.That(result.IsValid, Is.True, Describe(result));
    }

    [Test]
    [Category("Reference")]
    public void SchemaCheck_NumberWhereTrussWantsAString_IsRejected()
    {
        // Guards the test above: truss rejects `cpu: 1` (strings must be strings), so the check must too.
        var schema = LoadTrussSchema();

        var result = schema.Evaluate(ToJson("resources:\n  cpu: 1\n"), new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.That(result.IsValid, Is.False);
    }

    [Test]
    public void ConfigYaml_DeclaresTheTrussRoutesForDockerServer()
    {
        var config = TrussConfig.Load(ConfigPath);
        var dockerServer = config.Root.GetSection("docker_server");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(dockerServer.GetString("predict_endpoint"), Is.EqualTo("/v1/models/model:predict"));
            Assert.That(dockerServer.GetString("readiness_endpoint"), Is.EqualTo("/v1/models/model"));
            Assert.That(dockerServer.GetString("liveness_endpoint"), Is.EqualTo("/"));
            Assert.That(dockerServer.GetInt32("server_port", 0), Is.Not.EqualTo(8080), "8080 is nginx's port under docker_server");
            Assert.That(dockerServer.GetString("start_command"), Does.Contain($"--port {dockerServer.GetInt32("server_port", 0)}"));
            Assert.That(config.PredictConcurrency, Is.GreaterThanOrEqualTo(1));
        }
    }

    // pydantic writes draft 2020-12 schemas with OpenAPI's `discriminator`; that dialect tolerates unknown keywords.
    private static JsonSchema LoadTrussSchema() => JsonSchema.FromText(
        File.ReadAllText(RepositoryPaths.RequireShared("truss/config.schema.json")),
        new BuildOptions { Dialect = Dialect.Draft202012 });

    /// <summary>YAML → JSON with YAML 1.2 core-schema typing: quoted scalars stay strings, plain ones become numbers, booleans or null.</summary>
    internal static JsonElement ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var node = Convert(stream.Documents[0].RootNode);
        return JsonDocument.Parse(node?.ToJsonString() ?? "null").RootElement.Clone();
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(entry =>
            KeyValuePair.Create(((YamlScalarNode)entry.Key).Value!, Convert(entry.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => ConvertScalar(scalar),
        _ => throw new NotSupportedException(node.NodeType.ToString()),
    };

    private static JsonNode? ConvertScalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(text);
        }

        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
        {
            return JsonValue.Create(text.StartsWith('t') || text.StartsWith('T'));
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && !text.Contains(' ')
            ? JsonValue.Create(number)
            : JsonValue.Create(text);
    }

    private static string Describe(EvaluationResults result) =>
        string.Join("\n", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));
}
