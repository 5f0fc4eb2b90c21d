using BenchmarkDotNet.Running;
using Truss.Clip.Benchmarks;

// Modes:
//   prepare-images [DIR]   write the three preprocessing inputs (shared with tools/python_baseline.py)
//   check-vit [--tolerance X]   the ViT-B/32 export's ONNX outputs match torch's (same weights on both sides)
//   breakdown [N]          the ViT-B/32 request stage by stage (medians of N, as tools/python_baseline.py)
//   inproc --body FILE [--config F] [--model-dir D] [--seconds N]   the in-process pipeline (tools/load/run.sh)
//   batching [SECONDS]     the dynamic batcher against a stub-cost tower at concurrency 32 (ratio to ideal)
//   batching SECONDS --model-dir D [--concurrency N] [--max-batch N] [--max-delay-ms X]   the same with the real image
//                          tower: serial batch 1, concurrent unbatched, batched (bench/gpu/run.sh)
//   device [--model-dir D] which execution provider the towers really got (exit 3: CUDA requested, not used)
//   anything else          BenchmarkDotNet (e.g. --filter '*' or --filter '*Tower*'; see bench/run-all.sh)
// Device, I/O binding, batch sizes and model variant come from TRUSS_CLIP_BENCH_* variables (BenchDevice.cs).
switch (args.FirstOrDefault())
{
    case "prepare-images":
        var dir = args.Length > 1 ? args[1] : BenchPaths.ImagesDir;
        TestImages.Prepare(dir);
        Console.WriteLine($"images ready in {dir}");
        return 0;
    case "device":
        return DeviceCheck.Run(args[1..]);
    case "check-vit":
        return VitB32Parity.Run(args[1..]);
    case "breakdown":
        return EndToEndBreakdown.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 9);
    case "inproc":
        return await InProcessPipeline.RunAsync(args[1..]);
    case "batching":
        return BatchingThroughput.Run(args[1..]);
}

List<Type> types = [typeof(TokenizerBenchmarks), typeof(PreprocessBenchmarks), typeof(TowerBenchmarks), typeof(LabelCacheBenchmarks)];
if (BenchPaths.HasVitB32)
{
    types.Add(typeof(VitB32EndToEndBenchmarks));
}
else
{
    Console.WriteLine($"// {BenchPaths.VitB32Dir} not found: ViT-B/32 benchmarks skipped (run tools/export_vit_b32_random.py).");
}

var summaries = BenchmarkSwitcher.FromTypes([.. types]).Run(args, BenchConfig.Create());
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
