using Truss.Server.ModelCache;

namespace Truss.Clip.Tests.Truss.Server.ModelCache;

public class HubFileFilterTests
{
    [TestCase("*.json", "config.json", true)]
    [TestCase("*.json", "textual/tokenizer.json", true, Description = "fnmatch's * crosses '/'")]
    [TestCase("onnx/*.onnx", "onnx/vision_model.onnx", true)]
    [TestCase("onnx/*.onnx", "onnx/vision_model.onnx_data", false)]
    [TestCase("onnx/*.onnx", "vision_model.onnx", false)]
    [TestCase("model.?nnx", "model.onnx", true)]
    [TestCase("model_[fq]*.onnx", "model_fp16.onnx", true)]
    [TestCase("model_[!fq]*.onnx", "model_fp16.onnx", false)]
    [TestCase("model_[!fq]*.onnx", "model_int8.onnx", true)]
    [TestCase("[a-c].txt", "b.txt", true)]
    [TestCase("[.txt", "[.txt", true, Description = "an unclosed '[' is literal")]
    [TestCase("a+b(1).json", "a+b(1).json", true, Description = "regex characters are literal")]
    [TestCase("*.JSON", "config.json", false, Description = "case-sensitive, as on Linux")]
    public void GlobMatches_FnmatchPatterns_MatchAsPython(string pattern, string path, bool expected)
    {
        Assert.That(HubFileFilter.GlobMatches(pattern, path), Is.EqualTo(expected));
    }

    [Test]
    public void Includes_AllowAndIgnore_KeepsAllowedMinusIgnored()
    {
        var filter = new HubFileFilter(["onnx/", "*.json"], ["*_fp16.onnx", "onnx/*.json"]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(filter.Includes("onnx/text_model.onnx"), Is.True, "a trailing '/' means everything under the folder");
            Assert.That(filter.Includes("onnx/text_model_fp16.onnx"), Is.False);
            Assert.That(filter.Includes("config.json"), Is.True);
            Assert.That(filter.Includes("onnx/config.json"), Is.False);
            Assert.That(filter.Includes("merges.txt"), Is.False);
        }
    }

    [Test]
    public void Includes_NoAllowPatterns_KeepsEverythingNotIgnored()
    {
        var filter = new HubFileFilter(ignorePatterns: ["*.bin"]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(filter.Includes("a/b/c.onnx"), Is.True);
            Assert.That(filter.Includes("pytorch_model.bin"), Is.False);
            Assert.That(HubFileFilter.All.Includes("anything"), Is.True);
        }
    }
}
