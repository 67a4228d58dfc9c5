using Timepoint.EndToEnd.Tests;

namespace Timepoint.Client.Tests;

/// <summary>
/// One platform for the client suites (.NET and TypeScript): the end-to-end suite's, with demo sign-ins unthrottled,
/// since every test signs in as a new demo user from this one address (the demo limit has its own tests in identity's).
/// </summary>
public sealed class ClientPlatformFixture : PlatformFixture
{
    public Uri Edge => Gateway.BaseAddress!;

    protected override void Configure(IDistributedApplicationTestingBuilder builder) =>
        builder.Resources.Single(r => r.Name == "identity").Annotations.Add(new EnvironmentCallbackAnnotation(context =>
            context.EnvironmentVariables["Identity__Demo__PermitsPerMinute"] = "10000"));

    /// <summary>A client signed in as a new demo user (its token pair refreshing itself).</summary>
    public async Task<(TimepointClient Client, TokenPairCredential Tokens)> DemoUserAsync()
    {
        using var anonymous = new TimepointClient(Edge);
        var credential = TimepointCredential.TokenPair(await SignInDemoAsync(anonymous));
        return (new TimepointClient(Edge, credential), credential);
    }

    /// <summary>
    /// A demo sign-in, tried again once if the platform's first answers are still too slow for the tests' short
    /// upstream timeout (a cold identity on a loaded machine: 504 upstream_timeout).
    /// </summary>
    public async Task<TokenPair> SignInDemoAsync(TimepointClient anonymous)
    {
        try
        {
            return await anonymous.Auth.SignInDemoAsync();
        }
        catch (TimepointApiException e) when (e.Code == TimepointErrorCodes.UpstreamTimeout)
        {
            return await anonymous.Auth.SignInDemoAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClientPlatformCollection : ICollectionFixture<ClientPlatformFixture>
{
    public const string Name = "client-platform";
}
