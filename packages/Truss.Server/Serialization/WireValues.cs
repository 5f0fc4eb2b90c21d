namespace Truss.Server.Serialization;

/// <summary>Shared pieces of the neutral value tree that both wire formats read into.</summary>
internal static class WireValues
{
    // Pixel arrays arrive as millions of small integers; sharing their boxes keeps parsing from allocating one
    // object per number.
    private static readonly object[] SmallIntegers = CreateSmallIntegers();

    /// <summary>A boxed <see cref="long"/>, shared for values in [-1, 1024].</summary>
    public static object Box(long value) =>
        value is >= -1 and <= 1024 ? SmallIntegers[value + 1] : value;

    private static object[] CreateSmallIntegers()
    {
        var boxes = new object[1026];
        for (var i = 0; i < boxes.Length; i++)
        {
            boxes[i] = (long)(i - 1);
        }

        return boxes;
    }
}
