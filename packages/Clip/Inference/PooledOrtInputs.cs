using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>
/// The input tensors of one <c>Run</c> call, each an <see cref="OrtValue"/> over an array rented from
/// <see cref="ArrayPool{T}.Shared"/>. ORT pins the array for the value's lifetime, so <see cref="Dispose"/>
/// releases every value first and only then returns its array. Not thread-safe: one instance per call.
/// </summary>
internal sealed class PooledOrtInputs : IDisposable
{
    private readonly OrtValue[] _values;
    private readonly Array?[] _rented;
    private readonly Action<Array>?[] _returners;

    /// <param name="count">Number of graph inputs; every slot must be filled with <see cref="Add{T}"/> before the run.</param>
    public PooledOrtInputs(int count)
    {
        _values = new OrtValue[count];
        _rented = new Array?[count];
        _returners = new Action<Array>?[count];
    }

    /// <summary>The values in slot order, for <c>InferenceSession.Run</c>.</summary>
    public IReadOnlyList<OrtValue> Values => _values;

    /// <summary>
    /// Rents a buffer for a tensor of <paramref name="shape"/> and puts its value in <paramref name="slot"/>.
    /// The returned span is the tensor's data (uninitialized; the caller fills every element before the run).
    /// </summary>
    public Span<T> Add<T>(int slot, long[] shape)
        where T : unmanaged
    {
        long elements = 1;
        foreach (long dim in shape)
        {
            elements *= dim;
        }

        int length = checked((int)elements);
        T[] array = ArrayPool<T>.Shared.Rent(length);
        try
        {
            _values[slot] = OrtValue.CreateTensorValueFromMemory(
                OrtMemoryInfo.DefaultInstance, new Memory<T>(array, 0, length), shape);
        }
        catch
        {
            ArrayPool<T>.Shared.Return(array);
            throw;
        }

        _rented[slot] = array;
        _returners[slot] = Returner<T>.Return;
        return array.AsSpan(0, length);
    }

    /// <summary>Adds a constant tensor for an input the tower does not use (see <see cref="DummyInput"/>).</summary>
    public void AddDummy(int slot, DummyInput dummy)
    {
        switch (dummy.ElementType)
        {
            case TensorElementType.Float:
                Add<float>(slot, dummy.Shape).Fill(dummy.Value);
                break;
            case TensorElementType.Float16:
                Add<Float16>(slot, dummy.Shape).Fill((Float16)(float)dummy.Value);
                break;
            case TensorElementType.Int32:
                Add<int>(slot, dummy.Shape).Fill(dummy.Value);
                break;
            default:
                Add<long>(slot, dummy.Shape).Fill(dummy.Value);
                break;
        }
    }

    /// <summary>Disposes every value, then returns its array to the pool.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i]?.Dispose();
            if (_rented[i] is { } array)
            {
                _returners[i]!(array);
                _rented[i] = null;
            }
        }
    }

    /// <summary>One cached delegate per element type, so tracking a rented array allocates nothing.</summary>
    private static class Returner<T>
    {
        public static readonly Action<Array> Return = array => ArrayPool<T>.Shared.Return((T[])array);
    }
}
