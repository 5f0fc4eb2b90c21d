using System.Globalization;
using System.Net;
using System.Text;
using Truss.Clip.Tests.Support;
using Truss.Server.Configuration;
using Truss.Server.Hosting;
using YamlDotNet.RepresentationModel;

namespace Truss.Clip.Tests.deploy;

/// <summary>
/// deploy/kubernetes and deploy/kserve against what the image and the server actually do: ports, probes (asked of a
/// real server on loopback), user, environment, writable paths and graceful termination.
/// </summary>
public class DeployManifestTests
{
    private const string BaseDeployment = "kubernetes/base/deployment.yaml";
    private const string GpuOverlay = "kubernetes/gpu";
    private const string KServe = "kserve/inferenceservice.yaml";

    private static readonly DockerfileModel Dockerfile = DockerfileModel.Load();

    private static int ImagePort => int.Parse(Dockerfile.Final.Last("EXPOSE")!, CultureInfo.InvariantCulture);

    private static TrussConfig RepositoryConfig => TrussConfig.Load(Path.Combine(RepositoryPaths.RepositoryRoot, "config.yaml"));

    /// <summary>The pod spec each deployment variant runs (the GPU one with its kustomize patch applied).</summary>
    private static YamlMappingNode PodSpec(string variant) => variant switch
    {
        BaseDeployment => ManifestYaml.Load(BaseDeployment).Map("spec.template.spec"),
        GpuOverlay => GpuDeployment().Map("spec.template.spec"),
        KServe => ManifestYaml.Load(KServe).Map("spec.predictor"),
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    private static YamlMappingNode GpuDeployment()
    {
        var kustomization = ManifestYaml.Load(Path.Combine(GpuOverlay, "kustomization.yaml"));
        var deployment = ManifestYaml.Load(BaseDeployment);
        foreach (var patch in kustomization.Maps("patches"))
        {
            ManifestYaml.MergeInto(deployment, ManifestYaml.Load(Path.Combine(GpuOverlay, patch.Str("path")!)));
        }

        return deployment;
    }

    private static YamlMappingNode ServingContainer(YamlMappingNode podSpec) => podSpec.Maps("containers").Single();

    private static Dictionary<string, string> Env(YamlMappingNode container) =>
        container.Maps("env").ToDictionary(e => e.Str("name")!, e => e.Str("value")!, StringComparer.Ordinal);

    [Test]
    public void EveryManifest_IsYamlWithApiVersionAndKind()
    {
        var documents = ManifestYaml.LoadAll();

        Assert.That(documents, Has.Count.GreaterThanOrEqualTo(8));
        using (Assert.EnterMultipleScope())
        {
            foreach (var (file, document) in documents)
            {
                Assert.That(document.Str("apiVersion"), Is.Not.Null.And.Not.Empty, file);
                Assert.That(document.Str("kind"), Is.Not.Null.And.Not.Empty, file);
            }
        }
    }

    [Test]
    public void Kustomizations_NameFilesThatExist()
    {
        using (Assert.EnterMultipleScope())
        {
            foreach (var directory in new[] { "kubernetes/base", GpuOverlay })
            {
                var kustomization = ManifestYaml.Load(Path.Combine(directory, "kustomization.yaml"));
                var referenced = kustomization.Strings("resources").Concat(kustomization.Maps("patches").Select(p => p.Str("path")!));
                foreach (var item in referenced)
                {
                    var path = Path.Combine(ManifestYaml.DeployDirectory, directory, item);
                    Assert.That(File.Exists(path) || Directory.Exists(path), Is.True, $"{directory}: {item}");
                }
            }
        }
    }

    [TestCase(BaseDeployment)]
    [TestCase(GpuOverlay)]
    [TestCase(KServe)]
    public void ContainerPortAndProbePorts_AreTheImagePort(string variant)
    {
        var container = ServingContainer(PodSpec(variant));
        var ports = container.Maps("ports");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ports.Select(p => p.Int("containerPort")).ToList(), Is.EqualTo(new[] { ImagePort }), "the Dockerfile's EXPOSE");
            foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
            {
                var port = container.Map(probe + ".httpGet").Str("port")!;
                var resolved = int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                    ? number
                    : ports.Single(p => p.Str("name") == port).Int("containerPort");
                Assert.That(resolved, Is.EqualTo(ImagePort), $"{probe} port '{port}'");
            }
        }
    }

    [TestCase(BaseDeployment)]
    [TestCase(GpuOverlay)]
    [TestCase(KServe)]
    public async Task Probes_AnswerAsKubernetesNeedsWhileLoadingAndWhenReady(string variant)
    {
        var container = ServingContainer(PodSpec(variant));
        string PathOf(string probe) => container.Map(probe + ".httpGet").Str("path")!;
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);

        // While loading: alive (no restart), not started, not ready (no traffic).
        var livenessLoading = await server.Client.GetAsync(PathOf("livenessProbe"));
        var startupLoading = await server.Client.GetAsync(PathOf("startupProbe"));
        var readinessLoading = await server.Client.GetAsync(PathOf("readinessProbe"));
        model.LoadGate.Set();
        await server.WaitUntilReadyAsync();
        var paths = new[] { "startupProbe", "readinessProbe", "livenessProbe" }.Select(PathOf).ToArray();
        var ready = await Task.WhenAll(paths.Select(path => server.Client.GetAsync(path)));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(livenessLoading.StatusCode, Is.EqualTo(HttpStatusCode.OK), "liveness while loading");
            Assert.That(startupLoading.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "startup while loading");
            Assert.That(readinessLoading.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "readiness while loading");
            Assert.That(ready.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.OK), string.Join(", ", paths));
        }
    }

    [TestCase(BaseDeployment)]
    [TestCase(GpuOverlay)]
    [TestCase(KServe)]
    public void SecurityContext_RunsAsTheImageUserWithAReadOnlyRoot(string variant)
    {
        var pod = PodSpec(variant);
        var container = ServingContainer(pod);
        var imageUser = Dockerfile.Final.Last("USER")!.Split(':');
        var mounts = container.Maps("volumeMounts").Select(m => m.Str("mountPath")).ToList();
        var volumes = pod.Maps("volumes").Select(v => v.Str("name")).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(pod.Map("securityContext").Str("runAsUser"), Is.EqualTo(imageUser[0]), "the Dockerfile's USER");
            Assert.That(pod.Map("securityContext").Str("runAsGroup"), Is.EqualTo(imageUser[1]));
            Assert.That(pod.Map("securityContext").Str("runAsNonRoot"), Is.EqualTo("true"));
            Assert.That(container.Map("securityContext").Str("allowPrivilegeEscalation"), Is.EqualTo("false"));
            Assert.That(container.Map("securityContext").Str("readOnlyRootFilesystem"), Is.EqualTo("true"));
            // What the server writes (scripts/container-smoke.sh runs it on a read-only root): .NET's diagnostics
            // sockets in /tmp, and model_cache downloads under model_metadata.server.model_cache_dir.
            Assert.That(mounts, Does.Contain("/tmp"));
            Assert.That(mounts, Does.Contain(RepositoryConfig.ModelCache.Root));
            Assert.That(container.Maps("volumeMounts").Select(m => m.Str("name")), Is.SubsetOf(volumes));
        }
    }

    [TestCase(BaseDeployment)]
    [TestCase(GpuOverlay)]
    [TestCase(KServe)]
    public void Environment_OnlyVariablesTheServerReads_WithValuesItAccepts(string variant)
    {
        var env = Env(ServingContainer(PodSpec(variant)));
        var known = ManifestYaml.EnvironmentVariablesTheServerReads();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(env.Keys, Is.SubsetOf(known), "names the server's code reads");
            Assert.That(env, Does.Not.ContainKey("DISABLE_JSON_LOGGING"), "JSON logs are what collectors parse");
            if (env.TryGetValue("INFERENCE_SERVER_PORT", out var port))
            {
                Assert.That(TrussServerSettings.PortFromEnvironment(name => env.GetValueOrDefault(name)), Is.EqualTo(ImagePort), port);
            }

            Assert.That(() => ClipSettings.From(RepositoryConfig, null, name => env.GetValueOrDefault(name)), Throws.Nothing);
        }
    }

    [TestCase(BaseDeployment)]
    [TestCase(GpuOverlay)]
    [TestCase(KServe)]
    public void TerminationGracePeriod_CoversPreStopAndTheServersShutdownTimeout(string variant)
    {
        var pod = PodSpec(variant);
        var container = ServingContainer(pod);
        var preStopSeconds = 0;
        if (container.Has("lifecycle"))
        {
            var command = container.Map("lifecycle.preStop.exec").Strings("command");
            Assert.That(command[0], Is.EqualTo("sleep"));
            preStopSeconds = int.Parse(command[1], CultureInfo.InvariantCulture);
        }

        var grace = pod.Int("terminationGracePeriodSeconds");

        Assert.That(grace, Is.GreaterThanOrEqualTo(RepositoryConfig.Server.ShutdownTimeout.TotalSeconds + preStopSeconds));
    }

    [TestCase(BaseDeployment)]
    [TestCase(GpuOverlay)]
    [TestCase(KServe)]
    public void Resources_RequestCpuForTheAutoscaler(string variant)
    {
        var requests = ServingContainer(PodSpec(variant)).Map("resources.requests");

        Assert.That(requests.Str("cpu"), Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public void GpuOverlay_OneGpuOnGpuNodesWithTheGpuImage()
    {
        var pod = PodSpec(GpuOverlay);
        var container = ServingContainer(pod);
        var env = Env(container);
        var kustomization = ManifestYaml.Load(Path.Combine(GpuOverlay, "kustomization.yaml"));
        var settings = ClipSettings.From(RepositoryConfig, null, name => env.GetValueOrDefault(name));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(container.Map("resources.limits").Str("nvidia.com/gpu"), Is.EqualTo("1"));
            Assert.That(pod.Maps("tolerations").Select(t => t.Str("key")), Does.Contain("nvidia.com/gpu"));
            Assert.That(pod.Has("nodeSelector"), Is.True);
            Assert.That(kustomization.Maps("images").Single().Str("newTag"), Is.EqualTo("gpu"));
            Assert.That(settings.Engine.Model.UseCuda, Is.True, "the GPU deployment runs the model on CUDA");
            Assert.That(ServingContainer(PodSpec(BaseDeployment)).Map("resources.limits").Has("nvidia.com/gpu"), Is.False, "the CPU base asks for no GPU");
        }
    }

    [Test]
    public void ServiceHpaAndPdb_PointAtTheDeploymentAndItsPort()
    {
        var deployment = ManifestYaml.Load(BaseDeployment);
        var podLabels = deployment.Map("spec.template.metadata.labels").Children
            .ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => ((YamlScalarNode)e.Value).Value!);
        var service = ManifestYaml.Load("kubernetes/base/service.yaml");
        var hpa = ManifestYaml.Load("kubernetes/base/hpa.yaml");
        var pdb = ManifestYaml.Load("kubernetes/base/pdb.yaml");
        var portNames = ServingContainer(deployment.Map("spec.template.spec")).Maps("ports").Select(p => p.Str("name"));

        static IEnumerable<KeyValuePair<string, string>> Labels(YamlMappingNode map) =>
            map.Children.Select(e => KeyValuePair.Create(((YamlScalarNode)e.Key).Value!, ((YamlScalarNode)e.Value).Value!));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Labels(service.Map("spec.selector")), Is.SubsetOf(podLabels));
            Assert.That(Labels(pdb.Map("spec.selector.matchLabels")), Is.SubsetOf(podLabels));
            Assert.That(Labels(deployment.Map("spec.selector.matchLabels")), Is.SubsetOf(podLabels));
            Assert.That(service.Map("spec").Maps("ports").Select(p => p.Str("targetPort")), Is.SubsetOf(portNames));
            Assert.That(hpa.Map("spec.scaleTargetRef").Str("kind"), Is.EqualTo("Deployment"));
            Assert.That(hpa.Map("spec.scaleTargetRef").Str("name"), Is.EqualTo(deployment.Map("metadata").Str("name")));
            Assert.That(hpa.Map("spec").Maps("metrics").Select(m => m.Map("resource").Str("name")), Is.EqualTo(new[] { "cpu" }));
            Assert.That(deployment.Map("spec").Has("replicas"), Is.False, "the HPA owns the replica count");
        }
    }

    [Test]
    public async Task KServe_CustomPredictorAnswersKServeV1PredictForModelNamedModel()
    {
        var inferenceService = ManifestYaml.Load(KServe);
        var container = ServingContainer(inferenceService.Map("spec.predictor"));
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        // KServe's v1 protocol: POST /v1/models/<name>:predict with {"instances": [...]}; the route passes as is.
        using var body = new StringContent("""{"instances": [1, 2]}""", Encoding.UTF8, "application/json");
        var response = await server.Client.PostAsync("/v1/models/model:predict", body);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(container.Str("name"), Is.EqualTo("kserve-container"), "KServe's name for a custom predictor");
            Assert.That(container.Str("image"), Does.EndWith(":cpu"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("""{"instances": [1, 2]}"""));
        }
    }
}
