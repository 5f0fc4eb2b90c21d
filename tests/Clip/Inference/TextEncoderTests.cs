using Clip.Inference;
using static Truss.Clip.Tests.Clip.Inference.ModelFixtures;

namespace Truss.Clip.Tests.Clip.Inference;

public class TextEncoderTests
{
    [TestCase(ClipModelLayout.Split, TestName = "Encode_RowsOfDifferentLengthsOnDynamicGraph_EqualSingleCalls")]
    [TestCase(ClipModelLayout.Combined, TestName = "Encode_RowsOfDifferentLengthsWithAttentionMask_EqualSingleCalls")]
    [TestCase(ClipModelLayout.Immich, TestName = "Encode_RowsOfDifferentLengthsOnFixedGraph_EqualSingleCalls")]
    public void Encode_RowsOfDifferentLengths_EqualSingleCalls(ClipModelLayout layout)
    {
        using ClipModel model = Load(DirectoryOf(layout));
        int dim = model.TextEncoder.EmbeddingDim;
        int[][] rows = [.. ReferenceTokenIds(), FullContextRow(model.TextEncoder.ContextLength)];

        float[] batched = EncodeTexts(model, rows);

        for (int i = 0; i < rows.Length; i++)
        {
            float[] single = EncodeTexts(model, [rows[i]]);
            Assert.That(batched.AsSpan(i * dim, dim).ToArray(), Is.EqualTo(single).Within(BatchTolerance), $"row {i}");
        }
    }

    [Test]
    public void Encode_RowLongerThanContext_ThrowsArgumentException()
    {
        using ClipModel model = Load(Split);
        int[] row = FullContextRow(78);

        var e = Assert.Throws<ArgumentException>(() => EncodeTexts(model, [row]));

        Assert.That(e.Message, Does.Contain("Row 0 has 78 ids; expected 1 to 77"));
    }

    [Test]
    public void Encode_IdOutsideVocabulary_ThrowsArgumentException()
    {
        using ClipModel model = Load(Split);

        var e = Assert.Throws<ArgumentException>(() => EncodeTexts(model, [[998, 5, 999], [998, 1000, 999]]));

        Assert.That(e.Message, Does.Contain("Row 1 holds id 1000; ids must be in [0, 1000)"));
    }

    [Test]
    public void Encode_EmptyRow_ThrowsArgumentException()
    {
        using ClipModel model = Load(Immich);

        var e = Assert.Throws<ArgumentException>(() => EncodeTexts(model, [[]]));

        Assert.That(e.ParamName, Is.EqualTo("tokenIds"));
    }

    /// <summary>SOT, content ids, EOT: <paramref name="length"/> ids in all.</summary>
    private static int[] FullContextRow(int length)
    {
        var row = new int[length];
        row[0] = 998;
        for (int i = 1; i < length - 1; i++)
        {
            row[i] = 3 + (i * 11 % 900);
        }

        row[^1] = 999;
        return row;
    }
}
