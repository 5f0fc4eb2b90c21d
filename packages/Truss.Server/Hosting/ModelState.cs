namespace Truss.Server.Hosting;

/// <summary>The model's lifecycle, as truss's <c>ModelWrapper.Status</c>.</summary>
public enum ModelState
{
    /// <summary>Constructed, load not started.</summary>
    NotReady,

    /// <summary><c>Load()</c> is running (or retrying).</summary>
    Loading,

    /// <summary>Loaded; predict is served.</summary>
    Ready,

    /// <summary>Every load attempt failed; the server is stopping.</summary>
    Failed,
}
