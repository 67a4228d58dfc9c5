using System.Net.Http.Json;

namespace Timepoint.Pro.Stub.Tests;

/// <summary>Pro in memory, shared by a test class; each test acts as users of its own.</summary>
public sealed class ProApp : ServiceApp<Program>
{
    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, Guid? userId, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        // Simulation is metered: the edge forwards it with the reservation it made.
        var charge = method == HttpMethod.Post && path == "/api/v1/simulate" ? GatewayRequests.Charge(50) : ((Guid, long)?)null;
        return Client.SendAsync(userId is { } id ? request.Signed(Factory.GatewaySecret, id, charge: charge) : request);
    }
}
