using Yarp.ReverseProxy.Configuration;

// The reference the edge is compared with: YARP and nothing else (no auth, limits, telemetry or header work),
// the same two routes in front of the same backends. Clockchain:Address and Flash:Address name them.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddReverseProxy().LoadFromMemory(
    [
        new RouteConfig
        {
            RouteId = "clockchain", ClusterId = "clockchain", Match = new() { Path = "/api/v1/clockchain/{**rest}" },
            Transforms = [new Dictionary<string, string> { ["PathPattern"] = "/api/v1/{**rest}" }],
        },
        new RouteConfig { RouteId = "flash", ClusterId = "flash", Match = new() { Path = "/api/v1/timepoints/{**rest}" } },
    ],
    [
        new ClusterConfig { ClusterId = "clockchain", Destinations = new Dictionary<string, DestinationConfig> { ["d"] = new() { Address = builder.Configuration["Clockchain:Address"]! } } },
        new ClusterConfig { ClusterId = "flash", Destinations = new Dictionary<string, DestinationConfig> { ["d"] = new() { Address = builder.Configuration["Flash:Address"]! } } },
    ]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();
