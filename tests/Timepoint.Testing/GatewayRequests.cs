using Microsoft.Extensions.Hosting;

namespace Timepoint.Testing;

/// <summary>Signs requests the way the gateway does (v2, <see cref="GatewayForward"/>), for tests that call a backend directly.</summary>
public static class GatewayRequests
{
    /// <summary>The request as the edge forwards it for <paramref name="userId"/>; <paramref name="charge"/> makes it a metered call.</summary>
    public static HttpRequestMessage Signed(this HttpRequestMessage request, string secret, Guid userId,
        string authMethod = "jwt", DateTimeOffset? at = null, string? apiKeyId = null, string? sessionId = null,
        (Guid Reservation, long Price)? charge = null, string? clientAddress = null) =>
        request.Sign(secret, Forward(request, at) with
        {
            UserId = userId.ToString(),
            AuthMethod = authMethod,
            ApiKeyId = apiKeyId ?? (authMethod == "api_key" ? "key-" + userId.ToString("N")[..8] : ""),
            SessionId = sessionId ?? "",
            ReservationId = charge?.Reservation.ToString() ?? "",
            Price = charge?.Price.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
            ClientAddress = clientAddress ?? "",
        });

    /// <summary>A metered call's reservation as the edge signs it: a fresh reservation id at <paramref name="price"/>.</summary>
    public static (Guid, long) Charge(long price = 5) => (Guid.NewGuid(), price);

    /// <summary>An anonymous request from the client address the gateway vouches for (X-Forwarded-For under the v2 signature).</summary>
    public static HttpRequestMessage FromClient(this HttpRequestMessage request, string secret, string address) =>
        request.Sign(secret, Forward(request, null) with { ClientAddress = address });

    /// <summary>The fields the edge would sign for this request (no user), with a fresh nonce and request id.</summary>
    public static GatewayForward Forward(HttpRequestMessage request, DateTimeOffset? at)
    {
        var uri = request.RequestUri!;
        var pathAndQuery = uri.IsAbsoluteUri ? uri.PathAndQuery : uri.OriginalString;
        return new GatewayForward(request.Method.Method, pathAndQuery, Guid.NewGuid().ToString("N"), GatewayForward.NewNonce(),
            (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(), "");
    }

    /// <summary>Replaces any gateway headers with the ones of <paramref name="forward"/>, signed with <paramref name="secret"/>.</summary>
    public static HttpRequestMessage Sign(this HttpRequestMessage request, string secret, GatewayForward forward)
    {
        foreach (var (name, value) in forward.Headers(secret))
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }
}
