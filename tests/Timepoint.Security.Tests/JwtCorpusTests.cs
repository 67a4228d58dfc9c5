using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.Tokens;
using Timepoint.Soak;

namespace Timepoint.Security.Tests;

/// <summary>
/// Forged and misused access tokens against the real edge and the real identity's keys. Each forgery is built from a real
/// token of a victim and sent on a metered route as that victim: had the edge let it in, the victim would have been charged
/// (so the victim's balance, ledger and timepoints are the backend-visible evidence that nothing got through).
/// Claim cases that need identity's private key (issuer, audience, lifetimes, ID tokens) are in
/// tests/Timepoint.Gateway.Tests (stand-in identity whose key the test holds); see docs/security.md.
/// </summary>
public sealed partial class SecurityTests
{
    public static TheoryData<string> Forgeries => new()
    {
        "alg none", "alg None", "alg NONE", "alg none keeping the signature", "empty signature",
        "HS256 keyed with the public key PEM", "HS256 keyed with the public JWK bytes", "HS256 keyed with the modulus",
        "ES256 under the RSA key's kid", "RS256 by another key under the real kid",
        "embedded jwk", "embedded jwk under the real kid", "jku to a loopback listener", "x5u to a loopback listener",
        "x5c of another key", "kid path traversal", "kid SQL", "kid of 10 KB",
        "bit flipped in the header", "bit flipped in the payload", "bit flipped in the signature",
        "missing segment", "extra segment", "five segments (JWE shape)", "refresh token as access token",
        "another user's signature on this payload",
    };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_forged_token_is_401_and_charges_nobody(string forgery)
    {
        var victim = await platform.SharedUserAsync("forged tokens");
        var token = await ForgeAsync(forgery, victim);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
        {
            Content = JsonContent.Create(new { query = "Forged generation 1492" }),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        using var response = await platform.Gateway.SendAsync(request);

        await Edge.AssertUnauthorizedAsync(response, "auth.jwt_invalid");
        await Edge.AssertUntouchedAsync(platform.Gateway, victim);
        Assert.Equal(0, Volatile.Read(ref loopbackConnections));
    }

    [Fact]
    public async Task The_real_token_of_the_same_shape_is_accepted()
    {
        // The corpus above is only meaningful if the unmodified token would have gone through.
        var user = await platform.NewUserAsync();

        using var response = await platform.Gateway.SendAsync(Platform.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync",
            new { query = "Forged generation 1492" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(45, await Platform.BalanceAsync(platform.Gateway, user));
    }

    private async Task<string> ForgeAsync(string forgery, User victim)
    {
        var parts = victim.AccessToken.Split('.');
        var header = JsonNode.Parse(Base64UrlEncoder.Decode(parts[0]))!.AsObject();
        var kid = header["kid"]!.GetValue<string>();
        var jwk = await PublishedKeyAsync(kid);
        var rsa = RSA.Create(new RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(jwk.GetProperty("n").GetString()), Exponent = Base64UrlEncoder.DecodeBytes(jwk.GetProperty("e").GetString()) });
        using var attacker = RSA.Create(2048);
        var listener = $"http://127.0.0.1:{((IPEndPoint)loopback.LocalEndpoint).Port}/keys";

        return forgery switch
        {
            "alg none" => Unsigned("none", kid, parts[1]),
            "alg None" => Unsigned("None", kid, parts[1]),
            "alg NONE" => Unsigned("NONE", kid, parts[1]),
            "alg none keeping the signature" => Unsigned("none", kid, parts[1]) + parts[2],
            "empty signature" => $"{parts[0]}.{parts[1]}.",
            "HS256 keyed with the public key PEM" => Hmac(kid, parts[1], Encoding.UTF8.GetBytes(rsa.ExportSubjectPublicKeyInfoPem())),
            "HS256 keyed with the public JWK bytes" => Hmac(kid, parts[1], Encoding.UTF8.GetBytes(jwk.GetRawText())),
            "HS256 keyed with the modulus" => Hmac(kid, parts[1], Base64UrlEncoder.DecodeBytes(jwk.GetProperty("n").GetString())),
            "ES256 under the RSA key's kid" => Es256(kid, parts[1]),
            "RS256 by another key under the real kid" => Rs256(attacker, new JsonObject { ["kid"] = kid }, parts[1]),
            "embedded jwk" => Rs256(attacker, new JsonObject { ["kid"] = "attacker", ["jwk"] = PublicJwk(attacker, "attacker") }, parts[1]),
            "embedded jwk under the real kid" => Rs256(attacker, new JsonObject { ["kid"] = kid, ["jwk"] = PublicJwk(attacker, kid) }, parts[1]),
            "jku to a loopback listener" => Rs256(attacker, new JsonObject { ["kid"] = "attacker-jku", ["jku"] = listener }, parts[1]),
            "x5u to a loopback listener" => Rs256(attacker, new JsonObject { ["kid"] = "attacker-x5u", ["x5u"] = listener }, parts[1]),
            "x5c of another key" => Rs256(attacker, new JsonObject { ["kid"] = kid, ["x5c"] = new JsonArray(SelfSigned(attacker)) }, parts[1]),
            "kid path traversal" => Rs256(attacker, new JsonObject { ["kid"] = "../../../../../../../../dev/null" }, parts[1]),
            "kid SQL" => Rs256(attacker, new JsonObject { ["kid"] = "' OR '1'='1' --; DROP TABLE signing_keys; --" }, parts[1]),
            "kid of 10 KB" => Rs256(attacker, new JsonObject { ["kid"] = new string('k', 10 * 1024) }, parts[1]),
            "bit flipped in the header" => $"{Flip(parts[0])}.{parts[1]}.{parts[2]}",
            "bit flipped in the payload" => $"{parts[0]}.{Flip(parts[1])}.{parts[2]}",
            "bit flipped in the signature" => $"{parts[0]}.{parts[1]}.{Flip(parts[2])}",
            "missing segment" => $"{parts[0]}.{parts[1]}",
            "extra segment" => $"{victim.AccessToken}.{parts[2]}",
            "five segments (JWE shape)" => $"{parts[0]}.{parts[1]}.{parts[2]}.{parts[1]}.{parts[2]}",
            "refresh token as access token" => victim.RefreshToken,
            "another user's signature on this payload" => $"{parts[0]}.{parts[1]}.{(await platform.NewUserAsync()).AccessToken.Split('.')[2]}",
            _ => throw new ArgumentOutOfRangeException(nameof(forgery), forgery, null),
        };

        string Unsigned(string alg, string keyId, string payload) =>
            $"{B64(new JsonObject { ["alg"] = alg, ["typ"] = "at+jwt", ["kid"] = keyId })}.{payload}.";

        static string Hmac(string keyId, string payload, byte[] key)
        {
            var signed = $"{B64(new JsonObject { ["alg"] = "HS256", ["typ"] = "at+jwt", ["kid"] = keyId })}.{payload}";
            return $"{signed}.{Base64UrlEncoder.Encode(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signed)))}";
        }

        static string Es256(string keyId, string payload)
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var signed = $"{B64(new JsonObject { ["alg"] = "ES256", ["typ"] = "at+jwt", ["kid"] = keyId })}.{payload}";
            return $"{signed}.{Base64UrlEncoder.Encode(ec.SignData(Encoding.ASCII.GetBytes(signed), HashAlgorithmName.SHA256))}";
        }
    }

    private static string Rs256(RSA key, JsonObject extra, string payload)
    {
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "at+jwt" };
        foreach (var (name, value) in extra.ToList())
        {
            extra.Remove(name);
            header[name] = value;
        }

        var signed = $"{B64(header)}.{payload}";
        return $"{signed}.{Base64UrlEncoder.Encode(key.SignData(Encoding.ASCII.GetBytes(signed), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))}";
    }

    private static JsonObject PublicJwk(RSA key, string kid)
    {
        var p = key.ExportParameters(false);
        return new JsonObject { ["kty"] = "RSA", ["kid"] = kid, ["use"] = "sig", ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent) };
    }

    private static string SelfSigned(RSA key)
    {
        var request = new CertificateRequest("CN=attacker", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return Convert.ToBase64String(certificate.RawData);
    }

    private async Task<JsonElement> PublishedKeyAsync(string kid)
    {
        var discovery = await platform.Gateway.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        var jwks = await platform.Gateway.GetFromJsonAsync<JsonElement>(new Uri(discovery.GetProperty("jwks_uri").GetString()!).PathAndQuery);
        return jwks.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("kid").GetString() == kid);
    }

    private static string B64(JsonObject json) => Base64UrlEncoder.Encode(json.ToJsonString());

    private static string Flip(string segment)
    {
        var chars = segment.ToCharArray();
        chars[segment.Length / 2] = chars[segment.Length / 2] == 'A' ? 'B' : 'A';
        return new string(chars);
    }

    /// <summary>Counts anyone who connects to the jku/x5u address: the edge must never fetch keys a token points at.</summary>
    private async Task CountConnectionsAsync()
    {
        while (true)
        {
            try
            {
                using var socket = await loopback.AcceptSocketAsync();
                Interlocked.Increment(ref loopbackConnections);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
        }
    }

}
