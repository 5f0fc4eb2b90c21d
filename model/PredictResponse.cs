namespace Truss.Clip;

/// <summary>
/// The seed API's response envelope, exactly as the Python CLIP truss writes it:
/// <c>{"status": "success", "data": {"predictions": [{label: score, ...}]}, "message": null}</c>.
/// </summary>
internal static class PredictResponse
{
    /// <summary>
    /// One predictions map per image, labels in request order. Scores stay <see cref="float"/> so the JSON writer
    /// prints them as the Python server prints numpy float32 values. A label sent twice keeps its first position and
    /// its last score, as a Python dict built with <c>zip</c> does. With <paramref name="topK"/>, each map holds only
    /// the k best labels, best first (ties keep request order).
    /// </summary>
    public static OrderedDictionary<string, object?> Create(IReadOnlyList<string> labels, IReadOnlyList<float[]> probabilities, int? topK = null)
    {
        var predictions = new List<object?>(probabilities.Count);
        var order = new int[labels.Count];
        foreach (var imageProbabilities in probabilities)
        {
            for (var i = 0; i < order.Length; i++)
            {
                order[i] = i;
            }

            if (topK is not null)
            {
                // Stable: a descending sort on (score, then original index) keeps ties in request order.
                Array.Sort(order, (a, b) => imageProbabilities[b] != imageProbabilities[a]
                    ? imageProbabilities[b].CompareTo(imageProbabilities[a])
                    : a.CompareTo(b));
            }

            var count = Math.Min(topK ?? labels.Count, labels.Count);
            var scores = new OrderedDictionary<string, object?>(count, StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                scores[labels[order[i]]] = imageProbabilities[order[i]];
            }

            predictions.Add(scores);
        }

        return new OrderedDictionary<string, object?>
        {
            ["status"] = "success",
            ["data"] = new OrderedDictionary<string, object?> { ["predictions"] = predictions },
            ["message"] = null,
        };
    }
}
