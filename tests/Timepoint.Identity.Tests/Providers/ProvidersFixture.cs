using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Timepoint.Identity.Tests.Providers;

/// <summary>Identity with Apple (ES256), Google (RS256) and GitHub pointed at stand-ins on loopback ports.</summary>
public class ProvidersFixture : IAsyncLifetime
{
    public const string IosClientId = "com.timepoint.ios";

    public ProvidersFixture()
        : this(new IdentityFactory())
    {
    }

    protected ProvidersFixture(IdentityFactory identity) => Identity = identity;

    public IdentityFactory Identity { get; }

    public StandInProvider Apple { get; private set; } = null!;

    public StandInProvider Google { get; private set; } = null!;

    public StandInProvider GitHub { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await ((IAsyncLifetime)Identity).InitializeAsync();
        Apple = await StandInProvider.StartAsync("apple", oidc: true, SecurityAlgorithms.EcdsaSha256);
        Google = await StandInProvider.StartAsync("google", oidc: true);
        GitHub = await StandInProvider.StartAsync("github", oidc: false);
        foreach (var (key, value) in Apple.Settings("Apple", IosClientId).Concat(Google.Settings("Google")).Concat(GitHub.Settings("GitHub")))
        {
            Identity.Settings[key] = value;
        }

        // Short enough for the slow-provider test, long enough for a loaded 2-core machine.
        Identity.Settings["Identity:Providers:Timeout"] = "00:00:05";
        Identity.Settings["Identity:Providers:JwksMinRefreshInterval"] = "00:00:00";
    }

    public async Task DisposeAsync()
    {
        await Identity.DisposeAsync();
        await Apple.DisposeAsync();
        await Google.DisposeAsync();
        await GitHub.DisposeAsync();
    }

    /// <summary>A browser: cookies kept, redirects not followed.</summary>
    public HttpClient Browser() => Identity.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    public static Task<HttpResponseMessage> PostJsonAsync(HttpClient client, string path, object body) =>
        client.PostAsJsonAsync(path, body);

    public static async Task<TokenPairDto> TokenPairAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<TokenPairDto>(IdentityFactory.Json))!;
    }

    public static Guid UserIdOf(string accessToken) => Guid.Parse(new JsonWebToken(accessToken).Subject);

    public Task<bool> LoginExistsAsync(string provider, string subject) =>
        Identity.WithDbAsync(db => db.ExternalLogins.AnyAsync(l => l.Provider == provider && l.Subject == subject));

    public Task<int> SignupBonusesAsync(Guid userId) =>
        Identity.WithDbAsync(db => db.Outbox.CountAsync(m => m.UserId == userId && m.Kind == Downstream.Outbox.SignupBonus));
}

/// <summary>The providers' fixture with identity on the test Redis Cluster (browser sign-in state, data-protection keys).</summary>
public sealed class ClusterProvidersFixture() : ProvidersFixture(new ClusterIdentityFactory());
