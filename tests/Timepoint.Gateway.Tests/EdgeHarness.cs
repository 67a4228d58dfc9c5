using Microsoft.Extensions.Hosting;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The gateway in memory on real Redis, with a stand-in identity (discovery, JWKS, key verification) and an echo backend
/// behind every cluster: the edge's view of the world without the rest of the platform.
/// </summary>
public abstract class EdgeHarness : IAsyncLifetime
{
    protected readonly StandInIdentity identity = new();
    protected readonly EchoBackend backend = new();
    protected readonly ServiceFactory<Program> gateway = new();
    protected HttpClient client = null!;

    /// <summary>The Redis the gateway runs on: the one test server, or the test cluster.</summary>
    protected virtual RedisFlavour Redis => RedisFlavour.Server;

    /// <summary>Settings of a test class on top of the harness's own.</summary>
    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    /// <summary>Stand-ins of a test class, started before <see cref="Configure"/> (so their addresses are known there).</summary>
    protected virtual Task StartStandInsAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await identity.StartAsync();
        await backend.StartAsync();
        await StartStandInsAsync();
        await gateway.UseRedisAsync(flavour: Redis);
        gateway.Settings["Gateway:Destinations:identity"] = identity.Address.ToString();
        foreach (var cluster in new[] { "credits", "flash", "clockchain", "pro" })
        {
            gateway.Settings[$"Gateway:Destinations:{cluster}"] = backend.Address.ToString();
        }

        gateway.Settings["Downstream:identity:ServiceKey"] = "identity-service-key-0123456789abcdef";
        gateway.Settings["Downstream:identity:BaseAddress"] = identity.Address.ToString();
        gateway.Settings["Downstream:credits:ServiceKey"] = "credits-service-key-0123456789abcdefg";
        gateway.Settings["Downstream:credits:BaseAddress"] = backend.Address.ToString();
        // Every test server's requests come from no address ("unknown") and count in one Redis: the bad credentials and
        // anonymous calls many classes send must not spend each other's budget (TelemetrySamplingTests alone sends
        // thousands). FailedAuthenticationTests and AnonymousLimitTests set their own.
        gateway.Settings["Gateway:RateLimits:UnknownApiKeysPerMinute"] = "1000000";
        gateway.Settings["Gateway:RateLimits:AnonymousPerMinute"] = "1000000";
        Configure(gateway.Settings);
        client = gateway.CreateClient();
    }

    /// <summary>A valid key identity (the stand-in) knows, with its user; read scope unless told, free tier.</summary>
    protected (string Key, Guid User) KnownApiKey(params string[] scopes)
    {
        var key = ApiKeyFormat.Generate();
        var user = Guid.NewGuid();
        identity.ApiKeys[key] = new
        {
            valid = true, user_id = user, key_id = Guid.NewGuid(), scopes = scopes.Length > 0 ? scopes : ["read"], tier = "free",
            valid_until = (string?)null,
        };
        return (key, user);
    }

    /// <summary>A read of the caller's balance with the API key.</summary>
    protected Task<HttpResponseMessage> SendWithApiKeyAsync(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Add("X-API-Key", key);
        return client.SendAsync(request);
    }

    public virtual async Task DisposeAsync()
    {
        client.Dispose();
        await gateway.DisposeAsync();
        await identity.DisposeAsync();
        await backend.DisposeAsync();
    }
}
