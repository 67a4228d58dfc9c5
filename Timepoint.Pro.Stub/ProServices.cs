using Timepoint.Pro.Stub.Simulations;

namespace Timepoint.Pro.Stub;

public static class ProServices
{
    public static IHostApplicationBuilder AddProServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SimulationStore>();
        return builder;
    }
}
