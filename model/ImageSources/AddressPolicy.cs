using System.Net;
using System.Net.Sockets;
using Truss.Server.Configuration;

namespace Truss.Clip.ImageSources;

/// <summary>What kind of destination an IP address is, for the <c>image_url</c> SSRF guard.</summary>
internal enum AddressClass
{
    /// <summary>Globally routable unicast: fetched.</summary>
    Public,

    /// <summary>127.0.0.0/8, ::1: this machine.</summary>
    Loopback,

    /// <summary>10/8, 172.16/12, 192.168/16, fc00::/7, the deprecated fec0::/10 and local-use NAT64 64:ff9b:1::/48.</summary>
    Private,

    /// <summary>100.64.0.0/10: carrier-grade NAT, internal to an operator's network.</summary>
    SharedAddressSpace,

    /// <summary>169.254/16 (cloud metadata services live here), fe80::/10.</summary>
    LinkLocal,

    /// <summary>0.0.0.0/8, ::. Connecting to 0.0.0.0 reaches the local host on Linux.</summary>
    Unspecified,

    /// <summary>224/4, ff00::/8.</summary>
    Multicast,

    /// <summary>255.255.255.255.</summary>
    Broadcast,

    /// <summary>192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.</summary>
    Documentation,

    /// <summary>198.18/15, 2001:2::/48.</summary>
    Benchmarking,

    /// <summary>
    /// 240/4, 192.0.0/24, 192.88.99/24, 100::/64, 2001::/23 (Teredo included) and every IPv6 address outside
    /// 2000::/3 that no other class names: not a destination a public image lives at.
    /// </summary>
    Reserved,
}

/// <summary>The guard's decision about one address.</summary>
/// <param name="Address">The address as resolved or written in the URL.</param>
/// <param name="Class">Its class; for IPv6 forms that embed an IPv4 address, the class of the embedded address.</param>
/// <param name="Allowed">Whether a connection to it may be made.</param>
internal readonly record struct AddressVerdict(IPAddress Address, AddressClass Class, bool Allowed);

/// <summary>
/// Decides which IP addresses <c>image_url</c> fetching may connect to: public unicast addresses, plus what
/// <c>model_metadata.clip.fetch.allowed_networks</c> and <c>allow_private_networks</c> open up. Pure (no I/O) and
/// thread-safe, so every verdict can be tested from a table.
/// </summary>
/// <remarks>
/// IPv6 forms that carry an IPv4 address (IPv4-mapped <c>::ffff:a.b.c.d</c>, IPv4-compatible <c>::a.b.c.d</c>,
/// SIIT <c>::ffff:0:a.b.c.d</c>, NAT64 <c>64:ff9b::/96</c>, 6to4 <c>2002::/16</c>) are judged by that IPv4 address,
/// because that is where the packets end up; otherwise <c>::ffff:169.254.169.254</c> would walk past a check
/// written for IPv4. Unspecified, multicast and broadcast addresses are never fetched, whatever the allow-list says:
/// none is a unicast destination, and 0.0.0.0 / :: quietly mean "this host".
/// </remarks>
internal sealed class AddressPolicy
{
    private static readonly (IPNetwork Network, AddressClass Class)[] _ipv4Ranges =
    [
        (IPNetwork.Parse("0.0.0.0/8"), AddressClass.Unspecified),
        (IPNetwork.Parse("10.0.0.0/8"), AddressClass.Private),
        (IPNetwork.Parse("100.64.0.0/10"), AddressClass.SharedAddressSpace),
        (IPNetwork.Parse("127.0.0.0/8"), AddressClass.Loopback),
        (IPNetwork.Parse("169.254.0.0/16"), AddressClass.LinkLocal),
        (IPNetwork.Parse("172.16.0.0/12"), AddressClass.Private),
        (IPNetwork.Parse("192.0.0.0/24"), AddressClass.Reserved),
        (IPNetwork.Parse("192.0.2.0/24"), AddressClass.Documentation),
        (IPNetwork.Parse("192.88.99.0/24"), AddressClass.Reserved),
        (IPNetwork.Parse("192.168.0.0/16"), AddressClass.Private),
        (IPNetwork.Parse("198.18.0.0/15"), AddressClass.Benchmarking),
        (IPNetwork.Parse("198.51.100.0/24"), AddressClass.Documentation),
        (IPNetwork.Parse("203.0.113.0/24"), AddressClass.Documentation),
        (IPNetwork.Parse("224.0.0.0/4"), AddressClass.Multicast),
        // Before 240/4, which contains it.
        (IPNetwork.Parse("255.255.255.255/32"), AddressClass.Broadcast),
        (IPNetwork.Parse("240.0.0.0/4"), AddressClass.Reserved),
    ];

    // First match wins, so the narrower ranges come before the ranges that contain them.
    private static readonly (IPNetwork Network, AddressClass Class)[] _ipv6Ranges =
    [
        (IPNetwork.Parse("64:ff9b:1::/48"), AddressClass.Private),
        (IPNetwork.Parse("100::/64"), AddressClass.Reserved),
        (IPNetwork.Parse("2001:2::/48"), AddressClass.Benchmarking),
        (IPNetwork.Parse("2001::/23"), AddressClass.Reserved),
        (IPNetwork.Parse("2001:db8::/32"), AddressClass.Documentation),
        (IPNetwork.Parse("3fff::/20"), AddressClass.Documentation),
        (IPNetwork.Parse("fc00::/7"), AddressClass.Private),
        (IPNetwork.Parse("fe80::/10"), AddressClass.LinkLocal),
        (IPNetwork.Parse("fec0::/10"), AddressClass.Private),
        (IPNetwork.Parse("ff00::/8"), AddressClass.Multicast),
        (IPNetwork.Parse("2000::/3"), AddressClass.Public),
    ];

    private static readonly IPNetwork _ipv4Compatible = IPNetwork.Parse("::/96");
    private static readonly IPNetwork _ipv4Translated = IPNetwork.Parse("::ffff:0:0:0/96");
    private static readonly IPNetwork _nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork _sixToFour = IPNetwork.Parse("2002::/16");

    private readonly IPNetwork[] _allowedNetworks;

    /// <summary>Creates a policy that also allows <paramref name="allowedNetworks"/> and, optionally, private networks.</summary>
    public AddressPolicy(IEnumerable<IPNetwork> allowedNetworks, bool allowPrivateNetworks)
    {
        _allowedNetworks = [.. allowedNetworks];
        AllowPrivateNetworks = allowPrivateNetworks;
    }

    /// <summary>The default: public addresses only.</summary>
    public static AddressPolicy PublicOnly { get; } = new([], allowPrivateNetworks: false);

    /// <summary>Networks allowed whatever their class (except the never-fetched classes).</summary>
    public IReadOnlyList<IPNetwork> AllowedNetworks => _allowedNetworks;

    /// <summary>Whether <see cref="AddressClass.Private"/> and <see cref="AddressClass.SharedAddressSpace"/> are allowed.</summary>
    public bool AllowPrivateNetworks { get; }

    /// <summary>
    /// Reads <c>allowed_networks</c> (a list of CIDRs such as <c>10.0.0.0/8</c> or <c>fd00::/8</c>; a bare address
    /// means that one address) and <c>allow_private_networks</c> from <paramref name="fetch"/>
    /// (<c>model_metadata.clip.fetch</c>), at startup, with errors that name the key.
    /// </summary>
    public static AddressPolicy FromConfig(ConfigSection fetch)
    {
        var entries = fetch.GetStringList("allowed_networks") ?? [];
        var networks = new IPNetwork[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            var text = entries[i].Trim();
            // IPNetwork.TryParse quietly clears address bits past the prefix (10.0.0.1/8 becomes 10.0.0.0/8); such an
            // entry is usually a typo for a /32 and is refused instead, like anything that does not parse.
            var parsed = IPNetwork.TryParse(text, out networks[i]);
            if (parsed && (!IPAddress.TryParse(text.Split('/')[0], out var written) || !written.Equals(networks[i].BaseAddress)))
            {
                parsed = false;
            }

            if (!parsed)
            {
                // A bare address is the one-address network.
                if (!text.Contains('/') && IPAddress.TryParse(text, out var single))
                {
                    networks[i] = new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
                    continue;
                }

                throw fetch.Error($"allowed_networks[{i}]",
                    $"must be a network in CIDR form such as 127.0.0.1/32, 10.0.0.0/8 or fd00::/8, with no address bits set " +
                    $"past the prefix, got '{entries[i]}'");
            }
        }

        return new AddressPolicy(networks, fetch.GetBoolean("allow_private_networks", false));
    }

    /// <summary>The class of <paramref name="address"/>; embedded IPv4 forms get their IPv4 address's class.</summary>
    public static AddressClass Classify(IPAddress address)
    {
        if (EmbeddedIPv4(address) is { } embedded)
        {
            address = embedded;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            foreach (var (network, addressClass) in _ipv4Ranges)
            {
                if (network.Contains(address))
                {
                    return addressClass;
                }
            }

            return AddressClass.Public;
        }

        if (address.Equals(IPAddress.IPv6Any))
        {
            return AddressClass.Unspecified;
        }

        if (address.Equals(IPAddress.IPv6Loopback))
        {
            return AddressClass.Loopback;
        }

        foreach (var (network, addressClass) in _ipv6Ranges)
        {
            if (network.Contains(address))
            {
                return addressClass;
            }
        }

        // Outside 2000::/3 nothing is assigned for global unicast, so an address here is not a public host.
        return AddressClass.Reserved;
    }

    /// <summary>
    /// The IPv4 address carried by an IPv4-mapped, IPv4-compatible, SIIT-translated, NAT64 (64:ff9b::/96) or 6to4
    /// IPv6 address; null for IPv4 addresses and other IPv6 addresses.
    /// </summary>
    public static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);

        // :: and ::1 sit inside ::/96 but are the IPv6 unspecified and loopback addresses, not IPv4 ones.
        if (_ipv4Compatible.Contains(address) && !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.IPv6Loopback))
        {
            return new IPAddress(bytes[12..]);
        }

        if (_ipv4Translated.Contains(address) || _nat64.Contains(address))
        {
            return new IPAddress(bytes[12..]);
        }

        return _sixToFour.Contains(address) ? new IPAddress(bytes[2..6]) : null;
    }

    /// <summary>Decides whether a connection to <paramref name="address"/> may be made.</summary>
    public AddressVerdict Evaluate(IPAddress address)
    {
        var addressClass = Classify(address);
        var allowed = addressClass switch
        {
            AddressClass.Public => true,
            AddressClass.Unspecified or AddressClass.Multicast or AddressClass.Broadcast => false,
            AddressClass.Private or AddressClass.SharedAddressSpace when AllowPrivateNetworks => true,
            _ => IsAllowListed(address),
        };
        return new AddressVerdict(address, addressClass, allowed);
    }

    /// <summary>Whether a connection to <paramref name="address"/> may be made.</summary>
    public bool IsAllowed(IPAddress address) => Evaluate(address).Allowed;

    /// <summary>Lower-case name of a class as messages use it, with its article ("a loopback", "an unspecified").</summary>
    public static string Describe(AddressClass addressClass) => addressClass switch
    {
        AddressClass.Public => "a public",
        AddressClass.Loopback => "a loopback",
        AddressClass.Private => "a private",
        AddressClass.SharedAddressSpace => "a carrier-grade NAT (shared)",
        AddressClass.LinkLocal => "a link-local",
        AddressClass.Unspecified => "an unspecified",
        AddressClass.Multicast => "a multicast",
        AddressClass.Broadcast => "a broadcast",
        AddressClass.Documentation => "a documentation-only",
        AddressClass.Benchmarking => "a benchmarking",
        _ => "a reserved",
    };

    /// <summary>Whether an allow-list entry or switch could ever let <paramref name="addressClass"/> through.</summary>
    public static bool CanBeAllowed(AddressClass addressClass) =>
        addressClass is not (AddressClass.Unspecified or AddressClass.Multicast or AddressClass.Broadcast);

    private bool IsAllowListed(IPAddress address)
    {
        // An allow-listed IPv4 network also covers the IPv6 forms of its addresses (the packets go to the same
        // IPv4 host), and an entry may name the IPv6 form itself.
        var embedded = EmbeddedIPv4(address);
        foreach (var network in _allowedNetworks)
        {
            if (network.Contains(address) || (embedded is not null && network.Contains(embedded)))
            {
                return true;
            }
        }

        return false;
    }
}
