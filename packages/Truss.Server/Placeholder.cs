namespace Truss.Server;
internal static class AssemblyMarker { }
