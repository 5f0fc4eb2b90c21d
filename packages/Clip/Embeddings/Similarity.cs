using System.Numerics.Tensors;

namespace Clip.Embeddings;

/// <summary>
/// The arithmetic of CLIP zero-shot scoring: L2 normalization, scaled cosine logits and a softmax over labels,
/// as openai/CLIP's <c>logits_per_image.softmax(-1)</c>. Vectorized with <see cref="TensorPrimitives"/>.
/// Pure functions; thread-safe.
/// </summary>
public static class Similarity
{
    /// <summary>Scales <paramref name="vector"/> to unit L2 norm in place (a zero vector stays zero).</summary>
    public static void Normalize(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0 && float.IsFinite(norm))
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }

    /// <summary>
    /// Zero-shot probabilities for one image: <c>softmax(logitScale · (image · label_i))</c> over the labels.
    /// Both sides must already be L2-normalized; <paramref name="labelEmbeddings"/> is row-major
    /// [labels, dim]. The softmax subtracts the maximum first and sums in double, so large scales cannot overflow.
    /// </summary>
    public static void ZeroShotProbabilities(
        ReadOnlySpan<float> imageEmbedding,
        ReadOnlySpan<float> labelEmbeddings,
        float logitScale,
        Span<float> probabilities)
    {
        var dim = imageEmbedding.Length;
        var labels = probabilities.Length;
        if (dim == 0 || labelEmbeddings.Length != labels * dim)
        {
            throw new ArgumentException(
                $"Label embeddings hold {labelEmbeddings.Length} values; {labels} labels × {dim} dims were expected.",
                nameof(labelEmbeddings));
        }

        for (var i = 0; i < labels; i++)
        {
            probabilities[i] = logitScale * TensorPrimitives.Dot(imageEmbedding, labelEmbeddings.Slice(i * dim, dim));
        }

        Softmax(probabilities);
    }

    /// <summary>Softmax in place, numerically stable.</summary>
    public static void Softmax(Span<float> logits)
    {
        if (logits.IsEmpty)
        {
            return;
        }

        var max = TensorPrimitives.Max(logits);
        double sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = Math.Exp(logits[i] - (double)max);
            logits[i] = (float)e;
            sum += e;
        }

        var inverse = 1.0 / sum;
        for (var i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)(logits[i] * inverse);
        }
    }

    /// <summary>
    /// The CLIP paper's prompt ensemble: the mean of a label's (normalized) template embeddings, normalized again.
    /// <paramref name="templateEmbeddings"/> is [templates, dim]; the result goes to <paramref name="destination"/>.
    /// </summary>
    public static void EnsembleMean(ReadOnlySpan<float> templateEmbeddings, int templates, Span<float> destination)
    {
        var dim = destination.Length;
        if (templates < 1 || templateEmbeddings.Length != templates * dim)
        {
            throw new ArgumentException($"Expected {templates} × {dim} template embeddings, got {templateEmbeddings.Length} values.");
        }

        templateEmbeddings[..dim].CopyTo(destination);
        for (var t = 1; t < templates; t++)
        {
            TensorPrimitives.Add(destination, templateEmbeddings.Slice(t * dim, dim), destination);
        }

        Normalize(destination);
    }
}
