using Microsoft.Extensions.Configuration;
using Timepoint.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

// PostgreSQL and Redis: containers when a container runtime answers, else this machine's own binaries.
var infrastructure = builder.AddInfrastructure();
var redis = infrastructure.Redis;
var identityDb = infrastructure.AddDatabase("identitydb");
var creditsDb = infrastructure.AddDatabase("creditsdb");
var flashDb = infrastructure.AddDatabase("flashdb");

var signingSecret = builder.AddSecret("gateway-signing-secret");
var identityKeys = builder.AddServiceKeys("identity");
var creditsKeys = builder.AddServiceKeys("credits");
var flashKeys = builder.AddServiceKeys("flash");
var proKeys = builder.AddServiceKeys("pro");

// The edge: the only resource clients reach (http://localhost:5080, from its launch profile).
var gateway = builder.AddProject<Projects.Timepoint_Gateway>("gateway")
    .WithExternalHttpEndpoints()
    // A publish would otherwise set ASPNETCORE_FORWARDEDHEADERS_ENABLED, which believes any client's X-Forwarded-For.
    .DisableForwardedHeaders()
    .WithReplicas(builder.Configuration.GetValue("Gateway:Replicas", 1))
    .WithNamedUrls("Edge API").WithApiReferenceUrl();
// Where clients know the edge by (the parameter public-url; by default the edge's local endpoint above).
var publicUrl = builder.AddPublicUrl(gateway);

var credits = builder.AddProject<Projects.Timepoint_Credits>("credits")
    .WithReference(creditsDb).WaitFor(creditsDb)
    .WithGatewayTrust(signingSecret)
    .WithOwnKeys(creditsKeys)
    .WithHttpHealthCheck("/health")
    .WithNamedUrls("Credits (internal)")
    .WithGrantCreditsCommand(creditsKeys);

var flash = builder.AddProject<Projects.Timepoint_Flash_Stub>("flash")
    .WithReference(flashDb).WaitFor(flashDb)
    .WithGatewayTrust(signingSecret)
    .WithOwnKeys(flashKeys)
    .WithFailureInjection(builder.Configuration)
    .WithHttpHealthCheck("/health")
    .WithNamedUrls("Flash (backend)").WithParentRelationship(gateway);

var clockchain = builder.AddProject<Projects.Timepoint_Clockchain_Stub>("clockchain")
    .WithGatewayTrust(signingSecret)
    .WithHttpHealthCheck("/health")
    .WithNamedUrls("Clockchain (backend)").WithParentRelationship(gateway);

var pro = builder.AddProject<Projects.Timepoint_Pro_Stub>("pro")
    .WithGatewayTrust(signingSecret)
    .WithOwnKeys(proKeys)
    .WithHttpHealthCheck("/health")
    .WithNamedUrls("Pro (backend)").WithParentRelationship(gateway);

var identity = builder.AddProject<Projects.Timepoint_Identity>("identity")
    .WithReference(identityDb).WaitFor(identityDb)
    .WithReference(redis).WaitFor(redis)
    .WithReference(credits).WithServiceKeyFor("credits", creditsKeys)
    .WithReference(flash).WithServiceKeyFor("flash", flashKeys)
    .WithReference(pro).WithServiceKeyFor("pro", proKeys)
    .WithGatewayTrust(signingSecret)
    .WithOwnKeys(identityKeys)
    // Tokens, discovery and provider callbacks name the public URL: it is where clients find the edge.
    .WithPublicUrl(publicUrl, "Identity:Tokens:Issuer")
    .WithSignInProviders(builder)
    .WithHttpHealthCheck("/health")
    .WithNamedUrls("Identity (internal)")
    .WithRevokeSessionsCommand(identityKeys)
    .WithDisableUserCommands(identityKeys)
    .WithSetTierCommand(identityKeys)
    .WithRotateSigningKeyCommand(identityKeys)
    .WithResetDemoDataCommand(identityKeys)
    .WithRetryOutboxCommand(identityKeys);

gateway
    .WithReference(redis).WaitFor(redis)
    .WithReference(identity).WaitFor(identity).WithServiceKeyFor("identity", identityKeys)
    .WithReference(credits).WaitFor(credits).WithServiceKeyFor("credits", creditsKeys)
    .WithReference(flash).WaitFor(flash)
    .WithReference(clockchain).WaitFor(clockchain)
    .WithReference(pro).WaitFor(pro)
    .WithGatewayTrust(signingSecret)
    .WithPublicUrl(publicUrl, "Gateway:PublicUrl")
    .WithSettingFrom(builder.Configuration, "Gateway:UpstreamTimeout")
    .WithFailureInjectionForwarded(builder.Configuration)
    .WithHttpHealthCheck("/health");

builder.Build().Run();
