using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

public partial class PillowResamplerTests
{
    /// <summary>
    /// A slow, obviously correct resampler in double precision: same kernel, support widening, tap window and
    /// normalisation as Pillow, but real-valued weights and round-to-nearest instead of 22-bit fixed point. The
    /// intermediate is still rounded and clamped to bytes between the passes, as Pillow does. It may differ from the
    /// fixed-point port by one level where a sum lands within rounding noise of .5.
    /// </summary>
    private static class ReferenceResampler
    {
        public static byte[] Resize(byte[] rgb, int inWidth, int inHeight, int outWidth, int outHeight, ResampleFilter filter)
        {
            double[][] horizontal = Weights(inWidth, outWidth, filter, out int[] xStart);
            double[][] vertical = Weights(inHeight, outHeight, filter, out int[] yStart);

            var intermediate = new byte[outWidth * inHeight * 3];
            for (int y = 0; y < inHeight; y++)
            {
                for (int x = 0; x < outWidth; x++)
                {
                    for (int c = 0; c < 3; c++)
                    {
                        double sum = 0;
                        for (int t = 0; t < horizontal[x].Length; t++)
                        {
                            sum += horizontal[x][t] * rgb[((y * inWidth) + xStart[x] + t) * 3 + c];
                        }

                        intermediate[((y * outWidth) + x) * 3 + c] = ToByte(sum);
                    }
                }
            }

            var output = new byte[outWidth * outHeight * 3];
            for (int y = 0; y < outHeight; y++)
            {
                for (int x = 0; x < outWidth; x++)
                {
                    for (int c = 0; c < 3; c++)
                    {
                        double sum = 0;
                        for (int t = 0; t < vertical[y].Length; t++)
                        {
                            sum += vertical[y][t] * intermediate[(((yStart[y] + t) * outWidth) + x) * 3 + c];
                        }

                        output[((y * outWidth) + x) * 3 + c] = ToByte(sum);
                    }
                }
            }

            return output;
        }

        private static double[][] Weights(int inSize, int outSize, ResampleFilter filter, out int[] start)
        {
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = (filter == ResampleFilter.Bicubic ? 2.0 : 1.0) * filterScale;
            var weights = new double[outSize][];
            start = new int[outSize];
            for (int i = 0; i < outSize; i++)
            {
                double center = (i + 0.5) * scale;
                int first = Math.Max(0, (int)Math.Floor(center - support + 0.5));
                int end = Math.Min(inSize, (int)Math.Floor(center + support + 0.5));
                var w = new double[end - first];
                double total = 0;
                for (int x = first; x < end; x++)
                {
                    double distance = (x - center + 0.5) / filterScale;
                    w[x - first] = filter == ResampleFilter.Bicubic ? Cubic(distance) : Math.Max(0, 1 - Math.Abs(distance));
                    total += w[x - first];
                }

                for (int t = 0; t < w.Length; t++)
                {
                    w[t] /= total;
                }

                weights[i] = w;
                start[i] = first;
            }

            return weights;
        }

        private static double Cubic(double x)
        {
            const double a = -0.5;
            x = Math.Abs(x);
            return x < 1 ? ((a + 2) * x * x * x) - ((a + 3) * x * x) + 1
                : x < 2 ? (a * x * x * x) - (5 * a * x * x) + (8 * a * x) - (4 * a)
                : 0;
        }

        private static byte ToByte(double value) => (byte)Math.Clamp(Math.Floor(value + 0.5), 0, 255);
    }
}
