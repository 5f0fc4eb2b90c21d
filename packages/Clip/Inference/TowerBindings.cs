using System.Globalization;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Clip.Inference;

/// <summary>
/// An input the tower does not use but the graph requires (the other modality of a combined graph); it is fed a
/// constant tensor of <see cref="Shape"/> filled with <see cref="Value"/>.
/// </summary>
internal sealed record DummyInput(string Name, TensorElementType ElementType, long[] Shape, int Value);

/// <summary>How to feed and read the image tower, resolved from the graph metadata. Immutable.</summary>
internal sealed record ImageBinding(
    string ModelPath,
    IReadOnlyList<string> InputNames,
    string PixelInputName,
    TensorElementType PixelElementType,
    int? FixedBatchSize,
    int ImageSize,
    string OutputName,
    int? DeclaredEmbeddingDim,
    IReadOnlyList<DummyInput> DummyInputs);

/// <summary>How to feed and read the text tower, resolved from the graph metadata. Immutable.</summary>
internal sealed record TextBinding(
    string ModelPath,
    IReadOnlyList<string> InputNames,
    string IdsInputName,
    TensorElementType IdsElementType,
    string? AttentionMaskName,
    TensorElementType AttentionMaskElementType,
    int? FixedBatchSize,
    int? FixedSequenceLength,
    int ContextLength,
    string OutputName,
    int? DeclaredEmbeddingDim,
    IReadOnlyList<DummyInput> DummyInputs);

/// <summary>
/// Matches a session's declared inputs and outputs against the layout defaults and the explicit names in
/// <see cref="ClipModelOptions"/>, and checks names, element types and fixed dimensions against each other and
/// against the sidecars. Every mismatch is a <see cref="ClipModelException"/> naming the file, the tensor and what
/// was expected versus found.
/// </summary>
internal static class TowerBindings
{
    private const int DefaultImageSize = 224;
    private const int DefaultContextLength = 77;
    private const string AttentionMask = "attention_mask";

    public static ImageBinding BindImage(
        InferenceSession session, ClipModelFiles files, ClipModelOptions options, ClipSidecars sidecars)
    {
        string path = files.ImageModelPath;
        PixelInput pixels = ResolvePixels(session, path, files.Layout, options, sidecars, "Image tower");
        var fed = new List<string> { pixels.Name };
        var dummies = new List<DummyInput>();
        if (files.Layout == ClipModelLayout.Combined)
        {
            // ORT must be fed every graph input, so an image-only call on the combined graph also feeds one minimal
            // token row (id 0, mask 1) and pays for whatever ORT runs of the text branch; text-only calls likewise
            // feed a zero image. That overhead on every call is why split layouts are preferred.
            IdsInput ids = ResolveIds(session, path, files.Layout, options, sidecars, "Image tower");
            long[] idsShape = [ids.FixedBatchSize ?? 1, ids.FixedSequenceLength ?? 1];
            dummies.Add(new DummyInput(ids.Name, ids.ElementType, idsShape, 0));
            fed.Add(ids.Name);
            if (ids.MaskName is not null)
            {
                dummies.Add(new DummyInput(ids.MaskName, ids.MaskElementType, idsShape, 1));
                fed.Add(ids.MaskName);
            }
        }

        RejectUnfedInputs(session, path, "Image tower", fed);
        (string output, int? dim) = ResolveOutput(
            session, path, "Image tower", options.ImageOutputName, nameof(ClipModelOptions.ImageOutputName),
            files.Layout == ClipModelLayout.Immich ? "embedding" : "image_embeds");
        return new ImageBinding(
            path, InputNames(session), pixels.Name, pixels.ElementType, pixels.FixedBatchSize, pixels.ImageSize,
            output, dim, dummies);
    }

    public static TextBinding BindText(
        InferenceSession session, ClipModelFiles files, ClipModelOptions options, ClipSidecars sidecars)
    {
        string path = files.TextModelPath;
        IdsInput ids = ResolveIds(session, path, files.Layout, options, sidecars, "Text tower");
        var fed = new List<string> { ids.Name };
        if (ids.MaskName is not null)
        {
            fed.Add(ids.MaskName);
        }

        var dummies = new List<DummyInput>();
        if (files.Layout == ClipModelLayout.Combined)
        {
            // The combined graph wants pixels on every call: feed one zero image and ignore its embedding (see
            // BindImage for why split layouts are preferred).
            PixelInput pixels = ResolvePixels(session, path, files.Layout, options, sidecars, "Text tower");
            dummies.Add(new DummyInput(
                pixels.Name, pixels.ElementType, [pixels.FixedBatchSize ?? 1, 3, pixels.ImageSize, pixels.ImageSize], 0));
            fed.Add(pixels.Name);
        }

        RejectUnfedInputs(session, path, "Text tower", fed);
        (string output, int? dim) = ResolveOutput(
            session, path, "Text tower", options.TextOutputName, nameof(ClipModelOptions.TextOutputName),
            files.Layout == ClipModelLayout.Immich ? "embedding" : "text_embeds");
        return new TextBinding(
            path, InputNames(session), ids.Name, ids.ElementType, ids.MaskName, ids.MaskElementType,
            ids.FixedBatchSize, ids.FixedSequenceLength, ids.ContextLength, output, dim, dummies);
    }

    private static PixelInput ResolvePixels(
        InferenceSession session,
        string path,
        ClipModelLayout layout,
        ClipModelOptions options,
        ClipSidecars sidecars,
        string tower)
    {
        string name = FindInput(
            session, path, tower, options.ImageInputName, nameof(ClipModelOptions.ImageInputName),
            layout == ClipModelLayout.Immich ? ["image"] : ["pixel_values"], "pixel");
        NodeMetadata meta = session.InputMetadata[name];
        RequireTensor(meta, path, tower, "input", name, [TensorElementType.Float, TensorElementType.Float16]);
        int[] dims = meta.Dimensions;
        if (dims.Length != 4 || dims[1] is not (3 or -1) || (dims[2] > 0 && dims[3] > 0 && dims[2] != dims[3]))
        {
            throw new ClipModelException(
                $"{tower} '{path}': input '{name}' has shape {Shape(meta)}; expected [batch, 3, size, size] (NCHW, " +
                "square).");
        }

        int? graphSize = dims[2] > 0 ? dims[2] : dims[3] > 0 ? dims[3] : null;
        if (graphSize is { } fixedSize && sidecars.ImageSize is { } sidecarSize && fixedSize != sidecarSize)
        {
            throw new ClipModelException(
                $"{tower} '{path}': input '{name}' is fixed to {fixedSize}x{fixedSize} pixels but the sidecar " +
                $"({string.Join(", ", sidecars.FilesRead)}) says {sidecarSize}.");
        }

        return new PixelInput(
            name, meta.ElementDataType, FixedDim(dims[0]), graphSize ?? sidecars.ImageSize ?? DefaultImageSize);
    }

    private static IdsInput ResolveIds(
        InferenceSession session,
        string path,
        ClipModelLayout layout,
        ClipModelOptions options,
        ClipSidecars sidecars,
        string tower)
    {
        string name = FindInput(
            session, path, tower, options.TextInputName, nameof(ClipModelOptions.TextInputName),
            layout == ClipModelLayout.Immich ? ["text", "input_ids"] : ["input_ids"], "token id");
        NodeMetadata meta = session.InputMetadata[name];
        RequireTensor(meta, path, tower, "input", name, [TensorElementType.Int32, TensorElementType.Int64]);
        RequireRank2(meta, path, tower, "input", name, "[batch, sequence]");

        string? maskName = options.TextAttentionMaskName is { } explicitMask
            ? FindInput(session, path, tower, explicitMask, nameof(ClipModelOptions.TextAttentionMaskName), [], "attention mask")
            : session.InputMetadata.ContainsKey(AttentionMask) ? AttentionMask : null;
        TensorElementType maskType = TensorElementType.Int64;
        if (maskName is not null)
        {
            NodeMetadata mask = session.InputMetadata[maskName];
            RequireTensor(mask, path, tower, "input", maskName, [TensorElementType.Int32, TensorElementType.Int64]);
            RequireRank2(mask, path, tower, "input", maskName, "[batch, sequence]");
            maskType = mask.ElementDataType;
        }

        int? fixedSequence = FixedDim(meta.Dimensions[1]);
        if (fixedSequence is { } sequence && sidecars.ContextLength is { } context && sequence != context)
        {
            throw new ClipModelException(
                $"{tower} '{path}': input '{name}' is fixed to {sequence} tokens but the sidecar " +
                $"({string.Join(", ", sidecars.FilesRead)}) says the context length is {context}.");
        }

        return new IdsInput(
            name, meta.ElementDataType, maskName, maskType, FixedDim(meta.Dimensions[0]), fixedSequence,
            fixedSequence ?? sidecars.ContextLength ?? DefaultContextLength);
    }

    private static (string Name, int? Dim) ResolveOutput(
        InferenceSession session, string path, string tower, string? explicitName, string optionName, string fallback)
    {
        string name = explicitName ?? fallback;
        if (!session.OutputMetadata.TryGetValue(name, out NodeMetadata? meta))
        {
            throw new ClipModelException(
                $"{tower} '{path}': no output named '{name}' (embedding output). The graph's outputs: " +
                $"{Describe(session.OutputMetadata)}. Set ClipModelOptions.{optionName} to the embedding output.");
        }

        RequireTensor(meta, path, tower, "output", name, [TensorElementType.Float, TensorElementType.Float16]);
        RequireRank2(meta, path, tower, "output", name, "[batch, embedding dim]");
        return (name, FixedDim(meta.Dimensions[1]));
    }

    private static string FindInput(
        InferenceSession session,
        string path,
        string tower,
        string? explicitName,
        string optionName,
        string[] candidates,
        string role)
    {
        if (explicitName is not null)
        {
            if (session.InputMetadata.ContainsKey(explicitName))
            {
                return explicitName;
            }
        }
        else
        {
            foreach (string candidate in candidates)
            {
                if (session.InputMetadata.ContainsKey(candidate))
                {
                    return candidate;
                }
            }
        }

        string wanted = explicitName ?? string.Join("' or '", candidates);
        throw new ClipModelException(
            $"{tower} '{path}': no input named '{wanted}' ({role} input). The graph's inputs: " +
            $"{Describe(session.InputMetadata)}. Set ClipModelOptions.{optionName} to the {role} input.");
    }

    private static void RejectUnfedInputs(InferenceSession session, string path, string tower, List<string> fed)
    {
        foreach ((string name, NodeMetadata meta) in session.InputMetadata)
        {
            if (!fed.Contains(name))
            {
                throw new ClipModelException(
                    $"{tower} '{path}': input '{name}' ({meta.ElementDataType} {Shape(meta)}) is not one this tower " +
                    $"can feed; it feeds only {string.Join(", ", fed)}. Check the layout and the tensor-name options.");
            }
        }
    }

    private static void RequireTensor(
        NodeMetadata meta, string path, string tower, string kind, string name, TensorElementType[] allowed)
    {
        if (!meta.IsTensor || Array.IndexOf(allowed, meta.ElementDataType) < 0)
        {
            string actual = meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString();
            throw new ClipModelException(
                $"{tower} '{path}': {kind} '{name}' has element type {actual}; expected " +
                $"{string.Join(" or ", allowed)}.");
        }
    }

    private static void RequireRank2(NodeMetadata meta, string path, string tower, string kind, string name, string expected)
    {
        if (meta.Dimensions.Length != 2)
        {
            throw new ClipModelException(
                $"{tower} '{path}': {kind} '{name}' has shape {Shape(meta)}; expected {expected}.");
        }
    }

    private static int? FixedDim(int dim) => dim > 0 ? dim : null;

    private static string[] InputNames(InferenceSession session)
    {
        var names = new string[session.InputNames.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = session.InputNames[i];
        }

        return names;
    }

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> metadata)
    {
        var text = new StringBuilder();
        foreach ((string name, NodeMetadata meta) in metadata)
        {
            if (text.Length > 0)
            {
                text.Append(", ");
            }

            text.Append(name).Append(": ");
            text.Append(meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString());
            if (meta.IsTensor)
            {
                text.Append(' ').Append(Shape(meta));
            }
        }

        return text.Length == 0 ? "none" : text.ToString();
    }

    /// <summary>A shape with symbolic dimensions by name, e.g. <c>[batch_size,3,224,224]</c>.</summary>
    private static string Shape(NodeMetadata meta)
    {
        var text = new StringBuilder("[");
        int[] dims = meta.Dimensions;
        string[] symbols = meta.SymbolicDimensions;
        for (int i = 0; i < dims.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            text.Append(dims[i] > 0 || i >= symbols.Length || symbols[i].Length == 0
                ? dims[i].ToString(CultureInfo.InvariantCulture)
                : symbols[i]);
        }

        return text.Append(']').ToString();
    }

    private sealed record PixelInput(string Name, TensorElementType ElementType, int? FixedBatchSize, int ImageSize);

    private sealed record IdsInput(
        string Name,
        TensorElementType ElementType,
        string? MaskName,
        TensorElementType MaskElementType,
        int? FixedBatchSize,
        int? FixedSequenceLength,
        int ContextLength);
}
