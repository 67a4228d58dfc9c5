using Timepoint.Clockchain.Stub.Graph;

namespace Timepoint.Clockchain.Stub;

public static class ClockchainServices
{
    /// <summary>The moments graph, loaded and checked once, before the service starts (a bad data file stops it).</summary>
    public static IHostApplicationBuilder AddClockchainServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(MomentGraph.LoadEmbedded());
        return builder;
    }
}
