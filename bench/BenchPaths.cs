namespace Truss.Clip.Benchmarks;

/// <summary>
/// Where the benchmark inputs live. Every path can be overridden by an environment variable so bench/run-all.sh
/// (and anyone rerunning one class by hand) points all tools at the same files.
/// </summary>
public static class BenchPaths
{
    /// <summary>The repository root: the first folder above the binary that holds Truss.Clip.csproj.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The read-only reference folder (../shared), which a fresh clone may lack.</summary>
    public static string SharedDir =>
        Environment.GetEnvironmentVariable("TRUSS_CLIP_SHARED") ?? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>The test images both the C# benchmarks and tools/python_baseline.py read (see <see cref="TestImages"/>).</summary>
    public static string ImagesDir =>
        Environment.GetEnvironmentVariable("TRUSS_CLIP_BENCH_IMAGES") ?? "/tmp/truss-clip-bench/images";

    /// <summary>The ViT-B/32-shaped random-weight export (tools/export_vit_b32_random.py); never committed.</summary>
    public static string VitB32Dir =>
        Environment.GetEnvironmentVariable("TRUSS_CLIP_VIT_DIR") ?? "/tmp/vit-b-32-random";

    /// <summary>The embedded model shipped in the repository.</summary>
    public static string TinyClipDir => Path.Combine(RepoRoot, "data", "tiny-clip");

    /// <summary>Whether the ViT-B/32-shaped export is present (benchmarks that need it are skipped otherwise).</summary>
    public static bool HasVitB32 => File.Exists(Path.Combine(VitB32Dir, "onnx", "vision_model.onnx"));

    /// <summary>OpenAI's real merges: from ../shared, else the copy the export put beside the ViT-B/32 model.</summary>
    public static string? OpenAiMerges
    {
        get
        {
            string[] candidates =
            [
                Path.Combine(SharedDir, "clip-vocab", "bpe_simple_vocab_16e6.txt.gz"),
                Path.Combine(VitB32Dir, "bpe_simple_vocab_16e6.txt.gz"),
            ];
            return candidates.FirstOrDefault(File.Exists);
        }
    }

    private static string FindRepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Truss.Clip.csproj")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run the benchmarks from inside the Truss.Clip repository.");
    }
}
