namespace Truss.Server;

/// <summary>
/// A model method that a route calls, as truss's <c>MethodName</c>: <c>predict</c>, or one of the OpenAI-style
/// methods behind <c>/v1/chat/completions</c>, <c>/v1/completions</c>, <c>/v1/embeddings</c>, <c>/v1/messages</c>
/// and <c>/v1/responses</c>. A model implements an OpenAI-style method through its optional interface; a call of a
/// method the model lacks is answered 404 with truss's message.
/// </summary>
/// <remarks>
/// Only <c>embeddings</c> has an interface (<see cref="IEmbeddingsModel"/>). The other four exist so their routes
/// give truss's 404; they stay unimplementable until the shim can stream a response, which chat and completions
/// clients expect.
/// </remarks>
public sealed class ModelMethod
{
    private readonly Func<ITrussModel, bool> _isImplementedBy;
    private readonly Func<ITrussModel, object?, CancellationToken, ValueTask<object?>> _invoke;

    private ModelMethod(
        string name, Func<ITrussModel, bool> isImplementedBy, Func<ITrussModel, object?, CancellationToken, ValueTask<object?>> invoke)
    {
        Name = name;
        _isImplementedBy = isImplementedBy;
        _invoke = invoke;
    }

    /// <summary><see cref="ITrussModel.PredictAsync"/>: every model has it.</summary>
    public static ModelMethod Predict { get; } =
        new("predict", static _ => true, static (model, input, token) => model.PredictAsync(input, token));

    /// <summary><see cref="IEmbeddingsModel.EmbeddingsAsync"/>.</summary>
    public static ModelMethod Embeddings { get; } = new(
        "embeddings",
        static model => model is IEmbeddingsModel,
        static (model, input, token) => ((IEmbeddingsModel)model).EmbeddingsAsync(input, token));

    /// <summary><c>chat_completions</c>: no model of this shim has it yet.</summary>
    public static ModelMethod ChatCompletions { get; } = Unimplementable("chat_completions");

    /// <summary><c>completions</c>: no model of this shim has it yet.</summary>
    public static ModelMethod Completions { get; } = Unimplementable("completions");

    /// <summary><c>messages</c>: no model of this shim has it yet.</summary>
    public static ModelMethod Messages { get; } = Unimplementable("messages");

    /// <summary><c>responses</c>: no model of this shim has it yet.</summary>
    public static ModelMethod Responses { get; } = Unimplementable("responses");

    /// <summary>The method's name in truss (<c>predict</c>, <c>embeddings</c>, ...), as messages name it.</summary>
    public string Name { get; }

    /// <summary>Whether <paramref name="model"/> has this method.</summary>
    public bool IsImplementedBy(ITrussModel model) => _isImplementedBy(model);

    /// <summary>Calls the method; the caller has checked <see cref="IsImplementedBy"/>.</summary>
    public ValueTask<object?> InvokeAsync(ITrussModel model, object? input, CancellationToken cancellationToken) =>
        _invoke(model, input, cancellationToken);

    public override string ToString() => Name;

    private static ModelMethod Unimplementable(string name) => new(
        name,
        static _ => false,
        (_, _, _) => throw new InvalidOperationException($"`{name}` has no implementation in this shim; this is a bug."));
}
