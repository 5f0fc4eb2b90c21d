using System.Text;
using Clip.IO;
using Truss.Clip.Tests.Clip.Imaging;

namespace Truss.Clip.Tests.Clip.IO;

public class NpyFileTests
{
    [Test]
    public void WriteThenRead_RoundTripsDataAndShape()
    {
        var data = new float[2 * 3 * 4];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (i * 0.37f) - 3f;
        }

        data[5] = float.NaN;
        data[6] = float.NegativeInfinity;
        using var stream = new MemoryStream();

        NpyFile.WriteFloat32(stream, data, [2, 3, 4]);
        stream.Position = 0;
        var array = NpyFile.ReadFloat32(stream);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(array.Shape, Is.EqualTo(new[] { 2, 3, 4 }));
            Assert.That(array.Data, Is.EqualTo(data));
            Assert.That(stream.Position, Is.EqualTo(stream.Length), "reads exactly the array");
        }
    }

    [Test]
    public void Write_Header_IsNumpyLayoutPaddedTo64Bytes()
    {
        using var stream = new MemoryStream();

        NpyFile.WriteFloat32(stream, new float[3 * 224 * 224], [3, 224, 224]);

        byte[] bytes = stream.ToArray();
        int headerLength = bytes[8] | (bytes[9] << 8);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(bytes.AsSpan(0, 8).ToArray(), Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }));
            Assert.That((10 + headerLength) % 64, Is.Zero);
            Assert.That(header, Does.StartWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }"));
            Assert.That(header, Does.EndWith("\n"));
            Assert.That(bytes, Has.Length.EqualTo(10 + headerLength + (3 * 224 * 224 * 4)));
        }
    }

    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", new[] { 5 })]
    [TestCase("{\"shape\": (2, 2), \"descr\": \"<f4\", \"fortran_order\": False}", new[] { 2, 2 })]
    [TestCase("{'descr':'<f4','fortran_order':False,'shape':(2L, 1L)}", new[] { 2, 1 })]
    [TestCase("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", new[] { 4 })]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new int[0])]
    public void Read_HeaderVariants_ParsesShape(string header, int[] expectedShape)
    {
        int count = 1;
        foreach (int dimension in expectedShape)
        {
            count *= dimension;
        }

        using var stream = NpyStream(header, new float[count]);

        var array = NpyFile.ReadFloat32(stream);

        Assert.That(array.Shape, Is.EqualTo(expectedShape));
    }

    [TestCase("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "'<f8'")]
    [TestCase("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "Fortran")]
    [TestCase("{'descr': '<f4', 'shape': (1,), }", "lacks")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", "dimension")]
    public void Read_UnsupportedOrMalformedHeader_ThrowsInvalidData(string header, string messagePart)
    {
        using var stream = NpyStream(header, new float[4]);

        Assert.That(() => NpyFile.ReadFloat32(stream), Throws.TypeOf<InvalidDataException>().With.Message.Contains(messagePart));
    }

    [Test]
    public void Read_NotNpy_ThrowsInvalidData()
    {
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes("PK\u0003\u0004 definitely not numpy"));

        Assert.That(() => NpyFile.ReadFloat32(stream), Throws.TypeOf<InvalidDataException>().With.Message.Contains("magic"));
    }

    [Test]
    public void Read_DataShorterThanShape_ThrowsEndOfStream()
    {
        using var stream = NpyStream("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", new float[3]);

        Assert.That(() => NpyFile.ReadFloat32(stream), Throws.TypeOf<EndOfStreamException>());
    }

    [Test]
    public void Write_ShapeMismatch_Throws()
    {
        using var stream = new MemoryStream();

        Assert.That(
            () => NpyFile.WriteFloat32(stream, new float[5], [2, 3]),
            Throws.ArgumentException.With.Message.Contains("needs 6 elements, the data has 5"));
    }

    [Test]
    [Category("Reference")]
    public void Read_NumpyReferenceFile_HasClipTensorShape()
    {
        string path = Path.Combine(ReferenceImages.RequireSharedDirectory(), "clip-reference", "preprocess", "camera.npy");
        if (!File.Exists(path))
        {
            Assert.Ignore($"{path} is missing.");
        }

        var array = NpyFile.ReadFloat32(path);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(array.Shape, Is.EqualTo(new[] { 3, 224, 224 }));
            Assert.That(array.Data, Has.Length.EqualTo(3 * 224 * 224));
            // Normalised CLIP values of bytes lie in [-1.80, 2.15].
            Assert.That(array.Data.Min(), Is.GreaterThanOrEqualTo(-1.80f));
            Assert.That(array.Data.Max(), Is.LessThanOrEqualTo(2.15f));
        }
    }

    private static MemoryStream NpyStream(string header, float[] data)
    {
        var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        byte[] headerBytes = Encoding.ASCII.GetBytes(header + "\n");
        stream.Write([(byte)headerBytes.Length, (byte)(headerBytes.Length >> 8)]);
        stream.Write(headerBytes);
        foreach (float value in data)
        {
            stream.Write(BitConverter.GetBytes(value));
        }

        stream.Position = 0;
        return stream;
    }
}
