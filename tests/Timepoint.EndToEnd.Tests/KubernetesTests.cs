using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>
/// deploy/kubernetes as rendered by <c>kubectl kustomize</c>, every object already checked against the Kubernetes API
/// schemas by scripts/kubernetes-check (the fixture fails if one is not), read against the AppHost's manifest.
/// Nothing here needs a cluster.
/// </summary>
[Collection(DeploymentCollection.Name)]
public sealed class KubernetesTests(DeploymentFixture deployment)
{
    public static TheoryData<string> Kustomizations => [.. DeploymentFixture.Kustomizations];

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Each_service_has_a_Deployment_and_a_Service_on_its_http_port(string kustomization)
    {
        foreach (var service in DeploymentFixture.Services)
        {
            var pod = Object(kustomization, "Deployment", service).GetProperty("spec").GetProperty("template");
            Assert.Equal(service, pod.GetProperty("metadata").GetProperty("labels").GetProperty("app.kubernetes.io/name").GetString());
            var container = Container(kustomization, service);
            Assert.Equal($"timepoint/{service}", Repository(container.GetProperty("image").GetString()!));
            Assert.Contains(container.GetProperty("ports").EnumerateArray(), p => p.GetProperty("name").GetString() == "http" && p.GetProperty("containerPort").GetInt32() == 8080);

            var spec = Object(kustomization, "Service", service).GetProperty("spec");
            Assert.Equal(service, spec.GetProperty("selector").GetProperty("app.kubernetes.io/name").GetString());
            // Port 80 so that http://{service}, the address service discovery is given, reaches it.
            var port = Assert.Single(spec.GetProperty("ports").EnumerateArray());
            Assert.Equal(80, port.GetProperty("port").GetInt32());
            Assert.Equal("http", port.GetProperty("targetPort").GetString());
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Every_service_is_ready_on_health_alive_on_alive_and_asks_for_resources(string kustomization)
    {
        foreach (var service in DeploymentFixture.Services)
        {
            var container = Container(kustomization, service);
            Assert.Equal("/health", Probe(container, "readinessProbe"));
            Assert.Equal("/alive", Probe(container, "livenessProbe"));
            Assert.Equal("/alive", Probe(container, "startupProbe"));
            var requests = container.GetProperty("resources").GetProperty("requests");
            Assert.True(requests.TryGetProperty("cpu", out _) && requests.TryGetProperty("memory", out _), $"{service} requests no cpu or memory");
            Assert.True(container.GetProperty("resources").GetProperty("limits").TryGetProperty("memory", out _), $"{service} has no memory limit");
            Assert.True(container.GetProperty("securityContext").GetProperty("readOnlyRootFilesystem").GetBoolean());
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void The_gateway_runs_several_replicas_with_a_disruption_budget_and_an_autoscaler(string kustomization)
    {
        Assert.True(Object(kustomization, "Deployment", "gateway").GetProperty("spec").GetProperty("replicas").GetInt32() >= 2);

        var budget = Object(kustomization, "PodDisruptionBudget", "gateway").GetProperty("spec");
        Assert.Equal("gateway", budget.GetProperty("selector").GetProperty("matchLabels").GetProperty("app.kubernetes.io/name").GetString());
        Assert.Equal(1, budget.GetProperty("maxUnavailable").GetInt32());

        var autoscaler = Object(kustomization, "HorizontalPodAutoscaler", "gateway").GetProperty("spec");
        var target = autoscaler.GetProperty("scaleTargetRef");
        Assert.Equal(("Deployment", "gateway"), (target.GetProperty("kind").GetString(), target.GetProperty("name").GetString()));
        Assert.True(autoscaler.GetProperty("minReplicas").GetInt32() >= 2);
        Assert.True(autoscaler.GetProperty("maxReplicas").GetInt32() > autoscaler.GetProperty("minReplicas").GetInt32());

        // Only the edge is exposed outside the cluster, as only it has external endpoints in the AppHost.
        foreach (var service in DeploymentFixture.Services)
        {
            var type = Object(kustomization, "Service", service).GetProperty("spec").TryGetProperty("type", out var t) ? t.GetString() : "ClusterIP";
            Assert.Equal(service == "gateway" ? "LoadBalancer" : "ClusterIP", type);
        }
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Each_Deployment_gets_the_environment_the_AppHost_gives_the_same_service(string kustomization)
    {
        var problems = new List<string>();
        foreach (var service in DeploymentFixture.Services)
        {
            var expected = EnvironmentMapping.Expected(service, deployment.Manifest);
            var actual = EnvironmentMapping.Actual(Container(kustomization, service));
            problems.AddRange(expected.Keys.Except(actual.Keys).Order().Select(k => $"{service} lacks {k} ({expected[k]})"));
            problems.AddRange(actual.Keys.Except(expected.Keys).Order().Select(k => $"{service} has {k}, which the AppHost does not give it"));
            problems.AddRange(expected.Keys.Intersect(actual.Keys).Where(k => expected[k] != actual[k])
                .Select(k => $"{service}'s {k}: the AppHost's maps to {expected[k]}, Kubernetes has {actual[k]}"));
        }

        Assert.True(problems.Count == 0, $"{kustomization}:\n{string.Join("\n", problems)}");
    }

    [Fact]
    public void The_public_url_and_trusted_proxies_are_configuration()
    {
        var config = Object("base", "ConfigMap", "timepoint-config").GetProperty("data");
        Assert.True(Uri.TryCreate(config.GetProperty("public-url").GetString(), UriKind.Absolute, out var publicUrl));
        Assert.Equal(Uri.UriSchemeHttps, publicUrl.Scheme);
        Assert.EndsWith("/", publicUrl.AbsoluteUri, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(config.GetProperty("trusted-proxies").GetString()));
    }

    [Fact]
    public void The_base_runs_PostgreSQL_and_Redis_in_the_cluster_and_the_managed_overlay_runs_neither()
    {
        foreach (var name in new[] { "postgres", "redis" })
        {
            var container = Object("base", "StatefulSet", name).GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
            // The same image the AppHost's publish names, and its password from the Secret under the parameter's name.
            Assert.Equal(deployment.Manifest.GetProperty(name).GetProperty("image").GetString(), container.GetProperty("image").GetString());
            Assert.Contains(EnvironmentMapping.Actual(container).Values, s => s == new KubernetesSource.FromSecret(EnvironmentMapping.Secrets, $"{name}-password"));
            Assert.Equal(ManifestPort(name), Object("base", "Service", name).GetProperty("spec").GetProperty("ports")[0].GetProperty("port").GetInt32());
        }

        var managed = deployment.Rendered["overlays/managed"];
        Assert.DoesNotContain(managed, o => o.GetProperty("kind").GetString() == "StatefulSet");
        Assert.DoesNotContain(managed, o => o.GetProperty("kind").GetString() == "Service" && o.GetProperty("metadata").GetProperty("name").GetString() is "postgres" or "redis");
        Assert.All(managed.Where(o => o.GetProperty("kind").GetString() != "Namespace"),
            o => Assert.Equal("timepoint", o.GetProperty("metadata").GetProperty("namespace").GetString()));
    }

    [Fact]
    public void Backends_take_traffic_only_from_the_services_the_AppHost_wires_to_them()
    {
        // Who calls whom, from the manifest: a service's services__{callee}__http__0, a database's or Redis's connection string.
        foreach (var callee in DeploymentFixture.Services.Where(s => s != "gateway").Concat(["postgres", "redis"]))
        {
            var callers = DeploymentFixture.Services.Where(caller => caller != callee && EnvironmentMapping.Environment(deployment.Manifest.GetProperty(caller)).Values
                .SelectMany(EnvironmentMapping.References)
                .Any(r => r == callee || (callee == "postgres" && r.EndsWith("db", StringComparison.Ordinal))))
                .Order();
            var policy = Object("base", "NetworkPolicy", callee).GetProperty("spec");
            var allowed = policy.GetProperty("ingress").EnumerateArray().SelectMany(i => i.GetProperty("from").EnumerateArray())
                .Select(f => f.GetProperty("podSelector").GetProperty("matchLabels").GetProperty("app.kubernetes.io/name").GetString()).Order();
            Assert.Equal(callers, allowed);
        }
    }

    [Fact]
    public async Task Images_are_named_as_dotnet_publish_builds_them()
    {
        var projects = new Dictionary<string, string>
        {
            ["gateway"] = "Timepoint.Gateway", ["identity"] = "Timepoint.Identity", ["credits"] = "Timepoint.Credits",
            ["flash"] = "Timepoint.Flash.Stub", ["clockchain"] = "Timepoint.Clockchain.Stub", ["pro"] = "Timepoint.Pro.Stub",
        };
        var repositories = await Task.WhenAll(projects.Select(async p =>
        {
            // One property asked for: msbuild prints its value alone.
            var repository = await DeploymentFixture.RunAsync("dotnet", ["msbuild", p.Value, "-getProperty:ContainerRepository"]);
            return (Service: p.Key, Repository: repository.Trim());
        }));
        foreach (var (service, repository) in repositories)
        {
            Assert.Equal(repository, Repository(Container("base", service).GetProperty("image").GetString()!));
        }
    }

    private int ManifestPort(string name) =>
        deployment.Manifest.GetProperty(name).GetProperty("bindings").GetProperty("tcp").GetProperty("targetPort").GetInt32();

    private static string Repository(string image) => image.Split(':')[0];

    private static string? Probe(JsonElement container, string probe) =>
        container.TryGetProperty(probe, out var p) && p.GetProperty("httpGet").GetProperty("port").GetString() == "http"
            ? p.GetProperty("httpGet").GetProperty("path").GetString()
            : null;

    private JsonElement Container(string kustomization, string service) =>
        Assert.Single(Object(kustomization, "Deployment", service).GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers").EnumerateArray());

    private JsonElement Object(string kustomization, string kind, string name) =>
        deployment.Rendered[kustomization].SingleOrDefault(o => o.GetProperty("kind").GetString() == kind && o.GetProperty("metadata").GetProperty("name").GetString() == name) is { ValueKind: JsonValueKind.Object } found
            ? found
            : throw new Xunit.Sdk.XunitException($"{kustomization} renders no {kind} {name}.");
}
