using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>Reads a tower's [rows, dim] embedding output (float32 or float16).</summary>
internal static class EmbeddingOutput
{
    /// <summary>
    /// Checks that <paramref name="value"/> is [<paramref name="expectedRows"/>, d] and returns d and the element
    /// type (float32 or float16).
    /// </summary>
    /// <exception cref="ClipModelException">The output has another rank or row count.</exception>
    public static int ReadDim(
        OrtValue value, int expectedRows, string modelPath, string outputName, out TensorElementType elementType) =>
        ReadShape(value, expectedRows, modelPath, outputName, out elementType);

    /// <summary>
    /// Copies the first <paramref name="rows"/> rows of a [runRows, <paramref name="dim"/>] output into
    /// <paramref name="destination"/> (exactly rows × dim floats), converting float16 to float32.
    /// </summary>
    /// <exception cref="ClipModelException">The output does not have the shape the load-time probe saw.</exception>
    public static void CopyRows(
        OrtValue value, int runRows, int rows, int dim, Span<float> destination, string modelPath, string outputName)
    {
        int actualDim = ReadShape(value, runRows, modelPath, outputName, out TensorElementType elementType);
        if (actualDim != dim)
        {
            throw new ClipModelException(
                $"'{modelPath}': output '{outputName}' has {actualDim} columns; the load-time probe saw {dim}.");
        }

        int count = rows * dim;
        if (elementType == TensorElementType.Float16)
        {
            ReadOnlySpan<Float16> source = value.GetTensorDataAsSpan<Float16>()[..count];
            for (int i = 0; i < source.Length; i++)
            {
                destination[i] = (float)source[i];
            }
        }
        else
        {
            value.GetTensorDataAsSpan<float>()[..count].CopyTo(destination);
        }
    }

    /// <summary>
    /// Whether every <paramref name="dim"/>-long row of <paramref name="rows"/> has L2 norm 1 within what the output
    /// precision allows: 1e-3 for float32, 1e-2 for float16 (whose own rounding is about 5e-4 per element).
    /// </summary>
    public static bool AllRowsUnitNorm(ReadOnlySpan<float> rows, int dim, TensorElementType outputElementType)
    {
        float tolerance = outputElementType == TensorElementType.Float16 ? 1e-2f : 1e-3f;
        for (int start = 0; start < rows.Length; start += dim)
        {
            ReadOnlySpan<float> row = rows.Slice(start, dim);
            float norm = TensorPrimitives.Norm(row);
            if (!(MathF.Abs(norm - 1f) < tolerance))
            {
                return false;
            }
        }

        return true;
    }

    private static int ReadShape(
        OrtValue value, int expectedRows, string modelPath, string outputName, out TensorElementType elementType)
    {
        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        if (shape.Length != 2 || shape[0] != expectedRows || shape[1] <= 0)
        {
            throw new ClipModelException(
                $"'{modelPath}': output '{outputName}' has shape [{string.Join(",", shape)}]; expected " +
                $"[{expectedRows}, embedding dim].");
        }

        elementType = info.ElementDataType;
        return checked((int)shape[1]);
    }
}
