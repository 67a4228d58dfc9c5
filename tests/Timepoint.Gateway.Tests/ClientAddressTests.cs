using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Timepoint.Gateway.Proxy;

namespace Timepoint.Gateway.Tests;

/// <summary>The client address of a request: X-Forwarded-For read right to left, and only from trusted proxies.</summary>
public sealed class ClientAddressTests
{
    private static readonly TrustedProxies Balancers = TrustedProxies.Parse(["10.0.0.0/8", "192.0.2.9", "2001:db8:ffff::/48"], out _);

    private static string Resolve(string connection, TrustedProxies trusted, params string[] forwardedFor) =>
        ClientAddress.Resolve(IPAddress.Parse(connection), new StringValues(forwardedFor), trusted).ToString();

    [Fact]
    public void With_no_trusted_proxies_the_connection_is_the_client_whatever_the_header_says()
    {
        Assert.Equal("10.0.0.1", Resolve("10.0.0.1", TrustedProxies.None, "203.0.113.7"));
        Assert.Equal("unknown", ClientAddress.Resolve(null, new StringValues("203.0.113.7"), Balancers).ToString());
    }

    [Fact]
    public void A_connection_that_is_not_a_trusted_proxy_is_the_client_whatever_the_header_says()
    {
        Assert.Equal("198.51.100.4", Resolve("198.51.100.4", Balancers, "203.0.113.7"));
        Assert.Equal("198.51.100.4", Resolve("198.51.100.4", Balancers, "10.0.0.5"));
    }

    [Fact]
    public void Through_a_trusted_proxy_the_rightmost_address_is_the_client()
    {
        Assert.Equal("203.0.113.7", Resolve("10.1.2.3", Balancers, "203.0.113.7"));
    }

    [Fact]
    public void Trusted_hops_are_skipped_from_the_right_and_spoofed_leftmost_entries_are_ignored()
    {
        // The client sent "1.1.1.1, 2.2.2.2" itself; the balancer appended what it saw, then an inner proxy its own.
        Assert.Equal("203.0.113.7", Resolve("10.1.2.3", Balancers, "1.1.1.1, 2.2.2.2, 203.0.113.7, 10.9.9.9"));
        Assert.Equal("203.0.113.7", Resolve("192.0.2.9", Balancers, "1.1.1.1,203.0.113.7,192.0.2.9"));
    }

    [Fact]
    public void Several_headers_read_as_one_list_in_order()
    {
        Assert.Equal("203.0.113.7", Resolve("10.1.2.3", Balancers, "1.1.1.1", "203.0.113.7, 10.0.0.2", "10.0.0.3"));
        Assert.Equal("1.1.1.1", Resolve("10.1.2.3", Balancers, "1.1.1.1", "10.0.0.2", ""));
    }

    [Fact]
    public void When_every_hop_is_trusted_the_leftmost_is_the_client()
    {
        Assert.Equal("10.0.0.1", Resolve("10.1.2.3", Balancers, "10.0.0.1, 10.0.0.2"));
        Assert.Equal("10.1.2.3", Resolve("10.1.2.3", Balancers));
    }

    [Theory]
    [InlineData("203.0.113.7:51234", "203.0.113.7")]
    [InlineData("[2001:db8::7]:443", "2001:db8::7")]
    [InlineData("[2001:db8::7]", "2001:db8::7")]
    [InlineData("2001:db8::7", "2001:db8::7")]
    [InlineData("  203.0.113.7  ", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("[::ffff:203.0.113.7]:80", "203.0.113.7")]
    public void Ports_brackets_and_ipv4_mapped_addresses_are_normalised(string hop, string client) =>
        Assert.Equal(client, Resolve("10.1.2.3", Balancers, hop));

    [Theory]
    [InlineData("unknown")]
    [InlineData("_hidden")]
    [InlineData("203.0.113")]
    [InlineData("2130706433")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("203.0.113.7:99999")]
    [InlineData("203.0.113.7:")]
    [InlineData("[2001:db8::7")]
    [InlineData("[203.0.113.7]")]
    [InlineData("[2001:db8::7]x")]
    [InlineData("fe80::1%eth0")]
    [InlineData("for=203.0.113.7")]
    [InlineData("")]
    public void A_malformed_entry_stops_at_the_nearest_trusted_hop(string hop)
    {
        // Nothing left of a malformed entry is believed, and the proxy that passed it on is the client: stricter, never looser.
        Assert.Equal("10.0.0.2", Resolve("10.1.2.3", Balancers, $"203.0.113.9, {hop}, 10.0.0.2"));
        Assert.Equal("10.1.2.3", Resolve("10.1.2.3", Balancers, hop.Length == 0 ? "," : hop));
    }

    [Fact]
    public void An_absurdly_long_header_does_not_throw()
    {
        var header = string.Join(",", Enumerable.Repeat("10.0.0.1", 5000)) + ",\u0000,203.0.113.7";
        Assert.Equal("203.0.113.7", Resolve("10.1.2.3", Balancers, header));
        Assert.Equal("10.0.0.1", Resolve("10.1.2.3", Balancers, new string('9', 100_000) + ",10.0.0.1"));
    }

    [Fact]
    public void An_ipv4_mapped_connection_from_a_trusted_proxy_is_trusted()
    {
        var mapped = IPAddress.Parse("192.0.2.9").MapToIPv6();
        Assert.Equal("203.0.113.7", ClientAddress.Resolve(mapped, new StringValues("203.0.113.7"), Balancers).ToString());
        Assert.Equal("198.51.100.4", ClientAddress.Resolve(IPAddress.Parse("198.51.100.4").MapToIPv6(), default, Balancers).ToString());
    }

    [Fact]
    public void Ipv6_clients_are_limited_by_their_64_and_ipv4_by_address()
    {
        static string Key(string address) => new ClientAddress(IPAddress.Parse(address)).LimitKey;

        Assert.Equal("2001:db8:1:2::/64", Key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"));
        Assert.Equal(Key("2001:db8:1:2::1"), Key("2001:db8:1:2:ffff::9"));
        Assert.NotEqual(Key("2001:db8:1:2::1"), Key("2001:db8:1:3::1"));
        Assert.Equal("203.0.113.7", Key("203.0.113.7"));
        Assert.Equal("unknown", ClientAddress.Unknown.LimitKey);
    }

    [Fact]
    public void Trusted_proxies_take_addresses_and_networks_of_both_families_and_name_what_they_cannot_read()
    {
        var trusted = TrustedProxies.Parse(["127.0.0.9", " 10.0.0.0/8 ", "2001:db8::/32", "::ffff:192.0.2.1", "lb.internal", "10.0.0.0/33"], out var invalid);

        Assert.True(trusted.Contains(IPAddress.Parse("127.0.0.9")));
        Assert.False(trusted.Contains(IPAddress.Parse("127.0.0.1")));
        Assert.True(trusted.Contains(IPAddress.Parse("10.200.0.1")));
        Assert.True(trusted.Contains(IPAddress.Parse("2001:db8:5::1")));
        Assert.True(trusted.Contains(IPAddress.Parse("192.0.2.1")));
        Assert.Equal(new[] { "lb.internal", "10.0.0.0/33" }, invalid);
        Assert.True(TrustedProxies.Parse([], out _).IsEmpty);
    }

    [Fact]
    public void A_bad_trusted_proxy_fails_validation_with_a_message_naming_the_setting()
    {
        var result = new GatewayOptionsValidation().Validate(null, new GatewayOptions { TrustedProxies = ["10.0.0.0/8", "10.0.0.0/99"] });

        Assert.True(result.Failed);
        Assert.Contains("Gateway:TrustedProxies", result.FailureMessage);
        Assert.Contains("10.0.0.0/99", result.FailureMessage);
        Assert.Equal(ValidateOptionsResult.Success, new GatewayOptionsValidation().Validate(null, new GatewayOptions()));
    }
}
