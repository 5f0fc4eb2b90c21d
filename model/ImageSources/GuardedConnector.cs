using System.Net;
using System.Net.Sockets;

namespace Truss.Clip.ImageSources;

/// <summary>Resolves a host name to its addresses (the default is <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>).</summary>
internal delegate Task<IPAddress[]> HostResolver(string host, CancellationToken cancellationToken);

/// <summary>Opens a TCP connection to an already vetted endpoint (the default is a plain socket).</summary>
internal delegate ValueTask<Stream> EndpointConnector(IPEndPoint endpoint, CancellationToken cancellationToken);

/// <summary>
/// The only way <c>image_url</c> fetching opens a connection: plugged in as
/// <see cref="SocketsHttpHandler.ConnectCallback"/>, so the first request, every redirect hop and every new pooled
/// connection pass through it. It resolves the host itself, refuses the whole host if ANY of its addresses is refused
/// by the <see cref="AddressPolicy"/>, and then connects to those vetted addresses without resolving again, which
/// leaves DNS no second answer to rebind to. Thread-safe.
/// </summary>
/// <remarks>
/// Refusing when any address is refused, rather than connecting to the allowed ones only, is deliberate: a name that
/// mixes public and internal addresses is either misconfigured or an attack, and a partial answer would make the
/// guard's outcome depend on which address the connect happened to try first.
/// </remarks>
internal sealed class GuardedConnector
{
    private readonly AddressPolicy _policy;
    private readonly HostResolver _resolver;
    private readonly EndpointConnector _connector;

    /// <summary>Creates a guard; tests pass a fake <paramref name="resolver"/> and a recording <paramref name="connector"/>.</summary>
    public GuardedConnector(AddressPolicy policy, HostResolver? resolver = null, EndpointConnector? connector = null)
    {
        _policy = policy;
        _resolver = resolver ?? Dns.GetHostAddressesAsync;
        _connector = connector ?? ConnectSocketAsync;
    }

    /// <summary>The <see cref="SocketsHttpHandler.ConnectCallback"/>.</summary>
    public ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken);

    /// <summary>
    /// Resolves <paramref name="host"/> (an IP literal is taken as is), vets every address, and connects to the
    /// first vetted one that answers.
    /// </summary>
    /// <exception cref="DestinationRefusedException">An address of the host is refused; nothing was connected.</exception>
    /// <exception cref="SocketException">The name does not resolve, or no address accepted the connection.</exception>
    public async ValueTask<Stream> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        // IPv6 literals may arrive bracketed, as they are written in URLs.
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        var isLiteral = IPAddress.TryParse(bare, out var literal);
        var addresses = isLiteral ? [literal!] : await _resolver(bare, cancellationToken);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        foreach (var address in addresses)
        {
            var verdict = _policy.Evaluate(address);
            if (!verdict.Allowed)
            {
                throw new DestinationRefusedException(bare, isLiteral, verdict);
            }
        }

        SocketException? lastFailure = null;
        foreach (var address in addresses)
        {
            // A mapped address is the IPv4 host it names (vetted as such); connecting over IPv4 avoids needing a
            // dual-mode socket.
            var target = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            try
            {
                return await _connector(new IPEndPoint(target, port), cancellationToken);
            }
            catch (SocketException e)
            {
                lastFailure = e;
            }
        }

        throw lastFailure!;
    }

    private static async ValueTask<Stream> ConnectSocketAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>
/// A connection the <see cref="AddressPolicy"/> refused, thrown before any socket was opened. Carries the host as the
/// URL named it and the refused address's class; the message never names an address the caller did not write.
/// </summary>
internal sealed class DestinationRefusedException(string host, bool hostIsLiteral, AddressVerdict verdict)
    : Exception(hostIsLiteral
        ? $"{host} is {AddressPolicy.Describe(verdict.Class)} address."
        : $"{host} resolves to {AddressPolicy.Describe(verdict.Class)} address.")
{
    /// <summary>The host of the refused connection (an IP literal without brackets, or a name).</summary>
    public string Host { get; } = host;

    /// <summary>Whether <see cref="Host"/> is an IP literal (otherwise a resolved name).</summary>
    public bool HostIsLiteral { get; } = hostIsLiteral;

    /// <summary>The refused address and its class. Kept for logs; never sent to the caller for a name.</summary>
    public AddressVerdict Verdict { get; } = verdict;
}
