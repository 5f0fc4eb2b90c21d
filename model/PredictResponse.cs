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
    /// its last score, as a Python dict built with <c>zip</c> does.
    /// </summary>
    public static OrderedDictionary<string, object?> Create(IReadOnlyList<string> labels, IReadOnlyList<float[]> probabilities)
    {
        var predictions = new List<object?>(probabilities.Count);
        foreach (var imageProbabilities in probabilities)
        {
            var scores = new OrderedDictionary<string, object?>(labels.Count, StringComparer.Ordinal);
            for (var i = 0; i < labels.Count; i++)
            {
                scores[labels[i]] = imageProbabilities[i];
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
