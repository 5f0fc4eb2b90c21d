using Clip.Inference;
using Microsoft.Extensions.Logging;
using static Truss.Clip.Tests.Clip.Inference.ModelFixtures;

namespace Truss.Clip.Tests.Clip.Inference;

public class OnnxSessionFactoryTests
{
    [Test]
    public void Load_CudaRequestedWithoutUsableCuda_RunsBothTowersOnCpuWithOneWarning()
    {
        var logger = new CollectingLogger();
        var options = new ClipModelOptions { ModelDirectory = Split, UseCuda = true, IntraOpThreads = 1 };

        using ClipModel model = ClipModel.Load(options, logger);
        if (model.Descriptor.Image.ExecutionProvider == ExecutionProviderKind.Cuda)
        {
            Assert.Ignore("CUDA is usable on this machine, so the CPU fallback cannot be exercised.");
        }

        IReadOnlyList<CollectingLogger.LogEntry> warnings = logger.At(LogLevel.Warning);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Descriptor.Image.ExecutionProvider, Is.EqualTo(ExecutionProviderKind.Cpu));
            Assert.That(model.Descriptor.Text.ExecutionProvider, Is.EqualTo(ExecutionProviderKind.Cpu));
            Assert.That(warnings, Has.Count.EqualTo(1), "one warning for two sessions");
            Assert.That(warnings[0].Message, Does.Contain("CUDA was requested (device 0)").And.Contain("runs on CPU"));
            Assert.That(warnings[0].Exception, Is.Not.Null);
            Assert.That(
                EncodeImages(model, ReferencePixels(), 2),
                Is.EqualTo(Flatten(Expected.ImageEmbeds)).Within(TorchTolerance));
        }
    }

    [Test]
    public void Load_CudaProviderOptionsWithoutUsableCuda_StillFallsBackToCpu()
    {
        var logger = new CollectingLogger();
        var options = new ClipModelOptions
        {
            ModelDirectory = Split,
            UseCuda = true,
            CudaDeviceId = 0,
            CudaProviderOptions = new Dictionary<string, string>
            {
                ["arena_extend_strategy"] = "kSameAsRequested",
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["gpu_mem_limit"] = "2147483648",
            },
        };

        using ClipModel model = ClipModel.Load(options, logger);
        if (model.Descriptor.Image.ExecutionProvider == ExecutionProviderKind.Cuda)
        {
            Assert.Ignore("CUDA is usable on this machine, so the CPU fallback cannot be exercised.");
        }

        Assert.That(model.Descriptor.Text.ExecutionProvider, Is.EqualTo(ExecutionProviderKind.Cpu));
        Assert.That(logger.At(LogLevel.Warning), Has.Count.EqualTo(1));
    }

    [Test]
    public void Create_CorruptFile_ThrowsClipModelExceptionNamingTheFile()
    {
        using var directory = new TempModelDirectory();
        directory.Write("broken.onnx", "not a model");
        string path = Path.Combine(directory.Path, "broken.onnx");
        var factory = new OnnxSessionFactory(new ClipModelOptions { ModelDirectory = directory.Path }, new CollectingLogger());

        var e = Assert.Throws<ClipModelException>(() => factory.Create(path, out _));

        Assert.That(e.Message, Does.Contain($"ONNX Runtime cannot load '{path}'"));
    }
}
