using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Timepoint.Identity.Data;

namespace Timepoint.Identity.Tests;

/// <summary>Identity on real PostgreSQL and Redis, with a registered public web client and a service client.</summary>
public class IdentityFactory : ServiceFactory<Program>, IAsyncLifetime
{
    public const string WebClientId = "test-web";
    public const string WebRedirectUri = "https://app.test/callback";
    public const string ServiceClientId = "test-service";
    public const string ServiceClientSecret = "test-service-secret-0123456789abcdef";

    /// <summary>The Redis identity runs on: the one test server, or the test cluster.</summary>
    protected virtual RedisFlavour Redis => RedisFlavour.Server;

    public virtual async Task InitializeAsync()
    {
        await UseDatabaseAsync("identitydb");
        await UseRedisAsync(flavour: Redis);
        Settings["Downstream:credits:ServiceKey"] = "credits-key-0123456789abcdef0123456789";
        Settings["Downstream:credits:BaseAddress"] = "http://127.0.0.1:9"; // nothing listens: deliveries stay queued
        Settings["Downstream:flash:ServiceKey"] = "flash-key-0123456789abcdef0123456789ab";
        Settings["Downstream:flash:BaseAddress"] = "http://127.0.0.1:9";
        Settings["Downstream:pro:ServiceKey"] = "pro-key-0123456789abcdef0123456789abcd";
        Settings["Downstream:pro:BaseAddress"] = "http://127.0.0.1:9";
        Settings["Identity:Tokens:Issuer"] = "http://localhost/";
        Settings["Identity:Tokens:KeyPublishLead"] = "00:00:05"; // long enough for a loaded machine to look before it ends
        Settings["Identity:Tokens:KeyRefreshInterval"] = "00:00:01";
        Settings["Identity:Clients:Clients:0:ClientId"] = WebClientId;
        Settings["Identity:Clients:Clients:0:RedirectUris:0"] = WebRedirectUri;
        Settings["Identity:Clients:Clients:0:Scopes:0"] = "api";
        Settings["Identity:Clients:Clients:1:ClientId"] = ServiceClientId;
        Settings["Identity:Clients:Clients:1:ClientSecret"] = ServiceClientSecret;
        Settings["Identity:Clients:Clients:1:Scopes:0"] = "api";
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    /// <summary>Another replica of this identity: the same database, Redis, settings and keys (the caller disposes it).</summary>
    public IdentityFactory Replica()
    {
        var replica = new IdentityFactory { GatewaySecret = GatewaySecret, ServiceKey = ServiceKey, AdminKey = AdminKey };
        foreach (var (key, value) in Settings)
        {
            replica.Settings[key] = value;
        }

        return replica;
    }

    public async Task<T> WithDbAsync<T>(Func<IdentityDbContext, Task<T>> work)
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<IdentityDbContext>());
    }

    /// <summary>A new user signed in through the admin dev-token route, the way operators and tests mint real tokens.</summary>
    public async Task<TokenPairDto> DevTokenAsync(HttpClient client, string? email = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/dev/token")
        {
            Content = JsonContent.Create(new { email = email ?? $"user-{Guid.NewGuid():N}@example.test", display_name = "Test User" }),
        };
        request.Headers.Add("X-Admin-Key", AdminKey);
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<TokenPairDto>(Json))!;
    }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}

public sealed record TokenPairDto(string AccessToken, string RefreshToken, string TokenType, long ExpiresIn);

/// <summary>Identity on the test Redis Cluster.</summary>
public sealed class ClusterIdentityFactory : IdentityFactory
{
    protected override RedisFlavour Redis => RedisFlavour.Cluster;
}
