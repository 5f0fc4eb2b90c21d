using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Truss.Clip.ImageSources;
using Truss.Server;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.model.ImageSources;

/// <summary>
/// <see cref="ImageFetcher"/> behind its SSRF guard, with a fake DNS resolver (names map to any address without a
/// lookup) and a recording connector that opens real sockets to loopback only. A refused address must show up as a
/// 400 with no connect attempt recorded.
/// </summary>
public class ImageFetcherGuardTests
{
    private static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 1, 2, 3];
    private static readonly AddressPolicy LoopbackOneAllowed = new([IPNetwork.Parse("127.0.0.1/32")], allowPrivateNetworks: false);

    private static ImageFetchOptions Options(AddressPolicy policy, int maxRedirects = 3) =>
        new(TimeSpan.FromSeconds(5), 100_000, maxRedirects, policy);

    [Test]
    public async Task FetchAsync_NameResolvingToAllowedAndPrivateAddresses_RefusedWithoutConnecting()
    {
        var resolver = new FakeResolver { ["mixed.test"] = ["127.0.0.1", "10.0.0.1"] };
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), resolver.ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, "http://mixed.test/cat.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(400));
            Assert.That(error.Message, Is.EqualTo(
                "`image_url` host mixed.test resolves to a private address, which this server does not fetch " +
                "(model_metadata.clip.fetch.allowed_networks, allow_private_networks)."));
            Assert.That(resolver.Queries, Is.EqualTo(new[] { "mixed.test" }));
            Assert.That(connector.Endpoints, Is.Empty, "no connect, not even to the allowed 127.0.0.1");
        }
    }

    [Test]
    public async Task FetchAsync_NameResolvingToMappedMetadataAddress_RefusedWithoutConnecting()
    {
        var resolver = new FakeResolver { ["metadata.test"] = ["::ffff:169.254.169.254"] };
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), resolver.ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, "http://metadata.test/latest/meta-data/");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(400));
            Assert.That(error.Message, Is.EqualTo(
                "`image_url` host metadata.test resolves to a link-local address, which this server does not fetch " +
                "(model_metadata.clip.fetch.allowed_networks)."));
            Assert.That(error.Message, Does.Not.Contain("169.254"), "a resolved address is never echoed");
            Assert.That(connector.Endpoints, Is.Empty);
        }
    }

    [TestCase("http://10.0.0.5/x.png", "points at 10.0.0.5, a private address, which this server does not fetch (model_metadata.clip.fetch.allowed_networks, allow_private_networks).")]
    [TestCase("http://169.254.169.254/latest/meta-data/", "points at 169.254.169.254, a link-local address, which this server does not fetch (model_metadata.clip.fetch.allowed_networks).")]
    [TestCase("http://127.0.0.2:8080/x.png", "points at 127.0.0.2, a loopback address")]
    [TestCase("http://[::1]:8080/x.png", "points at ::1, a loopback address")]
    [TestCase("http://[::ffff:169.254.169.254]/", "a link-local address")]
    [TestCase("http://[64:ff9b::a9fe:a9fe]/", "a link-local address")]
    [TestCase("http://[2002:a00:1::1]/", "a private address")]
    [TestCase("http://[fe80::1]/", "a link-local address")]
    [TestCase("http://[fd00::1]/", "a private address")]
    [TestCase("http://2130706433/x.png", "points at 127.0.0.1, a loopback address")]
    [TestCase("http://0x7f.0.0.1/x.png", "points at 127.0.0.1, a loopback address")]
    [TestCase("https://100.64.0.1/x.png", "a carrier-grade NAT (shared) address")]
    [TestCase("http://0.0.0.0:8080/x.png", "points at 0.0.0.0, an unspecified address, which this server never fetches.")]
    [TestCase("http://224.0.0.1/x.png", "a multicast address, which this server never fetches.")]
    [TestCase("http://192.0.2.10/x.png", "a documentation-only address")]
    public async Task FetchAsync_LiteralNonPublicAddress_RefusedWithoutResolvingOrConnecting(string url, string expected)
    {
        var resolver = new FakeResolver();
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(AddressPolicy.PublicOnly), resolver.ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, url);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(400));
            Assert.That(error.Message, Does.StartWith("`image_url` points at ").And.Contain(expected));
            Assert.That(resolver.Queries, Is.Empty, "an IP literal is checked as written, not looked up");
            Assert.That(connector.Endpoints, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_DefaultPolicyAndLoopbackName_RefusedWithoutConnecting()
    {
        var resolver = new FakeResolver { ["localhost"] = ["127.0.0.1", "::1"] };
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(AddressPolicy.PublicOnly), resolver.ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, "http://localhost:8080/x.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Message, Does.StartWith("`image_url` host localhost resolves to a loopback address"));
            Assert.That(connector.Endpoints, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_UrlWithCredentials_Is400WithoutConnecting()
    {
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), new FakeResolver().ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, "http://user:secret@127.0.0.1:9/x.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(400));
            Assert.That(error.Message, Does.Contain("must not contain credentials"));
            Assert.That(connector.Endpoints, Is.Empty);
        }
    }

    [Test]
    public async Task FetchAsync_AllowListedName_ConnectsOnlyToTheVettedAddressAndVetsEachNewConnection()
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = server.Serve("/img.png", Png);
        var port = server.BaseAddress.Port;
        // The name answers loopback first and a private address afterwards, as a rebinding attacker's DNS would.
        var resolver = new FakeResolver { ["images.test"] = ["127.0.0.1"] };
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), resolver.ResolveAsync, connector.ConnectAsync);

        using var download = await fetcher.FetchAsync($"http://images.test:{port}/img.png", CancellationToken.None);
        resolver["images.test"] = ["10.0.0.1"];
        var error = await Refusal(fetcher, $"http://images.test:{port}/img.png");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(download.Bytes, Is.EqualTo(Png));
            Assert.That(connector.Endpoints, Is.EqualTo(new[] { new IPEndPoint(IPAddress.Loopback, port) }),
                "the one connection went to the address that was vetted; the rebound answer was never connected to");
            Assert.That(resolver.Queries, Is.EqualTo(new[] { "images.test", "images.test" }), "one lookup per connection");
            Assert.That(error.Message, Does.Contain("host images.test resolves to a private address"));
            Assert.That(server.RequestTargets, Is.EqualTo(new[] { "/img.png" }));
            Assert.That(url, Does.StartWith("http://127.0.0.1:"));
        }
    }

    [Test]
    public async Task FetchAsync_RedirectToLoopbackAddressNotAllowListed_RefusedAtTheHopWithoutConnecting()
    {
        await using var first = RecordingLoopbackServer.Start(IPAddress.Loopback);
        await using var second = RecordingLoopbackServer.Start(IPAddress.Parse("127.0.0.2"));
        var target = second.Serve("/img.png", Png);
        var url = first.Redirect("/start", target);
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), new FakeResolver().ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, url);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(400));
            Assert.That(error.Message, Is.EqualTo(
                "`image_url` redirects to 127.0.0.2, a loopback address, which this server does not fetch " +
                "(model_metadata.clip.fetch.allowed_networks)."));
            Assert.That(connector.Endpoints, Is.EqualTo(new[] { new IPEndPoint(IPAddress.Loopback, first.BaseAddress.Port) }));
            Assert.That(first.RequestTargets, Is.EqualTo(new[] { "/start" }));
            Assert.That(second.Connections, Is.Zero);
        }
    }

    [Test]
    public async Task FetchAsync_RedirectToNameResolvingToMetadata_RefusedWithoutConnecting()
    {
        await using var first = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = first.Redirect("/start", "http://metadata.test/latest/meta-data/");
        var resolver = new FakeResolver { ["metadata.test"] = ["169.254.169.254"] };
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), resolver.ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, url);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.Message, Does.StartWith("`image_url` redirects to host metadata.test, which resolves to a link-local address"));
            Assert.That(connector.Endpoints.Select(e => e.Address), Is.EqualTo(new[] { IPAddress.Loopback }));
        }
    }

    [Test]
    public async Task FetchAsync_RedirectWithinTheAllowList_IsFollowed()
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var target = server.Serve("/img.png", Png);
        var url = server.Redirect("/start", target, status: 301);
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed));

        using var download = await fetcher.FetchAsync(url, CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(download.Bytes, Is.EqualTo(Png));
            Assert.That(server.RequestTargets, Is.EqualTo(new[] { "/start", "/img.png" }));
        }
    }

    [Test]
    public async Task FetchAsync_HoldsItsBytesInFlightUntilTheDownloadIsDisposed()
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = server.Serve("/img.png", Png);
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed));

        var download = await fetcher.FetchAsync(url, CancellationToken.None);
        var held = fetcher.BytesInFlight;
        download.Dispose();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(held, Is.EqualTo(Png.Length));
            Assert.That(fetcher.BytesInFlight, Is.Zero);
        }
    }

    [Test]
    public async Task FetchAsync_WhenOtherDownloadsFillMaxBytesInFlight_Is503AtOnce_AndHoldsNothingMore()
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = server.Serve("/img.png", Png);
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed) with { MaxBytesInFlight = Png.Length + 5 });
        var first = await fetcher.FetchAsync(url, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<ServerOverloadedException>(async () => await fetcher.FetchAsync(url, CancellationToken.None));

        Assert.That(refused!.Message, Does.Contain("bytes of downloaded images are in memory").And.Contain("model_metadata.clip.fetch.max_bytes_in_flight"));
        Assert.That(fetcher.BytesInFlight, Is.EqualTo(Png.Length), "the refused download gave back what it had taken");
        first.Dispose();
        using var second = await fetcher.FetchAsync(url, CancellationToken.None);
        Assert.That(second.Bytes, Is.EqualTo(Png));
    }

    [Test]
    public async Task FetchAsync_MoreRedirectsThanAllowed_Is502()
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var target = server.Serve("/img.png", Png);
        var url = server.Redirect("/two", server.Redirect("/one", target));
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed, maxRedirects: 1));

        var error = await Refusal(fetcher, url);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(502));
            Assert.That(error.Message, Is.EqualTo(
                "Could not fetch `image_url`: too many redirects (model_metadata.clip.fetch.max_redirects is 1)."));
            Assert.That(server.RequestTargets, Is.EqualTo(new[] { "/two", "/one" }));
        }
    }

    [Test]
    public async Task FetchAsync_MaxRedirectsZero_DoesNotFollow()
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = server.Redirect("/start", server.Serve("/img.png", Png));
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed, maxRedirects: 0));

        var error = await Refusal(fetcher, url);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(502));
            Assert.That(error.Message, Does.Contain("too many redirects"));
            Assert.That(server.RequestTargets, Is.EqualTo(new[] { "/start" }));
        }
    }

    [TestCase("file:///etc/passwd")]
    [TestCase("gopher://127.0.0.1:70/")]
    [TestCase("ftp://127.0.0.1/x.png")]
    public async Task FetchAsync_RedirectToNonHttpScheme_Is502WithoutConnecting(string location)
    {
        await using var server = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = server.Redirect("/start", location);
        var connector = new RecordingConnector();
        using var fetcher = new ImageFetcher(Options(LoopbackOneAllowed), new FakeResolver().ResolveAsync, connector.ConnectAsync);

        var error = await Refusal(fetcher, url);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.StatusCode, Is.EqualTo(502));
            Assert.That(error.Message, Is.EqualTo(
                "Could not fetch `image_url`: it redirects to a URL that is not http:// or https://, which this server does not follow."));
            Assert.That(connector.Endpoints, Has.Count.EqualTo(1), "only the first hop connected");
        }
    }

    [TestCase("https://images.test/a.png", "http://images.test/a.png", "from https to plain http")]
    [TestCase("http://images.test/a.png", "http://user:pw@images.test/a.png", "to a URL with credentials")]
    [TestCase("http://images.test/a.png", "javascript:alert(1)", "to a URL that is not http:// or https://")]
    public void NextHop_RedirectThisServerDoesNotFollow_Is502(string current, string location, string expected)
    {
        Assert.That(() => ImageFetcher.NextHop(new Uri(current), new Uri(location, UriKind.RelativeOrAbsolute), 0, 3),
            Throws.TypeOf<ModelInputException>()
                .With.Property(nameof(ModelInputException.StatusCode)).EqualTo(502)
                .And.Message.Contains(expected));
    }

    [TestCase("http://images.test/a/b.png", "/c.png", "http://images.test/c.png")]
    [TestCase("http://images.test/a/b.png", "c.png", "http://images.test/a/c.png")]
    [TestCase("http://images.test/a.png", "https://cdn.test/a.png", "https://cdn.test/a.png")]
    [TestCase("https://images.test/a.png", "//cdn.test/a.png", "https://cdn.test/a.png")]
    public void NextHop_FollowableRedirect_ResolvesAgainstTheCurrentUrl(string current, string location, string expected)
    {
        var next = ImageFetcher.NextHop(new Uri(current), new Uri(location, UriKind.RelativeOrAbsolute), 0, 3);

        Assert.That(next, Is.EqualTo(new Uri(expected)));
    }

    private static async Task<ModelInputException> Refusal(ImageFetcher fetcher, string url)
    {
        try
        {
            using var download = await fetcher.FetchAsync(url, CancellationToken.None);
        }
        catch (ModelInputException e)
        {
            return e;
        }

        Assert.Fail($"{url} was fetched");
        throw new UnreachableException();
    }

    /// <summary>A DNS stand-in: answers from its table, records every query, never touches the network.</summary>
    private sealed class FakeResolver
    {
        private readonly ConcurrentDictionary<string, IPAddress[]> _answers = new(StringComparer.OrdinalIgnoreCase);
        private readonly ConcurrentQueue<string> _queries = new();

        public string[] this[string name]
        {
            set => _answers[name] = [.. value.Select(IPAddress.Parse)];
        }

        public IReadOnlyCollection<string> Queries => [.. _queries];

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            _queries.Enqueue(host);
            return _answers.TryGetValue(host, out var addresses)
                ? Task.FromResult(addresses)
                : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
        }
    }

    /// <summary>Records every endpoint the guard asks for; really connects only to loopback endpoints.</summary>
    private sealed class RecordingConnector
    {
        private readonly ConcurrentQueue<IPEndPoint> _endpoints = new();

        public IReadOnlyCollection<IPEndPoint> Endpoints => [.. _endpoints];

        public async ValueTask<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
        {
            _endpoints.Enqueue(endpoint);
            if (!IPAddress.IsLoopback(endpoint.Address))
            {
                // Defence in depth for the test itself: even a guard bug must not send traffic off this machine.
                throw new InvalidOperationException($"The test connector connects to loopback only, not {endpoint}.");
            }

            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
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
}
