using Serilog;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Templates;
using Truss.Server.Configuration;

namespace Truss.Server.Logging;

/// <summary>
/// Builds the server's Serilog pipeline. By default one JSON object per line with the keys truss's JSON logs use
/// (<c>asctime</c>, <c>levelname</c>, <c>message</c>, <c>exc_info</c>, <c>request_id</c>) plus every structured
/// property (elapsed times, status codes); a human-readable console format when <c>DISABLE_JSON_LOGGING</c> is set,
/// as in truss. Standard output is written in batches from a background thread (<see cref="BatchedLogSink"/>), so
/// logging never blocks a request and costs a busy server one write per batch rather than one per line.
/// </summary>
public static class TrussLogging
{
    // Serilog levels written with Python's logging names, so log tooling built for truss keeps working.
    private const string JsonTemplate =
        "{ {asctime: UtcDateTime(@t), " +
        "levelname: if @l = 'Information' then 'INFO' else if @l = 'Warning' then 'WARNING' " +
        "else if @l = 'Error' then 'ERROR' else if @l = 'Fatal' then 'CRITICAL' else 'DEBUG', " +
        "message: @m, exc_info: if @x is null then undefined() else ToString(@x), " +
        "logger: SourceContext, ..rest()} }\n";

    private const string TextTemplate =
        "[{@t:HH:mm:ss} {@l:u3}] {@m}{#if request_id is not null} [request {request_id}]{#end}\n{@x}";

    /// <summary>True unless <c>DISABLE_JSON_LOGGING</c> is set (to anything).</summary>
    public static bool JsonByDefault(Func<string, string?> environment) =>
        string.IsNullOrEmpty(environment("DISABLE_JSON_LOGGING"));

    /// <summary>The line formatter for the chosen mode.</summary>
    public static ITextFormatter CreateFormatter(bool json) => new ExpressionTemplate(json ? JsonTemplate : TextTemplate);

    /// <summary>
    /// Creates the logger. <paramref name="output"/> replaces the console (tests capture lines this way); it is
    /// written synchronously so a test sees every line as soon as the call that logged it returns.
    /// </summary>
    public static Serilog.Core.Logger CreateLogger(bool json, bool debug, TextWriter? output = null) =>
        output is not null
            ? Configure(debug).WriteTo.Sink(new TextWriterSink(CreateFormatter(json), output)).CreateLogger()
            : CreateLogger(json, debug, Console.OpenStandardOutput(), BatchedLogSink.DefaultDelay);

    /// <summary>The server's logger: lines go to <paramref name="standardOutput"/> in batches (see <see cref="BatchedLogSink"/>).</summary>
    internal static Serilog.Core.Logger CreateLogger(bool json, bool debug, Stream standardOutput, TimeSpan batchDelay) =>
        Configure(debug).WriteTo.Sink(new BatchedLogSink(CreateFormatter(json), standardOutput, batchDelay)).CreateLogger();

    private static LoggerConfiguration Configure(bool debug) =>
        new LoggerConfiguration()
            .MinimumLevel.Is(debug ? LogEventLevel.Debug : LogEventLevel.Information)
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .Enrich.FromLogContext();

    /// <summary>Creates the logger a config produces.</summary>
    public static Serilog.Core.Logger CreateLogger(TrussConfig? config, Func<string, string?> environment, TextWriter? output = null) =>
        CreateLogger(JsonByDefault(environment), config?.EnableDebugLogs ?? false, output);

    private sealed class TextWriterSink(ITextFormatter formatter, TextWriter output) : Serilog.Core.ILogEventSink
    {
        private readonly Lock _gate = new();

        public void Emit(LogEvent logEvent)
        {
            lock (_gate)
            {
                formatter.Format(logEvent, output);
                output.Flush();
            }
        }
    }
}
