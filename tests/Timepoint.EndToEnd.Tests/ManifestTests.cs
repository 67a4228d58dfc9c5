using System.Text.Json;

namespace Timepoint.EndToEnd.Tests;

/// <summary>
/// The AppHost's publish manifest, read: what the deployment tools would get. The manifest format has no place for
/// replicas or health probes (Aspire 13.6 writes neither), so those are checked on the AppHost's model in publish mode
/// and on deploy/kubernetes (KubernetesTests).
/// </summary>
[Collection(DeploymentCollection.Name)]
public sealed class ManifestTests(DeploymentFixture deployment)
{
    private static readonly string[] SecretParameters =
    [
        "gateway-signing-secret", "postgres-password", "redis-password",
        .. DeploymentFixture.Services.Where(s => s is not ("gateway" or "clockchain")).SelectMany(s => new[] { $"{s}-service-key", $"{s}-admin-key" }),
        "apple-client-secret", "apple-private-key", "google-client-secret", "github-client-secret",
    ];

    private static readonly string[] PlainParameters = ["apple-client-id", "apple-team-id", "apple-key-id", "google-client-id", "github-client-id"];

    [Fact]
    public void Every_resource_is_there_as_a_project_or_container_and_nothing_runs_from_this_machine()
    {
        foreach (var service in DeploymentFixture.Services)
        {
            Assert.Equal("project.v0", Type(service));
        }

        Assert.Equal("container.v0", Type("postgres"));
        Assert.StartsWith("docker.io/library/postgres:", Resource("postgres").GetProperty("image").GetString());
        Assert.Equal("container.v0", Type("redis"));
        Assert.StartsWith("docker.io/library/redis:", Resource("redis").GetProperty("image").GetString());
        foreach (var database in new[] { "identitydb", "creditsdb", "flashdb" })
        {
            Assert.Equal("value.v0", Type(database));
            Assert.Equal($"{{postgres.connectionString}};Database={database}", Resource(database).GetProperty("connectionString").GetString());
        }

        // Local mode's executables (this machine's postgres and redis-server) must never reach a deployment.
        Assert.DoesNotContain(deployment.Manifest.EnumerateObject(), r => r.Value.GetProperty("type").GetString()!.StartsWith("executable", StringComparison.Ordinal));
        // Only the edge is reachable from outside.
        foreach (var service in DeploymentFixture.Services)
        {
            var external = Resource(service).GetProperty("bindings").EnumerateObject()
                .Any(b => b.Value.TryGetProperty("external", out var e) && e.GetBoolean());
            Assert.Equal(service == "gateway", external);
        }
    }

    [Fact]
    public void Secrets_are_secret_parameters_and_every_parameter_a_service_uses_exists()
    {
        foreach (var name in SecretParameters)
        {
            Assert.Equal("parameter.v0", Type(name));
            Assert.True(Resource(name).GetProperty("inputs").GetProperty("value").TryGetProperty("secret", out var secret) && secret.GetBoolean(),
                $"{name} must be a secret parameter");
        }

        foreach (var name in PlainParameters)
        {
            Assert.Equal("parameter.v0", Type(name));
            Assert.False(Resource(name).GetProperty("inputs").GetProperty("value").TryGetProperty("secret", out _), $"{name} is not a secret");
        }

        // A parameter's value is never written into the manifest: the one given to this publish appears nowhere.
        Assert.DoesNotContain("set-for-the-manifest", deployment.Manifest.GetRawText(), StringComparison.Ordinal);
        foreach (var service in DeploymentFixture.Services)
        {
            foreach (var variable in Environment(service))
            {
                foreach (var reference in EnvironmentMapping.References(variable.Value))
                {
                    Assert.True(deployment.Manifest.TryGetProperty(reference, out _), $"{service}'s {variable.Key} names {reference}, not in the manifest");
                }
            }
        }
    }

    [Fact]
    public void Each_service_gets_its_connections_keys_and_the_keys_of_what_it_calls()
    {
        static Dictionary<string, string> Keys(string service) => new()
        {
            ["Security__ServiceKey"] = $"{{{service}-service-key.value}}",
            ["Security__AdminKey"] = $"{{{service}-admin-key.value}}",
        };

        Expect("gateway", new()
        {
            ["ConnectionStrings__redis"] = "{redis.connectionString}",
            ["GatewayTrust__Secret"] = "{gateway-signing-secret.value}",
            ["Downstream__identity__ServiceKey"] = "{identity-service-key.value}",
            ["Downstream__credits__ServiceKey"] = "{credits-service-key.value}",
            ["services__identity__http__0"] = "{identity.bindings.http.url}",
            ["services__credits__http__0"] = "{credits.bindings.http.url}",
            ["services__flash__http__0"] = "{flash.bindings.http.url}",
            ["services__clockchain__http__0"] = "{clockchain.bindings.http.url}",
            ["services__pro__http__0"] = "{pro.bindings.http.url}",
        });
        Expect("identity", new(Keys("identity"))
        {
            ["ConnectionStrings__identitydb"] = "{identitydb.connectionString}",
            ["ConnectionStrings__redis"] = "{redis.connectionString}",
            ["GatewayTrust__Secret"] = "{gateway-signing-secret.value}",
            ["Downstream__credits__ServiceKey"] = "{credits-service-key.value}",
            ["Downstream__flash__ServiceKey"] = "{flash-service-key.value}",
            ["Downstream__pro__ServiceKey"] = "{pro-service-key.value}",
            ["Identity__Providers__Apple__PrivateKey"] = "{apple-private-key.value}",
            ["Identity__Providers__Google__ClientSecret"] = "{google-client-secret.value}",
        });
        Expect("credits", new(Keys("credits")) { ["ConnectionStrings__creditsdb"] = "{creditsdb.connectionString}", ["GatewayTrust__Secret"] = "{gateway-signing-secret.value}" });
        Expect("flash", new(Keys("flash")) { ["ConnectionStrings__flashdb"] = "{flashdb.connectionString}", ["GatewayTrust__Secret"] = "{gateway-signing-secret.value}" });
        Expect("pro", new(Keys("pro")) { ["GatewayTrust__Secret"] = "{gateway-signing-secret.value}" });
        Expect("clockchain", new() { ["GatewayTrust__Secret"] = "{gateway-signing-secret.value}" });
        // Tokens name the public URL, a parameter every deployment supplies; the edge knows it too (HSTS on https).
        Assert.Equal("{public-url.value}", Environment("identity")["Identity__Tokens__Issuer"]);
        Assert.Equal("{public-url.value}", Environment("gateway")["Gateway__PublicUrl"]);
        Assert.DoesNotContain("Security__ServiceKey", Environment("gateway").Keys);
        Assert.DoesNotContain("Security__ServiceKey", Environment("clockchain").Keys);
    }

    [Fact]
    public void The_published_edge_does_not_believe_a_client_s_X_Forwarded_For()
    {
        // ASPNETCORE_FORWARDEDHEADERS_ENABLED=true (what a publish gives every project) clears ASP.NET Core's known proxies and
        // networks: any client's X-Forwarded-For would become the connection address the edge's limits are keyed on.
        Assert.DoesNotContain("ASPNETCORE_FORWARDEDHEADERS_ENABLED", Environment("gateway").Keys);
        // Behind the edge it is harmless (only the edge reaches them) and left as Aspire writes it.
        Assert.Equal("true", Environment("identity")["ASPNETCORE_FORWARDEDHEADERS_ENABLED"]);
    }

    [Fact]
    public async Task The_published_model_has_the_gateway_s_replicas_and_every_service_s_health_check()
    {
        // What the manifest cannot say, the model a deployment tool (Aspire's Kubernetes or container-apps publishers) reads.
        var output = Directory.CreateTempSubdirectory("timepoint-publish-model-");
        try
        {
            await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Timepoint_AppHost>(
                ["--publisher", "manifest", "--output-path", output.FullName, "Gateway:Replicas=3"]);
            Assert.True(builder.ExecutionContext.IsPublishMode);
            var resources = builder.Resources.ToDictionary(r => r.Name);
            Assert.Equal(3, resources["gateway"].Annotations.OfType<ReplicaAnnotation>().Single().Replicas);
            foreach (var service in DeploymentFixture.Services)
            {
                Assert.IsType<ProjectResource>(resources[service]);
                Assert.NotEmpty(resources[service].Annotations.OfType<HealthCheckAnnotation>());
            }

            Assert.IsNotType<ExecutableResource>(resources["postgres"]);
            Assert.IsNotType<ExecutableResource>(resources["redis"]);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    private void Expect(string service, Dictionary<string, string> expected)
    {
        var environment = Environment(service);
        foreach (var (name, value) in expected)
        {
            Assert.True(environment.TryGetValue(name, out var actual), $"{service} gets no {name}");
            Assert.Equal(value, actual);
        }
    }

    private JsonElement Resource(string name) =>
        deployment.Manifest.TryGetProperty(name, out var resource) ? resource : throw new Xunit.Sdk.XunitException($"The manifest has no {name}.");

    private string? Type(string name) => Resource(name).GetProperty("type").GetString();

    private Dictionary<string, string> Environment(string service) => EnvironmentMapping.Environment(Resource(service));
}
