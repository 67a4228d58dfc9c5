using Timepoint.Pro.Stub.Simulations;

namespace Timepoint.Pro.Stub;

public static class ProServices
{
    public static IHostApplicationBuilder AddProServices(this IHostApplicationBuilder builder)
    {
        // Malformed bodies are the client's fault (400 problem) in every environment; Development would otherwise throw (500).
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = false);
        builder.Services.AddSingleton<SimulationStore>();
        return builder;
    }
}
