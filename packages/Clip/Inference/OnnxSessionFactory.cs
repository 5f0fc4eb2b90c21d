using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Clip.Inference;

/// <summary>
/// Creates ONNX Runtime sessions with the execution settings of a <see cref="ClipModelOptions"/>: all graph
/// optimizations, the configured thread counts, and CUDA when it is requested and usable. When CUDA is requested
/// but unusable, the session runs on CPU and one warning is logged; later sessions from the same factory go
/// straight to CPU without trying CUDA again. Thread-safe.
/// </summary>
public sealed class OnnxSessionFactory
{
    private static readonly Lock EnvironmentLock = new();

    private readonly ClipModelOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _cudaLock = new();
    private bool _cudaUnusable;

    /// <summary>
    /// Creates the factory and raises the process-wide ONNX Runtime log level to FATAL, so a missing CUDA library
    /// does not print an ANSI-coloured ERROR line to stderr (failures still surface as exceptions).
    /// </summary>
    /// <param name="options">Execution settings: <see cref="ClipModelOptions.UseCuda"/>, <see cref="ClipModelOptions.CudaDeviceId"/>, thread counts.</param>
    /// <param name="logger">Receives the CUDA fallback warning.</param>
    public OnnxSessionFactory(ClipModelOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _logger = logger;
        QuietEnvironment();
    }

    /// <summary>
    /// Loads <paramref name="modelPath"/> into a new session. The caller owns the session and disposes it;
    /// sessions are thread-safe for concurrent <c>Run</c> calls.
    /// </summary>
    /// <param name="modelPath">The ONNX file.</param>
    /// <param name="provider">The execution provider the session actually uses.</param>
    /// <exception cref="ClipModelException">The file cannot be loaded (ONNX Runtime's error is the inner exception).</exception>
    public InferenceSession Create(string modelPath, out ExecutionProviderKind provider)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        bool tryCuda;
        lock (_cudaLock)
        {
            tryCuda = _options.UseCuda && !_cudaUnusable;
        }

        Exception? cudaFailure = null;
        if (tryCuda)
        {
            using SessionOptions cudaOptions = CreateSessionOptions();
            try
            {
                // Throws when libonnxruntime_providers_cuda.so or its CUDA/cuDNN dependencies cannot be loaded
                // (OnnxRuntimeException with the GPU package, EntryPointNotFoundException with the CPU package);
                // the session constructor throws when no device is present. Either way CPU still works.
                if (_options.CudaProviderOptions.Count == 0)
                {
                    cudaOptions.AppendExecutionProvider_CUDA(_options.CudaDeviceId);
                }
                else
                {
                    // Provider options (memory arena, cuDNN algorithm search, memory limit) go through ORT's own
                    // key/value interface, so every key ORT documents for the CUDA provider is accepted as is.
                    using var cudaProvider = new OrtCUDAProviderOptions();
                    var settings = new Dictionary<string, string>(_options.CudaProviderOptions, StringComparer.Ordinal)
                    {
                        ["device_id"] = _options.CudaDeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    };
                    cudaProvider.UpdateOptions(settings);
                    cudaOptions.AppendExecutionProvider_CUDA(cudaProvider);
                }
                var session = new InferenceSession(modelPath, cudaOptions);
                provider = ExecutionProviderKind.Cuda;
                return session;
            }
            catch (Exception e)
            {
                cudaFailure = e;
            }
        }

        InferenceSession cpuSession;
        using (SessionOptions cpuOptions = CreateSessionOptions())
        {
            try
            {
                cpuSession = new InferenceSession(modelPath, cpuOptions);
            }
            catch (OnnxRuntimeException e)
            {
                // Also fails on CPU, so the file is at fault, not CUDA: report that and keep CUDA eligible.
                throw new ClipModelException($"ONNX Runtime cannot load '{modelPath}': {e.Message}", e);
            }
        }

        if (cudaFailure is not null)
        {
            WarnCudaUnusable(cudaFailure);
        }

        provider = ExecutionProviderKind.Cpu;
        return cpuSession;
    }

    private void WarnCudaUnusable(Exception cause)
    {
        lock (_cudaLock)
        {
            if (_cudaUnusable)
            {
                return;
            }

            _cudaUnusable = true;
        }

        _logger.LogWarning(
            cause,
            "CUDA was requested (device {CudaDeviceId}) but cannot be used, so ONNX Runtime runs on CPU. This ONNX " +
            "Runtime build needs an NVIDIA driver for CUDA 13 with the CUDA 13 and cuDNN 9 libraries on the loader " +
            "path. Cause: {Cause}",
            _options.CudaDeviceId,
            cause.Message);
    }

    private SessionOptions CreateSessionOptions()
    {
        var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (_options.IntraOpThreads > 0)
        {
            sessionOptions.IntraOpNumThreads = _options.IntraOpThreads;
        }

        if (_options.InterOpThreads > 0)
        {
            sessionOptions.InterOpNumThreads = _options.InterOpThreads;
            if (_options.InterOpThreads > 1)
            {
                // Inter-op threads are only used by the parallel executor.
                sessionOptions.ExecutionMode = ExecutionMode.ORT_PARALLEL;
            }
        }

        return sessionOptions;
    }

    private static void QuietEnvironment()
    {
        lock (EnvironmentLock)
        {
            if (OrtEnv.IsCreated)
            {
                OrtEnv.Instance().EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
                return;
            }

            var environmentOptions = new EnvironmentCreationOptions
            {
                logId = "Clip.Inference",
                logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
            };
            OrtEnv.CreateInstanceWithOptions(ref environmentOptions);
        }
    }
}
