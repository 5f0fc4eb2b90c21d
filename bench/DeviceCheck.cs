using System.Diagnostics;
using System.Text.Json;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// <c>device [--model-dir DIR]</c>: loads a model (default: the ViT-B/32 export) on the device
/// <see cref="BenchDevice"/> asks for and prints one JSON line: the requested device, the provider each tower really
/// got, whether the image tower runs through I/O binding, ONNX Runtime's version and compiled-in providers, the JPEG
/// decoder the engine uses on this host (TurboJPEG needs the system's libturbojpeg), the load time and any warning logged (the CUDA fallback's cause among them). Exits 3 when CUDA was requested and either
/// tower runs elsewhere, so bench/gpu/run.sh stops before measuring anything.
/// </summary>
public static class DeviceCheck
{
    public static int Run(string[] args)
    {
        var at = Array.IndexOf(args, "--model-dir");
        var dir = at >= 0 && at + 1 < args.Length ? args[at + 1] : BenchPaths.VitB32Dir;
        var started = Stopwatch.GetTimestamp();
        using var model = ClipModel.Load(BenchDevice.ModelOptions(dir, BenchDevice.Variant(null)), BenchDevice.LoggerFactory.CreateLogger("bench"));
        var loadMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var d = model.Descriptor;
        string? refusal = null;
        try
        {
            BenchDevice.EnsureDevice(d);
        }
        catch (InvalidOperationException e)
        {
            refusal = e.Message;
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            stage = "device",
            requested = BenchDevice.Name,
            image_provider = d.Image.ExecutionProvider.ToString(),
            text_provider = d.Text.ExecutionProvider.ToString(),
            io_binding = model.ImageEncoder.UsesIoBinding,
            cuda_options = BenchDevice.CudaOptions,
            variant = BenchDevice.Variant(null),
            model_dir = d.ModelDirectory,
            embedding_dim = d.EmbeddingDim,
            load_ms = Math.Round(loadMs, 1),
            ort_version = OrtEnv.Instance().GetVersionString(),
            ort_providers = OrtEnv.Instance().GetAvailableProviders(),
            jpeg_decoder = new ImageDecoder().JpegDecoderDescription,
            ok = refusal is null,
            error = refusal,
        }));
        if (refusal is not null)
        {
            Console.Error.WriteLine("ERROR: " + refusal);
            return 3;
        }

        return 0;
    }
}
