using System.CommandLine;
using Truss.Clip;
using Truss.Server.CommandLine;

// Composition root: the Truss server hosting the CLIP model, plus the CLIP command-line tools.
var modelDirectory = new Option<string?>("--model-dir")
{
    Description = $"CLIP model folder (default: ${ClipSettings.ModelDirectoryVariable}, else model_metadata.clip.model_dir in config.yaml)",
};
var serve = new ServeCommand((parseResult, context) => new Model(context, parseResult.GetValue(modelDirectory)));
serve.Options.Add(modelDirectory);

var root = new RootCommand("Truss.Clip: a Truss-compatible CLIP zero-shot image classification server") { serve };
return await ServeCommand.InvokeAsync(root, args);
