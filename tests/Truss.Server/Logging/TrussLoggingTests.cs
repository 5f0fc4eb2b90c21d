using System.Text.Json;
using Serilog.Context;
using Truss.Clip.Tests.Support;
using Truss.Server.Logging;

namespace Truss.Clip.Tests.Truss.Server.Logging;

public class TrussLoggingTests
{
    [Test]
    public void JsonMode_WritesTrussKeysAndStructuredProperties()
    {
        using var capture = new LogCapture();
        using (var logger = TrussLogging.CreateLogger(json: true, debug: false, capture))
        using (LogContext.PushProperty("request_id", "r-1"))
        {
            logger.Warning(new InvalidOperationException("boom"), "Took {ElapsedMs} ms", 12.5);
            logger.Debug("hidden at info level");
        }

        var line = capture.JsonLines().Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(line.GetProperty("levelname").GetString(), Is.EqualTo("WARNING"));
            Assert.That(line.GetProperty("message").GetString(), Is.EqualTo("Took 12.5 ms"));
            Assert.That(line.GetProperty("request_id").GetString(), Is.EqualTo("r-1"));
            Assert.That(line.GetProperty("ElapsedMs").GetDouble(), Is.EqualTo(12.5));
            Assert.That(line.GetProperty("exc_info").GetString(), Does.Contain("InvalidOperationException: boom"));
            Assert.That(DateTime.TryParse(line.GetProperty("asctime").GetString(), out _), Is.True);
        }
    }

    [Test]
    public void TextMode_IsHumanReadable()
    {
        using var capture = new LogCapture();
        using (var logger = TrussLogging.CreateLogger(json: false, debug: true, capture))
        using (LogContext.PushProperty("request_id", "r-2"))
        {
            logger.Debug("Loaded {Count} labels", 3);
        }

        var line = capture.Lines.Single(l => l.Length > 0);
        Assert.That(line, Does.Match(@"^\[\d\d:\d\d:\d\d DBG\] Loaded 3 labels \[request r-2\]$"));
        Assert.That(() => JsonDocument.Parse(line), Throws.InstanceOf<JsonException>());
    }

    [TestCase(null, true)]
    [TestCase("", true)]
    [TestCase("1", false)]
    [TestCase("true", false)]
    public void JsonByDefault_DisabledByDisableJsonLogging(string? value, bool json) =>
        Assert.That(TrussLogging.JsonByDefault(name => name == "DISABLE_JSON_LOGGING" ? value : null), Is.EqualTo(json));
}
