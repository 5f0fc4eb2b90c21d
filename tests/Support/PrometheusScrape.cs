using System.Globalization;
using System.Net;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// One parsed Prometheus text-format scrape: every sample by its series as written (<c>name{label="v",...}</c>) and
/// every <c># TYPE</c> by metric name.
/// </summary>
public sealed class PrometheusScrape
{
    private PrometheusScrape(string text, IReadOnlyDictionary<string, double> samples, IReadOnlyDictionary<string, string> types)
    {
        Text = text;
        Samples = samples;
        Types = types;
    }

    /// <summary>The raw body.</summary>
    public string Text { get; }

    /// <summary>Sample values by series.</summary>
    public IReadOnlyDictionary<string, double> Samples { get; }

    /// <summary>Metric types (<c>counter</c>, <c>gauge</c>, <c>histogram</c>) by metric name.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    /// <summary>The value of <paramref name="series"/>, or 0 when it is absent (a series not yet written counts as 0).</summary>
    public double this[string series] => Samples.GetValueOrDefault(series);

    /// <summary>Scrapes <c>/metrics</c> and checks the answer's status and content type.</summary>
    public static async Task<PrometheusScrape> GetAsync(HttpClient client, string path = "/metrics")
    {
        var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(response.Content.Headers.ContentType?.ToString(), Is.EqualTo("text/plain; version=0.0.4; charset=utf-8"));
        return Parse(body);
    }

    public static PrometheusScrape Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var value = line[(space + 1)..] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var number => double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            Assert.That(samples.TryAdd(line[..space], value), Is.True, $"series written twice: {line}");
        }

        return new PrometheusScrape(text, samples, types);
    }

    /// <summary>Every series of the metric <paramref name="name"/> (exactly that name, labels or not).</summary>
    public IEnumerable<string> SeriesOf(string name) =>
        Samples.Keys.Where(series => series == name || series.StartsWith(name + "{", StringComparison.Ordinal));
}
