using Timepoint.Clockchain.Stub.Graph;

namespace Timepoint.Clockchain.Stub;

public static class ClockchainServices
{
    /// <summary>The moments graph, loaded and checked once, before the service starts (a bad data file stops it).</summary>
    public static IHostApplicationBuilder AddClockchainServices(this IHostApplicationBuilder builder)
    {
        // Malformed query values are the client's fault (400 problem) in every environment; Development would otherwise throw (500).
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = false);
        builder.Services.AddSingleton(MomentGraph.LoadEmbedded());
        return builder;
    }
}
