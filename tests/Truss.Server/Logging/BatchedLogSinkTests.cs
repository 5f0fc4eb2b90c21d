using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Parsing;
using Truss.Server.Logging;

namespace Truss.Clip.Tests.Truss.Server.Logging;

public class BatchedLogSinkTests
{
    private static readonly ITextFormatter Json = TrussLogging.CreateFormatter(json: true);

    private static LogEvent Event(string message, LogEventLevel level = LogEventLevel.Information) =>
        new(DateTimeOffset.UtcNow, level, null, new MessageTemplateParser().Parse(message), []);

    /// <summary>Waits (bounded) until <paramref name="done"/> holds; the sink writes on its own thread.</summary>
    private static void Eventually(Func<bool> done, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (!done() && clock.Elapsed < within)
        {
            Thread.Sleep(5);
        }
    }

    [Test]
    public void A_burst_of_events_is_written_with_one_flush_in_order()
    {
        var output = new RecordingStream();
        using (var sink = new BatchedLogSink(Json, output, TimeSpan.FromSeconds(1)))
        {
            for (var i = 0; i < 50; i++)
            {
                sink.Emit(Event($"request {i}"));
            }

            Eventually(() => output.Lines().Count == 50, TimeSpan.FromSeconds(10));
        }

        var messages = output.Lines().Select(l => JsonDocument.Parse(l).RootElement.GetProperty("message").GetString()).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(messages, Is.EqualTo(Enumerable.Range(0, 50).Select(i => $"request {i}")));
            Assert.That(output.Writes, Is.EqualTo(1), "the whole burst went out in one write");
        }
    }

    [Test]
    public void Information_waits_for_the_delay_but_a_warning_is_written_at_once()
    {
        var output = new RecordingStream();
        using var sink = new BatchedLogSink(Json, output, TimeSpan.FromSeconds(30));
        sink.Emit(Event("routine"));
        Thread.Sleep(200);
        Assert.That(output.Lines(), Is.Empty, "information lines wait for the batch");

        sink.Emit(Event("trouble", LogEventLevel.Warning));
        Eventually(() => output.Lines().Count == 2, TimeSpan.FromSeconds(10));
        Assert.That(output.Lines().Select(l => JsonDocument.Parse(l).RootElement.GetProperty("levelname").GetString()),
            Is.EqualTo(new[] { "INFO", "WARNING" }), "the warning took the waiting line with it, in order");
    }

    [Test]
    public void Dispose_writes_everything_queued_and_later_events_are_ignored()
    {
        var output = new RecordingStream();
        var sink = new BatchedLogSink(Json, output, TimeSpan.FromSeconds(30));
        sink.Emit(Event("first"));
        sink.Emit(Event("second"));
        sink.Dispose();
        sink.Emit(Event("after"));
        sink.Dispose();

        Assert.That(output.Lines().Select(l => JsonDocument.Parse(l).RootElement.GetProperty("message").GetString()),
            Is.EqualTo(new[] { "first", "second" }));
    }

    [Test]
    public void A_full_queue_drops_events_and_says_how_many()
    {
        var output = new RecordingStream();
        using (var sink = new BatchedLogSink(Json, output, TimeSpan.FromSeconds(30), maxQueuedEvents: 3))
        {
            for (var i = 0; i < 10; i++)
            {
                sink.Emit(Event($"event {i}"));
            }
        }

        var lines = output.Lines().Select(l => JsonDocument.Parse(l).RootElement).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines.Take(3).Select(l => l.GetProperty("message").GetString()), Is.EqualTo(new[] { "event 0", "event 1", "event 2" }));
            Assert.That(lines, Has.Count.EqualTo(4));
            Assert.That(lines[3].GetProperty("levelname").GetString(), Is.EqualTo("WARNING"));
            Assert.That(lines[3].GetProperty("DroppedLogEvents").GetInt64(), Is.EqualTo(7));
        }
    }

    [Test]
    public void A_broken_output_or_formatter_costs_log_lines_only()
    {
        var broken = new RecordingStream { FailWrites = true };
        using (var sink = new BatchedLogSink(Json, broken, TimeSpan.Zero))
        {
            Assert.That(() => sink.Emit(Event("lost")), Throws.Nothing);
            Thread.Sleep(100);
            Assert.That(() => sink.Emit(Event("lost too")), Throws.Nothing);
        }

        var output = new RecordingStream();
        using (var sink = new BatchedLogSink(new ThrowsOn("bad"), output, TimeSpan.FromSeconds(30)))
        {
            sink.Emit(Event("good"));
            sink.Emit(Event("bad"));
            sink.Emit(Event("also good"));
        }

        Assert.That(output.Lines(), Is.EqualTo(new[] { "good", "also good" }));
    }

    [Test]
    public void The_server_logger_writes_json_lines_through_it()
    {
        var output = new RecordingStream();
        using (var logger = TrussLogging.CreateLogger(json: true, debug: false, output, TimeSpan.FromSeconds(1)))
        {
            logger.Information("Handled {Count} requests", 3);
            logger.Information("Handled {Count} requests", 4);
            logger.Debug("hidden at info level");
        }

        var lines = output.Lines().Select(l => JsonDocument.Parse(l).RootElement).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines.Select(l => l.GetProperty("message").GetString()), Is.EqualTo(new[] { "Handled 3 requests", "Handled 4 requests" }));
            Assert.That(lines.Select(l => l.GetProperty("Count").GetInt32()), Is.EqualTo(new[] { 3, 4 }));
            Assert.That(output.Writes, Is.EqualTo(1), "both lines in one write");
        }
    }

    /// <summary>Formats an event as its bare message, and throws for one message.</summary>
    private sealed class ThrowsOn(string message) : ITextFormatter
    {
        public void Format(LogEvent logEvent, TextWriter output)
        {
            var text = logEvent.RenderMessage();
            if (text == message)
            {
                throw new InvalidOperationException("formatter bug");
            }

            output.Write(text);
            output.Write('\n');
        }
    }

    /// <summary>A stream that keeps what was written and counts the writes (each is one write to stdout).</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly MemoryStream _written = new();
        private readonly Lock _gate = new();
        private int _writes;

        public bool FailWrites { get; init; }

        public int Writes => Volatile.Read(ref _writes);

        public List<string> Lines()
        {
            lock (_gate)
            {
                return Encoding.UTF8.GetString(_written.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (FailWrites)
            {
                throw new IOException("Broken pipe");
            }

            lock (_gate)
            {
                _written.Write(buffer);
            }

            if (!buffer.IsEmpty)
            {
                Interlocked.Increment(ref _writes);
            }
        }

        public override void Flush()
        {
            if (FailWrites)
            {
                throw new IOException("Broken pipe");
            }
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
