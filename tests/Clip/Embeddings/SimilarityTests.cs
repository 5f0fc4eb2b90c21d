using Clip.Embeddings;

namespace Truss.Clip.Tests.Clip.Embeddings;

/// <summary>Scoring against a plain double-precision reference of CLIP's formula (tolerance 1e-6).</summary>
public class SimilarityTests
{
    private static double[] ReferenceProbabilities(float[] image, float[][] labels, double scale)
    {
        var logits = labels.Select(l => scale * l.Zip(image, (a, b) => (double)a * b).Sum()).ToArray();
        var max = logits.Max();
        var exp = logits.Select(x => Math.Exp(x - max)).ToArray();
        var sum = exp.Sum();
        return exp.Select(e => e / sum).ToArray();
    }

    private static float[] RandomUnitVector(Random random, int dim)
    {
        var v = new float[dim];
        for (var i = 0; i < dim; i++)
        {
            v[i] = (float)((random.NextDouble() * 2) - 1);
        }

        Similarity.Normalize(v);
        return v;
    }

    [Test]
    public void ZeroShotProbabilities_MatchesReferenceFormula()
    {
        var random = new Random(7);
        var image = RandomUnitVector(random, 512);
        var labels = Enumerable.Range(0, 5).Select(_ => RandomUnitVector(random, 512)).ToArray();
        var probabilities = new float[5];

        Similarity.ZeroShotProbabilities(image, labels.SelectMany(l => l).ToArray(), 100f, probabilities);

        Assert.That(probabilities, Is.EqualTo(ReferenceProbabilities(image, labels, 100)).Within(1e-6));
        Assert.That(probabilities.Sum(), Is.EqualTo(1).Within(1e-6));
    }

    [Test]
    public void Softmax_HugeLogits_DoesNotOverflow()
    {
        float[] logits = [1000f, 999f, -1000f];

        Similarity.Softmax(logits);

        Assert.That(logits, Is.EqualTo(new[] { 0.7310586f, 0.26894143f, 0f }).Within(1e-6));
    }

    [Test]
    public void Normalize_ZeroVector_StaysZero()
    {
        var v = new float[4];

        Similarity.Normalize(v);

        Assert.That(v, Is.All.Zero);
    }

    [Test]
    public void EnsembleMean_IsNormalizedMeanOfTemplates()
    {
        float[] templates = [1, 0, 0, 0, 1, 0];
        var result = new float[3];

        Similarity.EnsembleMean(templates, 2, result);

        Assert.That(result, Is.EqualTo(new[] { MathF.Sqrt(0.5f), MathF.Sqrt(0.5f), 0f }).Within(1e-6));
    }

    [Test]
    public void ZeroShotProbabilities_WrongShape_Throws() =>
        Assert.That(() => Similarity.ZeroShotProbabilities(new float[4], new float[7], 100, new float[2]),
            Throws.ArgumentException.With.Message.Contains("2 labels × 4 dims"));
}
