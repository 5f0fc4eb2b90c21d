using Microsoft.Extensions.Logging;

namespace Truss.Clip.Tests.Clip.Inference;

/// <summary>An <see cref="ILogger"/> that keeps every entry, for asserting on what was logged. Thread-safe.</summary>
internal sealed class CollectingLogger : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<LogEntry> _entries = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public IReadOnlyList<LogEntry> At(LogLevel level)
    {
        var matching = new List<LogEntry>();
        foreach (LogEntry entry in Entries)
        {
            if (entry.Level == level)
            {
                matching.Add(entry);
            }
        }

        return matching;
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(
        LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lock)
        {
            _entries.Add(new LogEntry(logLevel, formatter(state, exception), exception));
        }
    }

    internal sealed record LogEntry(LogLevel Level, string Message, Exception? Exception);
}
