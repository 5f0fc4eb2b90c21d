using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// One small job for the whole suite: the box has 2 shared cores and the suite must finish in minutes, so each case
/// gets ShortRun's shape (1 launch, 3 warm-up iterations) with 7 measured iterations instead of 3, because 3 left
/// medians of the 1080p decode swinging by ±15 % on this shared machine. It runs in-process: the
/// generated out-of-process project would inherit the repository's strict build policy and add a build per run,
/// and the medians this suite reports do not need process isolation. <c>TRUSS_CLIP_BENCH_QUICK=1</c> (bench/gpu/run.sh
/// --quick) shrinks it to 1 warm-up and 3 measured iterations of about 100 ms each: a plumbing check, not a measurement.
/// </summary>
public static class BenchConfig
{
    public static IConfig Create() =>
        ManualConfig.CreateEmpty()
            .AddJob(Environment.GetEnvironmentVariable("TRUSS_CLIP_BENCH_QUICK") == "1"
                ? Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithIterationTime(TimeInterval.FromMilliseconds(100))
                    .WithToolchain(InProcessEmitToolchain.Instance).WithId("Quick3")
                : Job.ShortRun.WithIterationCount(7).WithToolchain(InProcessEmitToolchain.Instance).WithId("Short7"))
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.Median)
            .AddLogger(DefaultConfig.Instance.GetLoggers().ToArray())
            .AddAnalyser(DefaultConfig.Instance.GetAnalysers().ToArray())
            .AddValidator(DefaultConfig.Instance.GetValidators().ToArray())
            .AddDiagnoser(MemoryDiagnoser.Default)
            // GitHub markdown for docs/benchmarks.md; full JSON for bench/summarize.py (medians in ns).
            .AddExporter(MarkdownExporter.GitHub, JsonExporter.Full)
            .WithOptions(ConfigOptions.DisableLogFile);
}
