using System.Diagnostics;

namespace Truss.Clip.Tests.Support;

/// <summary>Waits for a condition that other threads will make true, for tests of concurrent code.</summary>
public static class Poll
{
    /// <summary>
    /// Checks <paramref name="condition"/> every few milliseconds until it holds or <paramref name="within"/> (10 s by
    /// default) has passed; returns whether it held, so the caller's assertion says what was expected.
    /// </summary>
    public static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan? within = null)
    {
        var limit = within ?? TimeSpan.FromSeconds(10);
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed >= limit)
            {
                return false;
            }

            await Task.Delay(5);
        }

        return true;
    }
}
