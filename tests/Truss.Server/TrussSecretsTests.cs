using Truss.Server;

namespace Truss.Clip.Tests.Truss.Server;

public class TrussSecretsTests
{
    private string _directory = "";

    [SetUp]
    public void CreateSecretsDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "truss-secrets-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteSecretsDirectory() => Directory.Delete(_directory, recursive: true);

    private TrussSecrets Create(Dictionary<string, string?> environment) => new(
        new Dictionary<string, string?> { ["hf_access_token"] = "from-config", ["api_key"] = null, ["empty"] = null },
        _directory,
        name => environment.GetValueOrDefault(name));

    [Test]
    public void Get_FileThenEnvironmentThenConfigDefault()
    {
        var environment = new Dictionary<string, string?> { ["TRUSS_SECRET_hf_access_token"] = "from-env" };
        var secrets = Create(environment);
        Assert.That(secrets.Get("hf_access_token"), Is.EqualTo("from-env"));

        File.WriteAllText(Path.Combine(_directory, "hf_access_token"), "from-file\n");
        Assert.That(secrets.Get("hf_access_token"), Is.EqualTo("from-file\n"), "file contents are used verbatim");

        Assert.That(Create([]).Get("hf_access_token"), Is.Not.EqualTo("from-config"), "the file still wins");
        File.Delete(Path.Combine(_directory, "hf_access_token"));
        Assert.That(Create([]).Get("hf_access_token"), Is.EqualTo("from-config"));
    }

    [Test]
    public void Get_UndeclaredOrEmpty_ThrowsTrussMessage()
    {
        var secrets = Create([]);

        Assert.That(() => secrets.Get("not_declared"),
            Throws.TypeOf<SecretNotFoundException>().With.Message.StartWith("Secret 'not_declared' not found. Please ensure that:"));
        Assert.That(secrets.TryGet("empty", out _), Is.False);
    }

    [Test]
    public void TryGet_NameWithPathSeparators_NeverReadsOutsideTheFolder()
    {
        var secrets = new TrussSecrets(new Dictionary<string, string?> { ["../etc/passwd"] = null }, _directory, _ => null);

        Assert.That(secrets.TryGet("../etc/passwd", out _), Is.False);
    }
}
