using System.CommandLine;
using Truss.Server.CommandLine;

// TEMPORARY wiring until model/Model.cs lands with the CLIP engine.
var root = new RootCommand("Truss.Clip: a Truss-compatible CLIP zero-shot image classification server");
return await ServeCommand.InvokeAsync(root, args);
