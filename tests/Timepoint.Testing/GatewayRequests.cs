using Microsoft.Extensions.Hosting;

namespace Timepoint.Testing;

/// <summary>Signs requests the way the gateway does, for tests that call a backend directly.</summary>
public static class GatewayRequests
{
    public static HttpRequestMessage Signed(this HttpRequestMessage request, string secret, Guid userId,
        string authMethod = "jwt", DateTimeOffset? at = null)
    {
        var timestamp = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var path = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.AbsolutePath : request.RequestUri.OriginalString.Split('?')[0];
        var user = userId.ToString();
        request.Headers.Add(GatewayHeaders.UserId, user);
        request.Headers.Add(GatewayHeaders.AuthMethod, authMethod);
        request.Headers.Add(GatewayHeaders.Timestamp, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(GatewayHeaders.Signature, GatewayHeaders.Sign(secret, request.Method.Method, path, user, timestamp));
        return request;
    }

    /// <summary>The client address the gateway vouches for (X-Forwarded-For with its client signature), as the edge sends it.</summary>
    public static HttpRequestMessage FromClient(this HttpRequestMessage request, string secret, string address)
    {
        var path = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.AbsolutePath : request.RequestUri.OriginalString.Split('?')[0];
        if (!request.Headers.TryGetValues(GatewayHeaders.Timestamp, out var stamps))
        {
            stamps = [DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)];
            request.Headers.Add(GatewayHeaders.Timestamp, stamps);
        }

        var timestamp = long.Parse(stamps.Single(), System.Globalization.CultureInfo.InvariantCulture);
        request.Headers.Add(GatewayHeaders.ForwardedFor, address);
        request.Headers.Add(GatewayHeaders.ClientSignature, GatewayHeaders.SignClient(secret, request.Method.Method, path, address, timestamp));
        return request;
    }
}
