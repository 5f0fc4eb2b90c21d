namespace Clip.Inference;

/// <summary>
/// The layout and the ONNX files of one model directory, resolved from <see cref="ClipModelOptions"/>: explicit
/// options win, otherwise the layout is detected from which files exist.
/// </summary>
/// <param name="Layout">The layout whose defaults (tensor names, sidecars) apply.</param>
/// <param name="ModelDirectory">The model directory as a full path.</param>
/// <param name="ImageModelPath">Full path of the image tower file (the combined graph for Combined).</param>
/// <param name="TextModelPath">Full path of the text tower file (the same file as the image tower for Combined).</param>
internal sealed record ClipModelFiles(
    ClipModelLayout Layout,
    string ModelDirectory,
    string ImageModelPath,
    string TextModelPath)
{
    private const string SplitVision = "onnx/vision_model";
    private const string SplitText = "onnx/text_model";
    private const string ImmichVisual = "visual/model.onnx";
    private const string ImmichTextual = "textual/model.onnx";

    /// <summary>Resolves the layout and checks that the tower files exist.</summary>
    /// <exception cref="ClipModelException">The directory or a file is missing, or no layout matches.</exception>
    public static ClipModelFiles Resolve(ClipModelOptions options)
    {
        string directory = Path.GetFullPath(options.ModelDirectory);
        if (!Directory.Exists(directory))
        {
            throw new ClipModelException(
                $"Model directory '{directory}' does not exist (ClipModelOptions.ModelDirectory).");
        }

        string suffix = options.ModelFileVariant is null ? "" : "_" + options.ModelFileVariant;
        ClipModelLayout layout = options.Layout ?? ImpliedLayout(options) ?? Detect(directory, suffix);

        if (layout == ClipModelLayout.Combined)
        {
            string combined = options.CombinedModelPath is { } explicitPath
                ? Path.GetFullPath(explicitPath, directory)
                : DefaultCombinedPath(directory, suffix);
            RequireFile(combined, layout, "combined", nameof(ClipModelOptions.CombinedModelPath));
            return new ClipModelFiles(layout, directory, combined, combined);
        }

        string image = Path.GetFullPath(
            options.ImageModelPath ?? (layout == ClipModelLayout.Split ? $"{SplitVision}{suffix}.onnx" : ImmichVisual),
            directory);
        string text = Path.GetFullPath(
            options.TextModelPath ?? (layout == ClipModelLayout.Split ? $"{SplitText}{suffix}.onnx" : ImmichTextual),
            directory);
        RequireFile(image, layout, "image tower", nameof(ClipModelOptions.ImageModelPath));
        RequireFile(text, layout, "text tower", nameof(ClipModelOptions.TextModelPath));
        return new ClipModelFiles(layout, directory, image, text);
    }

    private static ClipModelLayout? ImpliedLayout(ClipModelOptions options)
    {
        if (options.CombinedModelPath is not null)
        {
            return ClipModelLayout.Combined;
        }

        // Two explicit files without a layout: use the Split defaults rather than guessing from the directory.
        return options.ImageModelPath is not null && options.TextModelPath is not null ? ClipModelLayout.Split : null;
    }

    private static ClipModelLayout Detect(string directory, string suffix)
    {
        // Xenova repositories ship the split towers and onnx/model.onnx side by side; the split pair wins because it
        // can embed one modality without a dummy input for the other.
        bool splitVision = File.Exists(Path.Combine(directory, $"{SplitVision}{suffix}.onnx"));
        bool splitText = File.Exists(Path.Combine(directory, $"{SplitText}{suffix}.onnx"));
        if (splitVision && splitText)
        {
            return ClipModelLayout.Split;
        }

        bool immichVisual = suffix.Length == 0 && File.Exists(Path.Combine(directory, ImmichVisual));
        bool immichTextual = suffix.Length == 0 && File.Exists(Path.Combine(directory, ImmichTextual));
        if (immichVisual && immichTextual)
        {
            return ClipModelLayout.Immich;
        }

        if (File.Exists(Path.Combine(directory, $"model{suffix}.onnx"))
            || File.Exists(Path.Combine(directory, $"onnx/model{suffix}.onnx")))
        {
            return ClipModelLayout.Combined;
        }

        string half = (splitVision, splitText, immichVisual, immichTextual) switch
        {
            (true, false, _, _) => $" Found {SplitVision}{suffix}.onnx but not {SplitText}{suffix}.onnx.",
            (false, true, _, _) => $" Found {SplitText}{suffix}.onnx but not {SplitVision}{suffix}.onnx.",
            (_, _, true, false) => $" Found {ImmichVisual} but not {ImmichTextual}.",
            (_, _, false, true) => $" Found {ImmichTextual} but not {ImmichVisual}.",
            _ => "",
        };
        throw new ClipModelException(
            $"No CLIP ONNX layout found in '{directory}'. Looked for {SplitVision}{suffix}.onnx + " +
            $"{SplitText}{suffix}.onnx (Split), {ImmichVisual} + {ImmichTextual} (Immich), model{suffix}.onnx or " +
            $"onnx/model{suffix}.onnx (Combined).{half} ONNX files present: {ListOnnxFiles(directory)}. Set " +
            "ClipModelOptions.Layout and the model paths (or ModelFileVariant) explicitly.");
    }

    private static string DefaultCombinedPath(string directory, string suffix)
    {
        string root = Path.Combine(directory, $"model{suffix}.onnx");
        return File.Exists(root) ? root : Path.Combine(directory, "onnx", $"model{suffix}.onnx");
    }

    private static void RequireFile(string path, ClipModelLayout layout, string role, string optionName)
    {
        if (!File.Exists(path))
        {
            throw new ClipModelException(
                $"The {role} model file '{path}' does not exist (layout {layout}). Set ClipModelOptions.{optionName} " +
                "to the right file.");
        }
    }

    private static string ListOnnxFiles(string directory)
    {
        const int MaxListed = 10;
        var names = new List<string>();
        bool more = false;
        foreach (string file in Directory.EnumerateFiles(directory, "*.onnx", SearchOption.AllDirectories))
        {
            if (names.Count == MaxListed)
            {
                more = true;
                break;
            }

            names.Add(Path.GetRelativePath(directory, file));
        }

        names.Sort(StringComparer.Ordinal);
        if (more)
        {
            names.Add("...");
        }

        return names.Count == 0 ? "none" : string.Join(", ", names);
    }
}
