namespace Truss.Server;

/// <summary>
/// The Truss model contract, as the Python truss server sees <c>model/model.py</c>: a class constructed once with
/// the parsed config, the data directory and secrets (see <see cref="ModelContext"/>), whose <see cref="Load"/> runs
/// once in the background at startup and whose <see cref="PredictAsync"/> serves every predict route.
/// </summary>
/// <remarks>
/// Inputs and outputs are the neutral value tree that both wire formats (JSON and msgpack) map to:
/// <c>null</c>, <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>, <see cref="string"/>,
/// <c>byte[]</c> (msgpack only), <see cref="List{T}"/> of values and
/// <see cref="OrderedDictionary{TKey,TValue}"/> (string keys, wire order). Outputs may also use any
/// <see cref="System.Collections.IEnumerable"/>, any dictionary with string keys, <see cref="float"/> and other
/// integer types; see <c>PythonJsonWriter</c> for how each is written.
/// </remarks>
public interface ITrussModel
{
    /// <summary>Loads weights and warms up. Called once, off the request path; throwing fails the load.</summary>
    void Load();

    /// <summary>
    /// Serves one predict request. Calls are bounded by <c>runtime.predict_concurrency</c>.
    /// Throw <see cref="ModelInputException"/> for the caller's mistakes (4xx) and
    /// <see cref="ModelHttpException"/> for an explicit status; anything else becomes the generic 500.
    /// </summary>
    ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken);
}

/// <summary>Optional: a model that can report its own health after load (Truss's <c>is_healthy</c>).</summary>
public interface IHealthReportingModel
{
    /// <summary>True when the model can serve. False or an exception makes readiness answer 503.</summary>
    bool IsHealthy();
}

/// <summary>
/// Optional: a model that takes long JSON strings (base64 images, for example) as <see cref="Serialization.Utf8Text"/>
/// views of the request body instead of <see cref="string"/>s, which saves a UTF-16 copy of each (see
/// <see cref="Serialization.Utf8Text"/> for the view's lifetime). Shorter strings and object keys stay strings.
/// </summary>
public interface IUtf8TextInputModel
{
    /// <summary>JSON strings of at least this many UTF-8 bytes arrive as <see cref="Serialization.Utf8Text"/>.</summary>
    int Utf8TextMinBytes { get; }
}

/// <summary>
/// Optional: a model that serves <c>POST /v1/embeddings</c> (truss's <c>embeddings</c> method). The route runs
/// through the same pipeline as predict (body limits, readiness, the predict gate, JSON or msgpack in and out, the
/// error table); a model without this interface answers that route with 404, as truss does.
/// </summary>
public interface IEmbeddingsModel
{
    /// <summary>
    /// Serves one embeddings request; <paramref name="input"/> is the parsed body, in the same neutral value tree
    /// as <see cref="ITrussModel.PredictAsync"/>. Same exception rules as predict.
    /// </summary>
    ValueTask<object?> EmbeddingsAsync(object? input, CancellationToken cancellationToken);
}
