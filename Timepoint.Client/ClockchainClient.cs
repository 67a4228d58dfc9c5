using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>The public graph of historical moments (<c>/api/v1/clockchain/*</c>), readable without credentials.</summary>
public sealed class ClockchainClient
{
    private readonly IClockchainEndpoints endpoints;

    internal ClockchainClient(IClockchainEndpoints endpoints) => this.endpoints = endpoints;

    public Task<TimepointResponse<ClockchainStats>> GetStatsAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.StatsAsync(cancellationToken));

    public Task<TimepointResponse<MomentPage>> SearchMomentsAsync(MomentQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new MomentQuery();
        return Answers.Of(endpoints.MomentsAsync(query.Limit, query.Offset, query.Q, query.YearFrom, query.YearTo, query.Entity, query.Sort,
            cancellationToken));
    }

    /// <summary>One moment by its canonical path (<c>1969/07/20/apollo-11-moon-landing</c>), with its edges.</summary>
    public Task<TimepointResponse<Moment>> GetMomentAsync(string path, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.MomentAsync(path.Trim('/'), cancellationToken));
}
