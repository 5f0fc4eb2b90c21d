// Soak: a bounded, loopback-only load of good and bad predict requests against the real server process, reporting
// status counts, 5xx, latency percentiles and the server's resident memory over time. Exit code 1 on any 5xx or
// when memory keeps growing (the last third of the run is compared with the middle third).
//
//   dotnet run -c Release --project tools/soak -- [--seconds 180] [--concurrency 8] [--model-dir data/tiny-clip]
//
// The server is started from bin/Release/net10.0/linux-x64/Truss.Clip (build the repository first) on a free
// 127.0.0.1 port; every request goes to that port and nowhere else.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

var seconds = Argument("--seconds", 180);
var concurrency = Argument("--concurrency", 8);
var modelDirectory = ArgumentText("--model-dir", "data/tiny-clip");
var root = FindRoot();
var executable = Path.Combine(root, "bin", "Release", "net10.0", "linux-x64", "Truss.Clip");
if (!File.Exists(executable))
{
    Console.Error.WriteLine($"Build first: {executable} is missing (dotnet build -c Release).");
    return 2;
}

var port = FreePort();
using var server = Process.Start(new ProcessStartInfo(executable, ["serve", "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--model-dir", Path.Combine(root, modelDirectory)])
{
    WorkingDirectory = root,
    RedirectStandardOutput = true,
    RedirectStandardError = true,
    Environment = { ["DISABLE_JSON_LOGGING"] = "1" },
})!;
server.OutputDataReceived += (_, _) => { };
server.ErrorDataReceived += (_, _) => { };
server.BeginOutputReadLine();
server.BeginErrorReadLine();

using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
var ready = Stopwatch.StartNew();
while (ready.Elapsed < TimeSpan.FromSeconds(60))
{
    try
    {
        if ((await client.GetAsync("/v1/models/model")).StatusCode == HttpStatusCode.OK)
        {
            break;
        }
    }
    catch (HttpRequestException)
    {
    }

    await Task.Delay(200);
}

var requests = Workload();
var statuses = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
var memory = new List<(double Seconds, long RssKiB)>();
var clock = Stopwatch.StartNew();
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
var sampler = Task.Run(async () =>
{
    while (!stop.IsCancellationRequested)
    {
        memory.Add((clock.Elapsed.TotalSeconds, Rss(server.Id)));
        await Task.Delay(1000);
    }
});
var workers = Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
{
    var random = new Random(worker);
    while (!stop.IsCancellationRequested)
    {
        var (name, body, contentType) = requests[random.Next(requests.Length)];
        var started = Stopwatch.GetTimestamp();
        string key;
        try
        {
            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using var response = await client.PostAsync("/v1/models/model:predict", content);
            await response.Content.ReadAsByteArrayAsync();
            key = $"{(int)response.StatusCode} {name}";
        }
        catch (HttpRequestException e)
        {
            key = $"transport error {name}: {e.HttpRequestError}";
        }

        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        statuses.AddOrUpdate(key, 1, (_, n) => n + 1);
    }
})).ToArray();
await Task.WhenAll(workers);
await sampler;

server.Kill(entireProcessTree: true);
var total = statuses.Values.Sum();
var serverErrors = statuses.Where(s => s.Key.StartsWith('5') || s.Key.StartsWith("transport", StringComparison.Ordinal)).Sum(s => s.Value);
var sorted = latencies.OrderBy(x => x).ToArray();
Console.WriteLine($"soak: {total} requests in {seconds} s at concurrency {concurrency} ({total / (double)seconds:0} req/s), model {modelDirectory}");
foreach (var (key, count) in statuses.OrderBy(s => s.Key, StringComparer.Ordinal))
{
    Console.WriteLine($"  {count,8}  {key}");
}

Console.WriteLine($"latency ms: p50 {Percentile(sorted, 0.50):0.0}, p99 {Percentile(sorted, 0.99):0.0}, max {sorted[^1]:0.0}");
var third = memory.Count / 3;
var middle = memory.Skip(third).Take(third).Average(m => m.RssKiB) / 1024;
var last = memory.Skip(2 * third).Average(m => m.RssKiB) / 1024;
Console.WriteLine($"server RSS MiB: start {memory[0].RssKiB / 1024.0:0}, middle third {middle:0}, last third {last:0}, max {memory.Max(m => m.RssKiB) / 1024.0:0}");
var growing = last > middle * 1.10 + 16;
Console.WriteLine(serverErrors == 0 && !growing
    ? "PASS: zero 5xx and flat memory"
    : $"FAIL: {serverErrors} 5xx/transport errors; memory {(growing ? "growing" : "flat")}");
return serverErrors == 0 && !growing ? 0 : 1;

static (string Name, byte[] Body, string ContentType)[] Workload()
{
    static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);
    var pixels = "[" + string.Join(",", Enumerable.Range(0, 64).Select(y => "[" + string.Join(",", Enumerable.Range(0, 64).Select(x => $"[{(x * 4) % 256},{(y * 4) % 256},{(x + y) % 256}]")) + "]")) + "]";
    var labels = "[\"a red circle\",\"a blue square\",\"a yellow star\",\"a green triangle\"]";
    return
    [
        ("good pixels", Json($"{{\"labels\": {labels}, \"image\": {pixels}}}"), "application/json"),
        ("good pixels", Json($"{{\"labels\": {labels}, \"image\": {pixels}, \"top_k\": 2}}"), "application/json"),
        ("good batch", Json($"{{\"labels\": {labels}, \"images\": [{{\"image\": {pixels}}}, {{\"image\": {pixels}}}]}}"), "application/json"),
        ("bad json", Json("{\"labels\": ["), "application/json"),
        ("bad labels", Json("{\"labels\": [], \"image\": [[0]]}"), "application/json"),
        ("bad pixel", Json($"{{\"labels\": {labels}, \"image\": [[[1,2,300]]]}}"), "application/json"),
        ("bad base64", Json($"{{\"labels\": {labels}, \"image_base64\": \"aGVsbG8gd29ybGQ=\"}}"), "application/json"),
        ("refused url", Json($"{{\"labels\": {labels}, \"image_url\": \"http://127.0.0.1:9/x.png\"}}"), "application/json"),
        ("bad msgpack", [0xC1, 0x00, 0x01], "application/octet-stream"),
    ];
}

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

static long Rss(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
    }

    return 0;
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static string FindRoot()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "Truss.Clip.csproj")))
        {
            return directory.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the repository.");
}

int Argument(string name, int fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

string ArgumentText(string name, string fallback) =>
    Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
