using System.Net;
using Truss.Clip.ImageSources;
using Truss.Server.Configuration;

namespace Truss.Clip.Tests.model.ImageSources;

/// <summary>
/// The SSRF guard's pure decision: the class of every kind of address and the verdict of the default, allow-listed
/// and private-networks policies. No address here is ever connected to.
/// </summary>
public class AddressPolicyTests
{
    /// <summary>Address, expected class, expected verdict of the default (public-only) policy.</summary>
    private static readonly object[] DecisionTable =
    [
        // Public
        new object[] { "8.8.8.8", AddressClass.Public, true },
        new object[] { "93.184.216.34", AddressClass.Public, true },
        new object[] { "172.32.0.1", AddressClass.Public, true },
        new object[] { "100.128.0.1", AddressClass.Public, true },
        new object[] { "2606:4700:4700::1111", AddressClass.Public, true },
        new object[] { "::ffff:8.8.8.8", AddressClass.Public, true },
        // Loopback
        new object[] { "127.0.0.1", AddressClass.Loopback, false },
        new object[] { "127.255.255.254", AddressClass.Loopback, false },
        new object[] { "::1", AddressClass.Loopback, false },
        // Private
        new object[] { "10.0.0.5", AddressClass.Private, false },
        new object[] { "172.16.0.1", AddressClass.Private, false },
        new object[] { "172.31.255.255", AddressClass.Private, false },
        new object[] { "192.168.1.1", AddressClass.Private, false },
        new object[] { "fc00::1", AddressClass.Private, false },
        new object[] { "fd12:3456::1", AddressClass.Private, false },
        new object[] { "fec0::1", AddressClass.Private, false },
        new object[] { "64:ff9b:1::a00:1", AddressClass.Private, false },
        // Carrier-grade NAT
        new object[] { "100.64.0.1", AddressClass.SharedAddressSpace, false },
        new object[] { "100.127.255.254", AddressClass.SharedAddressSpace, false },
        // Link-local (cloud metadata)
        new object[] { "169.254.169.254", AddressClass.LinkLocal, false },
        new object[] { "fe80::1", AddressClass.LinkLocal, false },
        // Unspecified
        new object[] { "0.0.0.0", AddressClass.Unspecified, false },
        new object[] { "0.1.2.3", AddressClass.Unspecified, false },
        new object[] { "::", AddressClass.Unspecified, false },
        // Multicast and broadcast
        new object[] { "224.0.0.1", AddressClass.Multicast, false },
        new object[] { "239.255.255.250", AddressClass.Multicast, false },
        new object[] { "ff02::1", AddressClass.Multicast, false },
        new object[] { "255.255.255.255", AddressClass.Broadcast, false },
        // Reserved, benchmarking, documentation
        new object[] { "240.0.0.1", AddressClass.Reserved, false },
        new object[] { "192.0.0.170", AddressClass.Reserved, false },
        new object[] { "192.88.99.1", AddressClass.Reserved, false },
        new object[] { "100::1", AddressClass.Reserved, false },
        new object[] { "2001:0:4136:e378::1", AddressClass.Reserved, false },
        new object[] { "4000::1", AddressClass.Reserved, false },
        new object[] { "198.18.0.1", AddressClass.Benchmarking, false },
        new object[] { "198.19.255.255", AddressClass.Benchmarking, false },
        new object[] { "2001:2::1", AddressClass.Benchmarking, false },
        new object[] { "192.0.2.1", AddressClass.Documentation, false },
        new object[] { "198.51.100.7", AddressClass.Documentation, false },
        new object[] { "203.0.113.9", AddressClass.Documentation, false },
        new object[] { "2001:db8::1", AddressClass.Documentation, false },
        new object[] { "3fff::1", AddressClass.Documentation, false },
        // IPv6 forms that embed an IPv4 address are judged by it
        new object[] { "::ffff:127.0.0.1", AddressClass.Loopback, false },
        new object[] { "::ffff:169.254.169.254", AddressClass.LinkLocal, false },
        new object[] { "::ffff:10.0.0.1", AddressClass.Private, false },
        new object[] { "::127.0.0.1", AddressClass.Loopback, false },
        new object[] { "::ffff:0:169.254.169.254", AddressClass.LinkLocal, false },
        new object[] { "64:ff9b::a9fe:a9fe", AddressClass.LinkLocal, false },
        new object[] { "64:ff9b::808:808", AddressClass.Public, true },
        new object[] { "2002:c0a8:0101::1", AddressClass.Private, false },
        new object[] { "2002:7f00:1::", AddressClass.Loopback, false },
        new object[] { "2002:808:808::1", AddressClass.Public, true },
    ];

    [TestCaseSource(nameof(DecisionTable))]
    // The class travels as object: AddressClass is internal, and a public test method cannot name it.
    public void Evaluate_DefaultPolicy_GivesTheTablesClassAndVerdict(string address, object expectedClass, bool expectedAllowed)
    {
        var verdict = AddressPolicy.PublicOnly.Evaluate(IPAddress.Parse(address));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdict.Class, Is.EqualTo(expectedClass));
            Assert.That(verdict.Allowed, Is.EqualTo(expectedAllowed));
            Assert.That(AddressPolicy.Classify(IPAddress.Parse(address)), Is.EqualTo(expectedClass));
        }
    }

    [Test]
    public void DecisionTable_CoversEveryClass()
    {
        var covered = DecisionTable.Cast<object[]>().Select(row => (AddressClass)row[1]).ToHashSet();

        Assert.That(covered, Is.EquivalentTo(Enum.GetValues<AddressClass>()));
    }

    [TestCase("127.0.0.1", true)]
    [TestCase("::ffff:127.0.0.1", true)]
    [TestCase("127.0.0.2", false)]
    [TestCase("::1", false)]
    [TestCase("10.0.0.1", false)]
    [TestCase("10.20.30.40", true)]
    [TestCase("10.20.31.1", false)]
    [TestCase("fd00:1::5", true)]
    [TestCase("169.254.169.254", false)]
    [TestCase("8.8.8.8", true)]
    public void Evaluate_AllowListedNetworks_AllowOnlyTheirAddresses(string address, bool expected)
    {
        var policy = new AddressPolicy(
            [IPNetwork.Parse("127.0.0.1/32"), IPNetwork.Parse("10.20.30.0/24"), IPNetwork.Parse("fd00:1::/32")],
            allowPrivateNetworks: false);

        Assert.That(policy.IsAllowed(IPAddress.Parse(address)), Is.EqualTo(expected));
    }

    [TestCase("10.0.0.1", true)]
    [TestCase("172.20.1.1", true)]
    [TestCase("192.168.0.10", true)]
    [TestCase("fd00::1", true)]
    [TestCase("100.64.1.1", true)]
    [TestCase("::ffff:192.168.0.10", true)]
    [TestCase("127.0.0.1", false)]
    [TestCase("169.254.169.254", false)]
    [TestCase("fe80::1", false)]
    [TestCase("192.0.2.1", false)]
    public void Evaluate_AllowPrivateNetworks_OpensPrivateAndCarrierGradeNatOnly(string address, bool expected)
    {
        var policy = new AddressPolicy([], allowPrivateNetworks: true);

        Assert.That(policy.IsAllowed(IPAddress.Parse(address)), Is.EqualTo(expected));
    }

    [TestCase("0.0.0.0")]
    [TestCase("::")]
    [TestCase("224.0.0.1")]
    [TestCase("ff02::1")]
    [TestCase("255.255.255.255")]
    [TestCase("::ffff:0.0.0.0")]
    public void Evaluate_NonUnicastAddress_RefusedEvenWhenEverythingIsAllowListed(string address)
    {
        var policy = new AddressPolicy([IPNetwork.Parse("0.0.0.0/0"), IPNetwork.Parse("::/0")], allowPrivateNetworks: true);

        Assert.That(policy.IsAllowed(IPAddress.Parse(address)), Is.False);
    }

    [Test]
    public void Evaluate_EverythingAllowListed_AllowsLoopbackAndMetadata()
    {
        var policy = new AddressPolicy([IPNetwork.Parse("0.0.0.0/0")], allowPrivateNetworks: false);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(policy.IsAllowed(IPAddress.Parse("127.0.0.1")), Is.True);
            Assert.That(policy.IsAllowed(IPAddress.Parse("169.254.169.254")), Is.True);
            Assert.That(policy.IsAllowed(IPAddress.Parse("::ffff:169.254.169.254")), Is.True, "mapped forms follow their IPv4 address");
        }
    }

    [TestCase("2002:c0a8:0101::1", "192.168.1.1")]
    [TestCase("::ffff:1.2.3.4", "1.2.3.4")]
    [TestCase("64:ff9b::102:304", "1.2.3.4")]
    [TestCase("::ffff:0:102:304", "1.2.3.4")]
    [TestCase("::102:304", "1.2.3.4")]
    public void EmbeddedIPv4_Ipv6FormsThatCarryIPv4_ReturnTheIPv4Address(string address, string expected)
    {
        Assert.That(AddressPolicy.EmbeddedIPv4(IPAddress.Parse(address)), Is.EqualTo(IPAddress.Parse(expected)));
    }

    [TestCase("::")]
    [TestCase("::1")]
    [TestCase("2001:db8::1")]
    [TestCase("10.0.0.1")]
    public void EmbeddedIPv4_OtherAddresses_ReturnNull(string address)
    {
        Assert.That(AddressPolicy.EmbeddedIPv4(IPAddress.Parse(address)), Is.Null);
    }

    [Test]
    public void FromConfig_NetworksAndSwitch_AreRead()
    {
        var policy = AddressPolicy.FromConfig(Fetch("allowed_networks: ['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8', '192.168.5.5', '::1']\nallow_private_networks: true\n"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(policy.AllowedNetworks.Select(n => n.ToString()),
                Is.EqualTo(new[] { "127.0.0.1/32", "10.0.0.0/8", "fd00::/8", "192.168.5.5/32", "::1/128" }));
            Assert.That(policy.AllowPrivateNetworks, Is.True);
        }
    }

    [Test]
    public void FromConfig_NoKeys_IsPublicOnly()
    {
        var policy = AddressPolicy.FromConfig(Fetch("timeout_seconds: 3\n"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(policy.AllowedNetworks, Is.Empty);
            Assert.That(policy.AllowPrivateNetworks, Is.False);
        }
    }

    [TestCase("allowed_networks: ['10.0.0.1/8']\n", "model_metadata.clip.fetch.allowed_networks[0] must be a network in CIDR form", "got '10.0.0.1/8'")]
    [TestCase("allowed_networks: ['127.0.0.1/32', 'localhost']\n", "model_metadata.clip.fetch.allowed_networks[1] must be a network in CIDR form", "got 'localhost'")]
    [TestCase("allowed_networks: ['10.0.0.0/33']\n", "model_metadata.clip.fetch.allowed_networks[0]", "got '10.0.0.0/33'")]
    [TestCase("allowed_networks: 10.0.0.0/8\n", "model_metadata.clip.fetch.allowed_networks must be a list of strings", "got '10.0.0.0/8'")]
    [TestCase("allow_private_networks: sometimes\n", "model_metadata.clip.fetch.allow_private_networks must be true or false", "got 'sometimes'")]
    public void FromConfig_BadValue_ErrorNamesTheKey(string yaml, string expected, string alsoExpected)
    {
        Assert.That(() => AddressPolicy.FromConfig(Fetch(yaml)), Throws.TypeOf<TrussConfigException>()
            .With.Message.Contains(expected).And.Message.Contains(alsoExpected));
    }

    [Test]
    public void ClipSettings_FetchSection_CarriesTheAddressPolicy()
    {
        var config = TrussConfig.Parse(new StringReader(
            "model_metadata:\n  clip:\n    fetch:\n      max_redirects: 0\n      allowed_networks: ['127.0.0.1/32']\n"), "/tmp");

        var fetch = ClipSettings.From(config, "/nonexistent-model", _ => null).Fetch;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(fetch.MaxRedirects, Is.Zero);
            Assert.That(fetch.Addresses.IsAllowed(IPAddress.Loopback), Is.True);
            Assert.That(fetch.Addresses.IsAllowed(IPAddress.Parse("127.0.0.2")), Is.False);
        }
    }

    private static ConfigSection Fetch(string yaml)
    {
        var indented = string.Concat(yaml.Split('\n').Where(line => line.Length > 0).Select(line => "      " + line + "\n"));
        var config = TrussConfig.Parse(new StringReader("model_metadata:\n  clip:\n    fetch:\n" + indented), "/tmp");
        return config.ModelMetadata.GetSection("clip").GetSection("fetch");
    }
}
