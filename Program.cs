using Truss.Clip.Cli;
using Truss.Server.CommandLine;

return await ServeCommand.InvokeAsync(TrussClipCommandLine.CreateRoot(), args);
