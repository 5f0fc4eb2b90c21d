using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Truss.Server.Hosting;

/// <summary>
/// Owns the model's lifecycle (truss's <c>ModelWrapper</c>): constructs it and runs <c>Load()</c> once in the
/// background with retries, answers readiness, and passes predict calls through the <see cref="PredictGate"/>.
/// Never loads on the request path. Thread-safe.
/// </summary>
public sealed class ModelHost : IDisposable
{
    private readonly Func<ITrussModel> _createModel;
    private readonly Action<CancellationToken>? _prepare;
    private readonly CancellationTokenSource _stopping = new();
    private readonly int _loadRetries;
    private readonly TimeSpan _retryDelay;
    private readonly ILogger _logger;
    private ITrussModel? _model;
    private volatile ModelState _state = ModelState.NotReady;
    private long _loadStarted;
    private long _loadDurationTicks;

    /// <summary>Creates the lifecycle; nothing runs until <see cref="StartLoading"/>.</summary>
    /// <param name="createModel">Constructs the model (on the background load thread).</param>
    /// <param name="gate">The predict concurrency gate.</param>
    /// <param name="loadRetries">Extra <c>Load()</c> attempts.</param>
    /// <param name="retryDelay">Pause between <c>Load()</c> attempts.</param>
    /// <param name="logger">The lifecycle's logger.</param>
    /// <param name="prepare">
    /// Runs once before <paramref name="createModel"/>, on the load thread (the <c>model_cache</c> download); its
    /// token is cancelled when the server begins stopping. Throwing fails the load without retries.
    /// </param>
    public ModelHost(
        Func<ITrussModel> createModel,
        PredictGate gate,
        int loadRetries,
        TimeSpan retryDelay,
        ILogger<ModelHost> logger,
        Action<CancellationToken>? prepare = null)
    {
        _createModel = createModel;
        _prepare = prepare;
        Gate = gate;
        _loadRetries = loadRetries;
        _retryDelay = retryDelay;
        _logger = logger;
    }

    /// <summary>Where the lifecycle stands.</summary>
    public ModelState State => _state;

    /// <summary>The predict concurrency gate.</summary>
    public PredictGate Gate { get; }

    /// <summary>The model instance once constructed (for diagnostics and tests).</summary>
    public ITrussModel? Model => _model;

    /// <summary>Where JSON strings start arriving as <see cref="Serialization.Utf8Text"/> (see <see cref="IUtf8TextInputModel"/>).</summary>
    public int Utf8TextMinBytes => _model is IUtf8TextInputModel { Utf8TextMinBytes: var bytes } ? bytes : int.MaxValue;

    /// <summary>
    /// How long loading took, from <see cref="StartLoading"/> to ready (model_cache download, construction and every
    /// <c>Load()</c> attempt); null until the model is ready.
    /// </summary>
    public TimeSpan? LoadDuration => Volatile.Read(ref _loadDurationTicks) is > 0 and var ticks ? TimeSpan.FromTicks(ticks) : null;

    /// <summary>Completes when loading has ended, either way.</summary>
    public Task LoadCompletion { get; private set; } = Task.CompletedTask;

    /// <summary>Starts construction and <c>Load()</c> on a background thread; <paramref name="onFailed"/> runs if every attempt fails.</summary>
    public void StartLoading(Action onFailed)
    {
        if (_state != ModelState.NotReady)
        {
            throw new InvalidOperationException("The model is already loading or loaded; this is a bug.");
        }

        _state = ModelState.Loading;
        _loadStarted = Stopwatch.GetTimestamp();
        LoadCompletion = Task.Factory.StartNew(
            () => LoadWithRetries(onFailed), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Marks the server as shutting down, so readiness answers 503 while in-flight work drains.</summary>
    public void BeginStopping() => _stopping.Cancel(); // also ends a model_cache download in progress

    /// <summary>
    /// Readiness: loaded, not stopping, and, when the model reports health (<see cref="IHealthReportingModel"/>),
    /// healthy. <paramref name="consultModelHealth"/> is false for <c>/loaded</c> and <c>/ping</c>, as in truss.
    /// </summary>
    public bool IsReady(bool consultModelHealth)
    {
        if (_state != ModelState.Ready || _stopping.IsCancellationRequested)
        {
            return false;
        }

        if (!consultModelHealth || _model is not IHealthReportingModel health)
        {
            return true;
        }

        try
        {
            if (health.IsHealthy())
            {
                return true;
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Exception while checking if model is healthy: {Reason}", e.Message);
        }

        _logger.LogWarning("Health check failed.");
        return false;
    }

    /// <summary>Runs one prediction once a slot is free; throws <see cref="ModelNotReadyException"/> before load.</summary>
    public ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken) =>
        InvokeAsync(ModelMethod.Predict, input, cancellationToken);

    /// <summary>
    /// Runs <paramref name="method"/> once a predict slot is free: OpenAI-style methods share predict's
    /// concurrency bound, because they load the same model (truss runs them outside its predict semaphore, which
    /// leaves them unbounded). Throws <see cref="ModelNotReadyException"/> before load and
    /// <see cref="ModelMethodNotImplementedException"/>, without taking a slot, when the model lacks the method.
    /// </summary>
    public async ValueTask<object?> InvokeAsync(ModelMethod method, object? input, CancellationToken cancellationToken)
    {
        if (_state != ModelState.Ready || _model is null)
        {
            throw new ModelNotReadyException();
        }

        if (!method.IsImplementedBy(_model))
        {
            throw new ModelMethodNotImplementedException(method.Name);
        }

        using var slot = await Gate.EnterAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return await method.InvokeAsync(_model, input, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        Gate.Dispose();
        (_model as IDisposable)?.Dispose();
        // _stopping is not disposed: the load thread may still read its token, and it owns no timer or handle.
    }

    private void LoadWithRetries(Action onFailed)
    {
        try
        {
            _prepare?.Invoke(_stopping.Token);
            _model = _createModel();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Stopping during the model_cache download is a normal shutdown, not a failed load.
            _logger.LogInformation("Model loading cancelled: the server is stopping");
            return;
        }
        catch (Exception e)
        {
            Fail(e, onFailed);
            return;
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                _logger.LogInformation("Executing model.load()...");
                var stopwatch = Stopwatch.StartNew();
                _model.Load();
                _logger.LogInformation(
                    "Completed model.load() execution in {ElapsedMs} ms", (long)stopwatch.Elapsed.TotalMilliseconds);
                Volatile.Write(ref _loadDurationTicks, Math.Max(1, Stopwatch.GetElapsedTime(_loadStarted).Ticks));
                _state = ModelState.Ready;
                return;
            }
            catch (Exception e) when (attempt < _loadRetries)
            {
                _logger.LogWarning(e, "Failed to load model. Retrying...");
                Thread.Sleep(_retryDelay);
            }
            catch (Exception e)
            {
                Fail(e, onFailed);
                return;
            }
        }
    }

    private void Fail(Exception e, Action onFailed)
    {
        _state = ModelState.Failed;
        _logger.LogError(e, "Exception while loading model");
        onFailed();
    }
}
