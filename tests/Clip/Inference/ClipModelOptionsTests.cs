using Clip.Inference;

namespace Truss.Clip.Tests.Clip.Inference;

public class ClipModelOptionsTests
{
    [Test]
    public void Init_NegativeIntraOpThreads_ThrowsNamingTheOption()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(
            () => _ = new ClipModelOptions { ModelDirectory = "m", IntraOpThreads = -1 });

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.IntraOpThreads)));
    }

    [Test]
    public void Init_NegativeInterOpThreads_ThrowsNamingTheOption()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(
            () => _ = new ClipModelOptions { ModelDirectory = "m", InterOpThreads = -2 });

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.InterOpThreads)));
    }

    [Test]
    public void Init_NegativeCudaDeviceId_ThrowsNamingTheOption()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(
            () => _ = new ClipModelOptions { ModelDirectory = "m", CudaDeviceId = -1 });

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.CudaDeviceId)));
    }

    [Test]
    public void Init_BlankModelDirectory_ThrowsNamingTheOption()
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new ClipModelOptions { ModelDirectory = " " });

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.ModelDirectory)));
    }

    [Test]
    public void Init_VariantWithPathCharacters_ThrowsNamingTheOption()
    {
        var e = Assert.Throws<ArgumentException>(
            () => _ = new ClipModelOptions { ModelDirectory = "m", ModelFileVariant = "../fp16" });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.ModelFileVariant)));
            Assert.That(e.Message, Does.Contain("\"../fp16\""));
        }
    }

    [Test]
    public void Init_BlankTensorName_ThrowsNamingTheOption()
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new ClipModelOptions { ModelDirectory = "m", TextInputName = "" });

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.TextInputName)));
    }

    [Test]
    public void Validate_CombinedLayoutWithTowerPaths_ThrowsNamingTheLayout()
    {
        var options = new ClipModelOptions
        {
            ModelDirectory = "m",
            Layout = ClipModelLayout.Combined,
            TextModelPath = "text.onnx",
        };

        var e = Assert.Throws<ArgumentException>(options.Validate);

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.Layout)));
    }

    [Test]
    public void Validate_VariantWithImmichLayout_ThrowsNamingTheVariant()
    {
        var options = new ClipModelOptions
        {
            ModelDirectory = "m",
            Layout = ClipModelLayout.Immich,
            ModelFileVariant = "fp16",
        };

        var e = Assert.Throws<ArgumentException>(options.Validate);

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.ModelFileVariant)));
    }

    [Test]
    public void Validate_DefaultsWithDirectory_Passes()
    {
        var options = new ClipModelOptions { ModelDirectory = "m" };

        Assert.That(options.Validate, Throws.Nothing);
    }
}
