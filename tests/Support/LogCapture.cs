using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace Truss.Clip.Tests.Support;

/// <summary>A thread-safe TextWriter that keeps every log line a server writes, for assertions.</summary>
public sealed class LogCapture : TextWriter
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly StringBuilder _partial = new();
    private readonly Lock _gate = new();

    public override Encoding Encoding => Encoding.UTF8;

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public override void Write(char value)
    {
        lock (_gate)
        {
            if (value == '\n')
            {
                _lines.Enqueue(_partial.ToString());
                _partial.Clear();
            }
            else
            {
                _partial.Append(value);
            }
        }
    }

    /// <summary>Every line parsed as JSON (the server logs one object per line by default).</summary>
    public IReadOnlyList<JsonElement> JsonLines()
    {
        var parsed = new List<JsonElement>();
        foreach (var line in Lines)
        {
            if (line.Length > 0)
            {
                parsed.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
        }

        return parsed;
    }

    /// <summary>Polls until a line satisfies <paramref name="predicate"/> (log sinks may lag a response slightly).</summary>
    public async Task<bool> WaitForAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var line in Lines)
            {
                if (predicate(line))
                {
                    return true;
                }
            }

            await Task.Delay(20);
        }

        return false;
    }
}
