namespace Clip;
internal static class AssemblyMarker { }
