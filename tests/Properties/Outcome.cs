using System.Text.RegularExpressions;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Runs one call under test and reports how it ended, so that a property can state "returns, or throws only the
/// documented exception type" with a single <c>Assert.That</c>, and so that a hang fails the property instead of
/// stalling the whole suite.
/// </summary>
internal static class Outcome
{
    /// <summary>
    /// Generous on purpose: the inputs are tiny and the calls take microseconds, so only a real hang (or a
    /// pathological slowdown) gets near it, even on a loaded two-core CI machine running fixtures in parallel.
    /// </summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="call"/> on a worker thread; returns what it threw, or null when it returned.</summary>
    /// <exception cref="TimeoutException">The call did not finish within <see cref="Deadline"/> (the worker is abandoned).</exception>
    public static Exception? Capture(Action call)
    {
        var task = Task.Run(call);
        try
        {
            if (!task.Wait(Deadline))
            {
                throw new TimeoutException($"The call did not return within {Deadline.TotalSeconds} s: a hang.");
            }

            return null;
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            return e.InnerException;
        }
    }

    /// <summary>
    /// For request parsers: true when <paramref name="thrown"/> is a clean rejection, a <see cref="ModelInputException"/>
    /// with a 4xx status whose message names a field (<paramref name="fieldInBackticks"/>); false when the parse
    /// returned. Anything else fails the test, showing <paramref name="request"/>.
    /// </summary>
    public static bool IsClientRejection(Exception? thrown, Regex fieldInBackticks, object? request)
    {
        Assert.That(thrown, Is.Null.Or.TypeOf<ModelInputException>(), () => $"{thrown}\nrequest: {ValueTree.Describe(request)}");
        if (thrown is not ModelInputException rejection)
        {
            return false;
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rejection.StatusCode, Is.InRange(400, 499));
            Assert.That(rejection.Message, Does.Match(fieldInBackticks), () => $"request: {ValueTree.Describe(request)}");
        }

        return true;
    }

    /// <summary>The input as base64, for failure messages that must be replayable outside the test.</summary>
    public static string Show(byte[] input) =>
        $"{input.Length} bytes, base64: {Convert.ToBase64String(input, 0, Math.Min(input.Length, 4096))}{(input.Length > 4096 ? "…" : "")}";
}
