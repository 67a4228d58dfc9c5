using System.Text.Json;
using System.Text.RegularExpressions;

namespace Timepoint.EndToEnd.Tests;

/// <summary>Where a Kubernetes container's variable comes from: a literal, a Secret's key or the timepoint-config ConfigMap's key.</summary>
public abstract record KubernetesSource
{
    public sealed record Literal(string Value) : KubernetesSource;

    public sealed record FromSecret(string Secret, string Key) : KubernetesSource;

    public sealed record FromConfig(string Key) : KubernetesSource;
}

/// <summary>
/// How the environment the AppHost gives a service (its publish manifest) becomes that service's environment on
/// Kubernetes (deploy/kubernetes). Every manifest variable either maps to one source here or is named as one Kubernetes
/// does not need, and every Kubernetes variable comes from the manifest or from <see cref="KubernetesOnly"/>: a setting
/// added to the AppHost but not to deploy/kubernetes (or the reverse) fails KubernetesTests.
/// </summary>
public static partial class EnvironmentMapping
{
    public const string Secrets = "timepoint-secrets";
    public const string Connections = "timepoint-connections";

    /// <summary>Facts of the deployment, in timepoint-config: the AppHost derives them from its own endpoints or leaves them empty.</summary>
    public static readonly Dictionary<string, string> DeploymentSettings = new()
    {
        // The AppHost's public-url parameter (the issuer, and the edge's HSTS decision); a cluster's public URL.
        ["Identity__Tokens__Issuer"] = "public-url",
        ["Gateway__PublicUrl"] = "public-url",
        // The balancer's addresses exist only in the cluster; the AppHost's default is none.
        ["Gateway__TrustedProxies"] = "trusted-proxies",
    };

    /// <summary>Variables a service gets on Kubernetes though the manifest need not give them.</summary>
    public static readonly Dictionary<string, string[]> KubernetesOnly = new()
    {
        ["gateway"] = ["Gateway__TrustedProxies"],
    };

    /// <summary>
    /// A manifest variable's Kubernetes source, or null for one Kubernetes does not need, with the reason in the pattern:
    /// Aspire 13's endpoint and connection-property variables (<c>CREDITS_HTTP</c>, <c>CREDITSDB_HOST</c>, <c>REDIS_URI</c>, ...)
    /// are for clients that are not .NET, whose services read <c>services__*</c> and <c>ConnectionStrings__*</c>; and inside
    /// the cluster services talk plain HTTP (TLS ends at the balancer), so no <c>services__*__https__0</c>.
    /// </summary>
    public static KubernetesSource? Map(string name, string value, JsonElement manifest)
    {
        if (DeploymentSettings.TryGetValue(name, out var setting))
        {
            return new KubernetesSource.FromConfig(setting);
        }

        if (AspireOnly().IsMatch(name) && manifest.TryGetProperty(AspireOnly().Match(name).Groups["resource"].Value.ToLowerInvariant(), out _))
        {
            return null;
        }

        if (HttpsDiscovery().IsMatch(name))
        {
            return null;
        }

        if (HttpDiscovery().Match(name) is { Success: true } discovery && value == $"{{{discovery.Groups["service"].Value}.bindings.http.url}}")
        {
            return new KubernetesSource.Literal($"http://{discovery.Groups["service"].Value}");
        }

        if (name == "HTTP_PORTS" && TargetPort().IsMatch(value))
        {
            return new KubernetesSource.Literal("8080"); // the containers' port, the .NET images' default
        }

        if (ConnectionString().Match(name) is { Success: true } connection && value == $"{{{connection.Groups["resource"].Value}.connectionString}}")
        {
            return new KubernetesSource.FromSecret(Connections, connection.Groups["resource"].Value);
        }

        if (WholeParameter().Match(value) is { Success: true } parameter)
        {
            var key = parameter.Groups["parameter"].Value;
            var secret = manifest.GetProperty(key).GetProperty("inputs").GetProperty("value").TryGetProperty("secret", out var s) && s.GetBoolean();
            return secret ? new KubernetesSource.FromSecret(Secrets, key) : new KubernetesSource.FromConfig(key);
        }

        if (!value.Contains('{', StringComparison.Ordinal))
        {
            return new KubernetesSource.Literal(value);
        }

        throw new Xunit.Sdk.XunitException(
            $"No Kubernetes mapping for {name}={value}: give deploy/kubernetes the variable and EnvironmentMapping a rule for it.");
    }

    /// <summary>The Kubernetes environment a service should get, from its manifest entry.</summary>
    public static Dictionary<string, KubernetesSource> Expected(string service, JsonElement manifest)
    {
        var expected = new Dictionary<string, KubernetesSource>();
        foreach (var (name, value) in Environment(manifest.GetProperty(service)))
        {
            if (Map(name, value, manifest) is { } source)
            {
                expected[name] = source;
            }
        }

        foreach (var name in KubernetesOnly.GetValueOrDefault(service, []))
        {
            expected[name] = Map(name, "", manifest)!;
        }

        return expected;
    }

    /// <summary>A container's environment as rendered by kustomize.</summary>
    public static Dictionary<string, KubernetesSource> Actual(JsonElement container)
    {
        var actual = new Dictionary<string, KubernetesSource>();
        foreach (var variable in container.GetProperty("env").EnumerateArray())
        {
            var name = variable.GetProperty("name").GetString()!;
            actual[name] = variable.TryGetProperty("value", out var value)
                ? new KubernetesSource.Literal(value.GetString()!)
                : variable.GetProperty("valueFrom") switch
                {
                    var from when from.TryGetProperty("secretKeyRef", out var secret) =>
                        new KubernetesSource.FromSecret(secret.GetProperty("name").GetString()!, secret.GetProperty("key").GetString()!),
                    var from when from.TryGetProperty("configMapKeyRef", out var config) && config.GetProperty("name").GetString() == "timepoint-config" =>
                        new KubernetesSource.FromConfig(config.GetProperty("key").GetString()!),
                    var from => throw new Xunit.Sdk.XunitException($"{name} comes from {from}, which no AppHost setting maps to."),
                };
        }

        return actual;
    }

    public static Dictionary<string, string> Environment(JsonElement resource) =>
        resource.GetProperty("env").EnumerateObject().ToDictionary(v => v.Name, v => v.Value.GetString()!);

    /// <summary>The manifest resources a value refers to (<c>{name.…}</c>).</summary>
    public static IEnumerable<string> References(string value) => Reference().Matches(value).Select(m => m.Groups["resource"].Value);

    [GeneratedRegex("^(?<resource>[A-Z0-9]+)_(HTTP|HTTPS|HOST|PORT|USERNAME|PASSWORD|URI|JDBCCONNECTIONSTRING|DATABASENAME)$")]
    private static partial Regex AspireOnly();

    [GeneratedRegex("^services__[a-z0-9-]+__https__0$")]
    private static partial Regex HttpsDiscovery();

    [GeneratedRegex("^services__(?<service>[a-z0-9-]+)__http__0$")]
    private static partial Regex HttpDiscovery();

    [GeneratedRegex(@"^\{[a-z0-9-]+\.bindings\.http\.targetPort\}$")]
    private static partial Regex TargetPort();

    [GeneratedRegex("^ConnectionStrings__(?<resource>[a-z0-9-]+)$")]
    private static partial Regex ConnectionString();

    [GeneratedRegex(@"^\{(?<parameter>[a-z0-9-]+)\.value\}$")]
    private static partial Regex WholeParameter();

    [GeneratedRegex(@"\{(?<resource>[a-z0-9-]+)\.")]
    private static partial Regex Reference();
}
