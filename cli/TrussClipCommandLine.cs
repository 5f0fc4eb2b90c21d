using System.CommandLine;
using Truss.Clip.Cli.Evaluation;
using Truss.Server.CommandLine;

namespace Truss.Clip.Cli;

/// <summary>The executable's commands: <c>serve</c> (the default), the CLIP tools and <c>fetch</c>.</summary>
internal static class TrussClipCommandLine
{
    public static RootCommand CreateRoot()
    {
        var modelDirectory = new Option<string?>("--model-dir")
        {
            Description = $"CLIP model folder (default: ${ClipSettings.ModelDirectoryVariable}, else model_metadata.clip.model_dir in config.yaml)",
        };
        var serve = new ServeCommand((parseResult, context) => new Model(context, parseResult.GetValue(modelDirectory)));
        serve.Options.Add(modelDirectory);

        return new RootCommand("Truss.Clip: a Truss-compatible CLIP zero-shot image classification server")
        {
            serve,
            new FetchCommand(Environment.GetEnvironmentVariable),
            HealthcheckCommand.Create(Environment.GetEnvironmentVariable),
            ClipCommands.Tokenize(),
            ClipCommands.Preprocess(),
            ClipCommands.Predict(modelDirectory),
            EvaluateCommand.Create(modelDirectory),
        };
    }
}
