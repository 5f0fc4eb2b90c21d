using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Truss.Clip.Cli;
using Truss.Clip.Tests.Support;
using Truss.Server.Configuration;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests;

/// <summary>
/// The Dockerfile against the executable, config.yaml's docker_server section and the build. (No Docker engine runs
/// here: scripts/container-smoke.sh reproduces the image itself; these tests hold its instructions to the code.)
/// </summary>
public partial class DockerfileTests
{
    private static readonly DockerfileModel Dockerfile = DockerfileModel.Load();

    private static TrussConfig RepositoryConfig => TrussConfig.Load(Path.Combine(RepositoryPaths.RepositoryRoot, "config.yaml"));

    private static DockerfileStage Standalone => Dockerfile.Stage("standalone");

    private static string[] Entrypoint => DockerfileModel.ExecForm(Standalone.Last("ENTRYPOINT")!);

    /// <summary>Where a COPY instruction of the standalone stage puts <paramref name="source"/>.</summary>
    private static string CopyDestination(string source) =>
        Standalone.All("COPY").Select(c => c.Split(' ')).Single(c => c[0] == source)[1];

    private static ParseResult ParseCommandLine(IEnumerable<string> args) => TrussClipCommandLine.CreateRoot().Parse(args.ToArray());

    /// <summary>The tokens of the publish stage's <c>dotnet publish</c> command.</summary>
    private static string[] PublishCommand()
    {
        var run = Dockerfile.Stage("publish").All("RUN").Single(r => r.Contains("dotnet publish", StringComparison.Ordinal));
        return run[run.IndexOf("dotnet publish", StringComparison.Ordinal)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    [Test]
    public void Standalone_IsTheDefaultTargetAndBuildsOnTrussBase()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Dockerfile.Final.Name, Is.EqualTo("standalone"), "a plain `docker build` gives the standalone image");
            Assert.That(Standalone.From, Is.EqualTo("truss-base"), "both targets ship the same binary");
        }
    }

    [Test]
    public void Standalone_ServesOnTheExposedPortOnAllInterfacesByDefault()
    {
        var environment = Dockerfile.Environment(Standalone);
        var command = ParseCommandLine(DockerfileModel.ExecForm(Standalone.Last("CMD")!));
        var port = TrussServerSettings.PortFromEnvironment(name => environment.GetValueOrDefault(name));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(command.Errors, Is.Empty);
            Assert.That(command.CommandResult.Command.Name, Is.EqualTo("serve"));
            Assert.That(command.GetValue<int?>("--port"), Is.Null, "the port comes from INFERENCE_SERVER_PORT, so `docker run -e` can move it");
            Assert.That(port, Is.EqualTo(int.Parse(Standalone.Last("EXPOSE")!, CultureInfo.InvariantCulture)));
            Assert.That(port, Is.EqualTo(8080), "`docker run -p 8080:8080 IMAGE`");
            Assert.That(command.GetValue<string>("--host"), Is.Null);
            Assert.That(RepositoryConfig.Server.Host, Is.EqualTo("0.0.0.0"), "reachable through the container's published port");
            Assert.That(command.GetValue<string>("--config"), Is.EqualTo(CopyDestination("config.yaml")));
            // config.yaml's data_dir and model_dir resolve against its folder, so data/ must sit beside it.
            Assert.That(CopyDestination("data"), Is.EqualTo(Path.Combine(Path.GetDirectoryName(CopyDestination("config.yaml"))!, Path.GetFileName(RepositoryConfig.DataDirectory))));
        }
    }

    [Test]
    public void Entrypoint_IsTheBinaryThePublishStageWrites()
    {
        var publish = PublishCommand();
        var props = File.ReadAllText(Path.Combine(RepositoryPaths.RepositoryRoot, "Directory.Build.props"));
        string After(string flag) => publish[Array.IndexOf(publish, flag) + 1];

        using (Assert.EnterMultipleScope())
        {
            Assert.That(publish[2], Is.EqualTo("Truss.Clip.csproj"));
            Assert.That(After("-c"), Is.EqualTo("Release"));
            Assert.That(props, Does.Contain($"<RuntimeIdentifier>{After("-r")}</RuntimeIdentifier>"), "the RID the tests run with");
            Assert.That(After("--self-contained"), Is.EqualTo("true"), "the runtime images have no .NET of their own");
            Assert.That(Entrypoint, Is.EqualTo(new[] { After("-o") + "/Truss.Clip" }));
            Assert.That(Dockerfile.Stage("truss-base").All("COPY"), Does.Contain($"--from=publish {After("-o")} {After("-o")}"));
        }
    }

    [Test]
    public void Healthcheck_RunsTheHealthcheckCommandOfTheSameBinary()
    {
        var healthcheck = Standalone.Last("HEALTHCHECK")!;
        var exec = DockerfileModel.ExecForm(healthcheck[(healthcheck.IndexOf(" CMD ", StringComparison.Ordinal) + 5)..]);
        var parsed = ParseCommandLine(exec.Skip(1));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exec[0], Is.EqualTo(Entrypoint[0]));
            Assert.That(parsed.Errors, Is.Empty);
            Assert.That(parsed.CommandResult.Command.Name, Is.EqualTo("healthcheck"));
            Assert.That(healthcheck, Does.Contain("--start-period="), "model loading must not count as unhealthy");
        }
    }

    [Test]
    public void Standalone_RunsAsUid60000WithHomeHomeApp()
    {
        var setup = Standalone.All("RUN").Single(r => r.Contains("useradd", StringComparison.Ordinal));
        var environment = Dockerfile.Environment(Standalone);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Standalone.Last("USER"), Is.EqualTo("60000:60000"));
            Assert.That(setup, Does.Contain("groupadd --gid 60000 app"));
            Assert.That(setup, Does.Contain("useradd --uid 60000 --gid 60000 --create-home --home-dir /home/app"));
            Assert.That(environment["HOME"], Is.EqualTo("/home/app"));
            Assert.That(setup, Does.Contain($"install -d -o 60000 -g 60000 {RepositoryConfig.ModelCache.Root}"), "model_cache downloads");
            Assert.That(Standalone.Last("WORKDIR"), Is.EqualTo(Path.GetDirectoryName(CopyDestination("config.yaml"))));
        }
    }

    [TestCase("cpu")]
    [TestCase("gpu")]
    public void TrussBase_LeavesTheUserToTrussAndHasWhatItsBuildRuns(string flavor)
    {
        // Truss's docker_server build runs `useradd -u 60000 ... app` (which fails when the user exists), checks
        // /etc/os-release for Debian and runs python3 from the base image.
        var lineage = Dockerfile.Lineage(Dockerfile.Stage("truss-base"), flavor).ToList();
        var runs = lineage.SelectMany(s => s.All("RUN")).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(lineage.Select(s => s.Name), Does.Contain("runtime-" + flavor));
            Assert.That(lineage[^1].From, Does.EndWith("ubuntu24.04").Or.EqualTo("ubuntu:24.04"), "Debian-like with apt and python3 3.12");
            Assert.That(lineage.SelectMany(s => s.All("USER")), Is.Empty);
            Assert.That(runs, Has.None.Contains("useradd"));
            Assert.That(runs, Has.Some.Matches<string>(r => r is not null && Regex.IsMatch(r, @"apt-get install .*\bpython3\b")));
        }
    }

    [TestCase("cpu")]
    [TestCase("gpu")]
    public void TrussBase_InstallsTurboJpegUnderItsUbuntuName(string flavor)
    {
        // ImageDecoder dlopens libturbojpeg.so.0 for SIMD JPEG decoding; Ubuntu packages it as libturbojpeg
        // (libturbojpeg0 is Debian's name for the same library).
        var runs = Dockerfile.Lineage(Dockerfile.Stage("truss-base"), flavor).SelectMany(s => s.All("RUN")).ToList();

        Assert.That(runs, Has.Some.Matches<string>(r => r is not null && Regex.IsMatch(r, @"apt-get install .*\blibturbojpeg\s")));
    }

    [Test]
    public void GpuFlavor_MatchesTheCudaMajorOfOnnxRuntimesProvider()
    {
        var provider = Path.Combine(TestContext.CurrentContext.TestDirectory, "libonnxruntime_providers_cuda.so");
        var cudaMajor = LibraryMajorVersion(provider, "libcudart.so.");
        var gpuBase = Dockerfile.Stage("runtime-gpu").From;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(gpuBase, Does.StartWith($"nvidia/cuda:{cudaMajor}."), $"{Path.GetFileName(provider)} needs libcudart.so.{cudaMajor}");
            Assert.That(gpuBase, Does.Contain("-cudnn-runtime-"), "the CUDA provider loads cuDNN 9 at run time");
            Assert.That(Dockerfile.Environment(Standalone, "gpu").GetValueOrDefault(ClipSettings.ExecutionDeviceVariable), Is.EqualTo("cuda"));
            Assert.That(Dockerfile.Environment(Standalone, "cpu"), Does.Not.ContainKey(ClipSettings.ExecutionDeviceVariable));
        }
    }

    [Test]
    public void CpuFlavor_DropsOnlyProviderLibrariesThePublishWrites()
    {
        var run = Dockerfile.Stage("publish").All("RUN").Single(r => r.Contains("\"$FLAVOR\" = cpu", StringComparison.Ordinal));
        var removed = Regex.Matches(run, @"/opt/truss-clip/(\S+\.so)").Select(m => m.Groups[1].Value).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(removed, Is.EquivalentTo(new[] { "libonnxruntime_providers_cuda.so", "libonnxruntime_providers_tensorrt.so" }));
            foreach (var library in removed)
            {
                Assert.That(File.Exists(Path.Combine(TestContext.CurrentContext.TestDirectory, library)), Is.True, library);
            }
        }
    }

    [Test]
    public void DockerIgnore_KeepsWhatThePublishAndTheImageNeed()
    {
        var patterns = File.ReadAllLines(Path.Combine(RepositoryPaths.RepositoryRoot, ".dockerignore"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var project = File.ReadAllText(Path.Combine(RepositoryPaths.RepositoryRoot, "Truss.Clip.csproj"));
        var needed = new[] { "Program.cs", "cli", "model", "packages", "data", "config.yaml", "Directory.Build.props", "Directory.Packages.props", "Truss.Clip.csproj" };

        using (Assert.EnterMultipleScope())
        {
            Assert.That(project, Does.Contain("""<Compile Include="Program.cs;cli/**/*.cs;model/**/*.cs" />"""), "update `needed` with the project's sources");
            foreach (var path in needed)
            {
                Assert.That(patterns, Has.None.EqualTo(path).And.None.EqualTo("**/" + path), path);
            }

            Assert.That(patterns, Is.SupersetOf(new[] { "**/bin", "**/obj", ".git", "tests" }), "build outputs and tests stay out of the context");
            Assert.That(patterns, Has.None.StartsWith("!"), "scripts/container-smoke.sh reproduces no negations");
        }
    }

    [Test]
    public void DockerServer_StartCommandRunsTheImageBinaryOnServerPort()
    {
        var dockerServer = RepositoryConfig.Root.GetSection("docker_server");
        var startCommand = dockerServer.GetString("start_command")!;
        var serverPort = dockerServer.GetInt32("server_port", 0);
        var shell = StartCommandShape().Match(startCommand);
        Assert.That(shell.Success, Is.True, $"start_command is `sh -c \"cd DIR && exec BINARY ARGS\"`, got {startCommand}");
        var exec = shell.Groups["exec"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var parsed = ParseCommandLine(exec.Skip(1));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exec[0], Is.EqualTo(Entrypoint[0]), "the binary the image ships");
            Assert.That(parsed.Errors, Is.Empty);
            Assert.That(parsed.CommandResult.Command.Name, Is.EqualTo("serve"));
            // Truss copies config.yaml to /app/config.yaml, where the standalone image has it too.
            Assert.That(parsed.GetValue<string>("--config"), Is.EqualTo("/app/config.yaml").And.EqualTo(CopyDestination("config.yaml")));
            Assert.That(shell.Groups["dir"].Value, Is.EqualTo("/app"));
            Assert.That(parsed.GetValue<int?>("--port"), Is.EqualTo(serverPort));
            Assert.That(serverPort, Is.Not.EqualTo(8080), "nginx owns 8080 under docker_server");
        }
    }

    [Test]
    public async Task DockerServer_EndpointsAreRoutesTheServerAnswers()
    {
        var dockerServer = RepositoryConfig.Root.GetSection("docker_server");
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);
        var livenessLoading = await server.Client.GetAsync(dockerServer.GetString("liveness_endpoint"));
        var readinessLoading = await server.Client.GetAsync(dockerServer.GetString("readiness_endpoint"));
        model.LoadGate.Set();
        await server.WaitUntilReadyAsync();
        var readiness = await server.Client.GetAsync(dockerServer.GetString("readiness_endpoint"));
        using var body = new StringContent("""{"labels": ["x"]}""", Encoding.UTF8, "application/json");
        var predict = await server.Client.PostAsync(dockerServer.GetString("predict_endpoint"), body);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(livenessLoading.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(readinessLoading.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(readiness.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(predict.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(await predict.Content.ReadAsStringAsync(), Is.EqualTo("""{"labels": ["x"]}"""));
        }
    }

    [Test]
    public void BaseImage_IsWhatTheReadmeBuildsFromTheTrussBaseTarget()
    {
        var image = RepositoryConfig.Root.GetSection("base_image").GetString("image")!;
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.RepositoryRoot, "README.md"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(readme, Does.Contain($"docker build --target truss-base -t {image} ."));
            Assert.That(readme, Does.Contain($"docker push {image}"));
        }
    }

    /// <summary>The <c>NN</c> of the first <c>prefixNN</c> (e.g. <c>libcudart.so.13</c>) in a shared library's bytes.</summary>
    private static int LibraryMajorVersion(string path, string prefix)
    {
        var needle = Encoding.ASCII.GetBytes(prefix);
        var buffer = new byte[1 << 20];
        using var file = File.OpenRead(path);
        var carried = 0;
        int read;
        while ((read = file.Read(buffer, carried, buffer.Length - carried)) > 0)
        {
            var window = buffer.AsSpan(0, carried + read);
            var at = window.IndexOf(needle);
            if (at >= 0 && at + needle.Length + 3 <= window.Length)
            {
                var digits = window[(at + needle.Length)..];
                var length = digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9');
                return int.Parse(Encoding.ASCII.GetString(digits[..length]), CultureInfo.InvariantCulture);
            }

            // Keep the tail so a name split across reads is still found.
            carried = Math.Min(window.Length, needle.Length + 8);
            window[^carried..].CopyTo(buffer);
        }

        throw new InvalidDataException($"{path} names no {prefix}*");
    }

    [GeneratedRegex("""^sh -c "cd (?<dir>\S+) && exec (?<exec>[^"]+)"$""")]
    private static partial Regex StartCommandShape();
}
