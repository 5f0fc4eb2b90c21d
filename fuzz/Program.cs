using System.Globalization;
using SharpFuzz;
using Truss.Clip.Fuzz;

// Entry point; see fuzz/README.md. Exit codes: 0 clean, 1 finding, 2 usage error.
const string Usage = """
    usage:
      Truss.Clip.Fuzz <json|msgpack|image> [--iterations N] [--seconds S] [--seed N] [--corpus DIR] [--crashes DIR] [--hang-seconds S]
          bounded mutational run (no AFL needed); exit 1 and a saved input on a finding
      Truss.Clip.Fuzz <json|msgpack|image> --repro FILE...     run saved inputs once each, print how each ended
      Truss.Clip.Fuzz <json|msgpack|image> --afl               SharpFuzz out-of-process driver, for afl-fuzz
      Truss.Clip.Fuzz <json|msgpack|image> --libfuzzer         SharpFuzz libFuzzer driver, for libfuzzer-dotnet
      Truss.Clip.Fuzz recover <json|msgpack|image> [--crashes DIR]  save the input a natively crashed run was on
      Truss.Clip.Fuzz write-corpus DIR                          regenerate the seed corpus
    """;

if (args.Length == 1 && args[0].Contains(' '))
{
    // libfuzzer-dotnet hands its --target_arg over as a single argument ("json --libfuzzer").
    args = args[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
}

if (args.Length == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

if (args[0] == "write-corpus" && args.Length == 2)
{
    Console.WriteLine($"wrote {SeedCorpus.Write(args[1])} seed files under {args[1]}");
    return 0;
}

if (args[0] == "recover" && args.Length >= 2)
{
    var crashes = Option(args, "--crashes") ?? Path.Combine("fuzz", "crashes");
    var input = CurrentInput.Recover(MutationRunner.CurrentInputPath(crashes, args[1]));
    if (input is null)
    {
        Console.WriteLine($"[{args[1]}] no input under test was recorded");
        return 0;
    }

    MutationRunner.Save(crashes, args[1], "native-crash", input, "the process died (signal) while running this input");
    File.Delete(MutationRunner.CurrentInputPath(crashes, args[1]));
    return 1;
}

if (!FuzzTarget.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"unknown target '{args[0]}'\n{Usage}");
    return 2;
}

if (args.Contains("--afl"))
{
    // afl-fuzz starts this process once and feeds inputs through SharpFuzz's forkserver protocol; an exception that
    // escapes the action is reported to AFL as a crash. The assemblies under test must be instrumented first.
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target.Run(buffer.ToArray());
    });
    return 0;
}

if (args.Contains("--libfuzzer"))
{
    Fuzzer.LibFuzzer.Run(span => target.Run(span.ToArray()));
    return 0;
}

var repro = Array.IndexOf(args, "--repro");
if (repro >= 0)
{
    int failures = 0;
    foreach (var path in args.Skip(repro + 1))
    {
        try
        {
            Console.WriteLine($"{path}: {target.Run(File.ReadAllBytes(path))}");
        }
        catch (Exception e)
        {
            failures++;
            Console.WriteLine($"{path}: FINDING {e}");
        }
    }

    return failures == 0 ? 0 : 1;
}

try
{
    var options = new RunOptions(
        Iterations: long.Parse(Option(args, "--iterations") ?? "20000", CultureInfo.InvariantCulture),
        Budget: TimeSpan.FromSeconds(double.Parse(Option(args, "--seconds") ?? "60", CultureInfo.InvariantCulture)),
        Seed: int.Parse(Option(args, "--seed") ?? "1", CultureInfo.InvariantCulture),
        CorpusDirectory: Option(args, "--corpus") ?? Path.Combine("fuzz", "corpus", target.Name),
        CrashDirectory: Option(args, "--crashes") ?? Path.Combine("fuzz", "crashes"),
        HangTimeout: TimeSpan.FromSeconds(double.Parse(Option(args, "--hang-seconds") ?? "10", CultureInfo.InvariantCulture)));
    return new MutationRunner(target, options).Run();
}
catch (FormatException e)
{
    Console.Error.WriteLine($"{e.Message}\n{Usage}");
    return 2;
}

static string? Option(string[] args, string name)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
