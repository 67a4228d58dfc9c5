using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Timepoint.AppHost;

/// <summary>Sign in with Apple, Google and GitHub: credentials as optional parameters, endpoints as optional settings.</summary>
public static class SignInProviders
{
    private static readonly (string Name, string Section)[] Providers = [("apple", "Apple"), ("google", "Google"), ("github", "GitHub")];

    /// <summary>
    /// Hands identity the provider credentials that are set (<c>Parameters:{provider}-client-id</c>, <c>-client-secret</c>;
    /// for Apple also <c>apple-team-id</c>, <c>apple-key-id</c>, <c>apple-private-key</c>); a provider left unset answers 503
    /// <c>provider_not_configured</c>. Any <c>Identity:Providers:*</c> AppHost setting (endpoints, issuers, timeouts) is passed on as is.
    /// </summary>
    public static IResourceBuilder<T> WithSignInProviders<T>(this IResourceBuilder<T> identity, IDistributedApplicationBuilder builder)
        where T : IResourceWithEnvironment
    {
        foreach (var (name, section) in Providers)
        {
            identity.WithOptionalParameter(builder, $"{name}-client-id", $"Identity__Providers__{section}__ClientId", secret: false);
            identity.WithOptionalParameter(builder, $"{name}-client-secret", $"Identity__Providers__{section}__ClientSecret", secret: true);
        }

        identity.WithOptionalParameter(builder, "apple-team-id", "Identity__Providers__Apple__TeamId", secret: false);
        identity.WithOptionalParameter(builder, "apple-key-id", "Identity__Providers__Apple__KeyId", secret: false);
        identity.WithOptionalParameter(builder, "apple-private-key", "Identity__Providers__Apple__PrivateKey", secret: true);

        foreach (var (key, value) in builder.Configuration.GetSection("Identity:Providers").AsEnumerable())
        {
            if (!string.IsNullOrEmpty(value))
            {
                identity.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }

        return identity;
    }

    /// <summary>A parameter that exists only when it is given a value, so an unconfigured provider asks nothing at start.</summary>
    private static void WithOptionalParameter<T>(this IResourceBuilder<T> resource, IDistributedApplicationBuilder builder, string name,
        string variable, bool secret) where T : IResourceWithEnvironment
    {
        if (!string.IsNullOrEmpty(builder.Configuration[$"Parameters:{name}"]))
        {
            resource.WithEnvironment(variable, builder.AddParameter(name, secret: secret));
        }
    }
}
