using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using Truss.Clip.Tests.Properties.Shared;

namespace Truss.Clip.Fuzz;

/// <summary>Settings of one bounded run.</summary>
internal sealed record RunOptions(long Iterations, TimeSpan Budget, int Seed, string CorpusDirectory, string CrashDirectory, TimeSpan HangTimeout);

/// <summary>
/// The built-in, dependency-free fuzzer that CI runs: AFL-style havoc mutations (<see cref="ByteMutator"/>) of the
/// seed corpus for a bounded number of iterations or seconds, with a fixed random seed so that a run is repeatable.
/// It has no coverage feedback; as a cheap substitute it keeps, in memory, every input whose outcome label was not
/// seen before (e.g. a first "PNG ... truncated", a first accepted pixel array) and mutates those too.
/// </summary>
/// <remarks>
/// <para>
/// A finding is any exception that escapes the target (see <see cref="FuzzTarget"/>) or an input that runs longer
/// than the hang timeout. The runner prints the input as base64, saves it under the crash folder
/// (<c>&lt;target&gt;-&lt;kind&gt;-&lt;sha1&gt;.bin</c>) and exits 1.
/// </para>
/// <para>
/// A native crash (SIGSEGV in Skia) kills the process before any handler runs, so the input under test is also kept
/// in a memory-mapped file (<c>.current-&lt;target&gt;</c> in the crash folder): the kernel keeps a shared mapping's
/// pages when the process dies, and <c>recover</c> turns that file into a crash file afterwards (<c>.ci/fuzz</c>
/// does this when the exit status says "killed by a signal").
/// </para>
/// </remarks>
internal sealed class MutationRunner(FuzzTarget target, RunOptions options)
{
    private const int MaxStack = 8;
    private const int MaxCorpus = 4096;

    private long _startedTicks; // Stopwatch ticks when the current input started; 0 between inputs.
    private long _iteration; // the current iteration, for the watchdog's report

    /// <summary>Runs the campaign; returns the process exit code (0 clean, 1 finding).</summary>
    public int Run()
    {
        var corpus = LoadCorpus(options.CorpusDirectory);
        Directory.CreateDirectory(options.CrashDirectory);
        using var current = CurrentInput.Open(CurrentInputPath(options.CrashDirectory, target.Name), target.MaxLength);
        var random = new Random(options.Seed);
        var outcomes = new Dictionary<string, long>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        StartWatchdog(current);

        Console.WriteLine($"[{target.Name}] seed {options.Seed}, {corpus.Count} corpus inputs from {options.CorpusDirectory}, " +
            $"budget {options.Iterations:N0} iterations / {options.Budget.TotalSeconds:N0} s");
        long iteration = 0;
        for (; iteration < options.Iterations && clock.Elapsed < options.Budget; iteration++)
        {
            // The corpus itself first, unmutated; then havoc on a random entry, corpus growing with novel outcomes.
            var input = iteration < corpus.Count
                ? corpus[(int)iteration]
                : ByteMutator.Havoc(corpus[random.Next(corpus.Count)], random, MaxStack, corpus, target.Tokens, target.MaxLength);
            current.Write(input);
            Volatile.Write(ref _iteration, iteration);
            string outcome;
            Volatile.Write(ref _startedTicks, Stopwatch.GetTimestamp());
            try
            {
                outcome = target.Run(input);
            }
            catch (Exception e)
            {
                Volatile.Write(ref _startedTicks, 0);
                Report(input, "crash", e.ToString(), iteration);
                return 1;
            }

            Volatile.Write(ref _startedTicks, 0);
            if (outcomes.TryGetValue(outcome, out var count))
            {
                outcomes[outcome] = count + 1;
            }
            else
            {
                outcomes[outcome] = 1;
                if (iteration >= corpus.Count && corpus.Count < MaxCorpus)
                {
                    corpus.Add(input);
                }
            }
        }

        current.Clear();
        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        Console.WriteLine($"[{target.Name}] {iteration:N0} iterations in {seconds:N1} s = {iteration / seconds:N0} iterations/s, " +
            $"{outcomes.Count} distinct outcomes, corpus {corpus.Count}, no findings");
        foreach (var (outcome, count) in outcomes.OrderByDescending(o => o.Value).Take(Environment.GetEnvironmentVariable("FUZZ_ALL_OUTCOMES") is null ? 12 : int.MaxValue))
        {
            Console.WriteLine($"    {count,9:N0}  {outcome}");
        }

        return 0;
    }

    /// <summary>The path of a target's memory-mapped "input under test" file.</summary>
    public static string CurrentInputPath(string crashDirectory, string target) => Path.Combine(crashDirectory, $".current-{target}");

    /// <summary>Prints and saves a finding; returns the saved path.</summary>
    public static string Save(string crashDirectory, string target, string kind, byte[] input, string details)
    {
        Directory.CreateDirectory(crashDirectory);
        var hash = Convert.ToHexStringLower(SHA1.HashData(input))[..12];
        var path = Path.Combine(crashDirectory, $"{target}-{kind}-{hash}.bin");
        File.WriteAllBytes(path, input);
        Console.Error.WriteLine($"[{target}] FINDING ({kind}): {details}");
        Console.Error.WriteLine($"[{target}] input ({input.Length} bytes), base64: {Convert.ToBase64String(input)}");
        Console.Error.WriteLine($"[{target}] saved as {path}; replay with: dotnet fuzz/bin/Release/net10.0/linux-x64/Truss.Clip.Fuzz.dll {target} --repro {path}");
        return path;
    }

    private void Report(byte[] input, string kind, string details, long iteration)
    {
        Save(options.CrashDirectory, target.Name, kind, input, $"iteration {iteration:N0} of seed {options.Seed}: {details}");
        File.Delete(CurrentInputPath(options.CrashDirectory, target.Name));
    }

    private void StartWatchdog(CurrentInput current)
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(250);
                long started = Volatile.Read(ref _startedTicks);
                if (started != 0 && Stopwatch.GetElapsedTime(started) > options.HangTimeout)
                {
                    Report(current.Read(), "hang", $"one input ran for more than {options.HangTimeout.TotalSeconds:N1} s", Volatile.Read(ref _iteration));
                    Environment.Exit(1);
                }
            }
        })
        {
            IsBackground = true,
            Name = "fuzz watchdog",
        };
        thread.Start();
    }

    private static List<byte[]> LoadCorpus(string directory)
    {
        var files = Directory.Exists(directory)
            ? Directory.GetFiles(directory).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList()
            : [];
        var corpus = files.Select(File.ReadAllBytes).ToList();
        if (corpus.Count == 0)
        {
            Console.WriteLine($"warning: no corpus in {directory}; starting from one empty input");
            corpus.Add([]);
        }

        return corpus;
    }
}

/// <summary>
/// The input under test, kept in a shared memory-mapped file (4-byte little-endian length, then the bytes) so that it
/// survives a native crash of this process.
/// </summary>
internal sealed class CurrentInput : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly int _capacity;

    private CurrentInput(MemoryMappedFile file, MemoryMappedViewAccessor view, int capacity)
    {
        _file = file;
        _view = view;
        _capacity = capacity;
    }

    /// <summary>Creates (or truncates) the file at <paramref name="path"/> for inputs up to <paramref name="capacity"/> bytes.</summary>
    public static CurrentInput Open(string path, int capacity)
    {
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Create, mapName: null, capacity: 4 + capacity, MemoryMappedFileAccess.ReadWrite);
        return new CurrentInput(file, file.CreateViewAccessor(), capacity);
    }

    /// <summary>Reads a file written by a process that died; null when it holds no input.</summary>
    public static byte[]? Recover(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 4)
        {
            return null;
        }

        int length = BitConverter.ToInt32(bytes, 0);
        return length < 0 || length > bytes.Length - 4 ? null : bytes[4..(4 + length)];
    }

    /// <summary>Records <paramref name="input"/> as the one under test.</summary>
    public void Write(byte[] input)
    {
        int length = Math.Min(input.Length, _capacity);
        _view.WriteArray(4, input, 0, length);
        _view.Write(0, length);
    }

    /// <summary>Marks that no input is under test (a clean end).</summary>
    public void Clear() => _view.Write(0, -1);

    /// <summary>The input under test.</summary>
    public byte[] Read()
    {
        int length = _view.ReadInt32(0);
        var bytes = new byte[Math.Max(length, 0)];
        _view.ReadArray(4, bytes, 0, bytes.Length);
        return bytes;
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }
}
