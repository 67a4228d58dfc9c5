using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>The caller's credits (<c>/api/v1/credits/*</c>).</summary>
public sealed class CreditsClient
{
    private readonly ICreditEndpoints endpoints;

    internal CreditsClient(ICreditEndpoints endpoints) => this.endpoints = endpoints;

    public Task<TimepointResponse<CreditBalance>> GetBalanceAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.BalanceAsync(cancellationToken));

    /// <summary>The ledger, newest first: <paramref name="limit"/> 1 to 100 (default 20).</summary>
    public Task<TimepointResponse<IReadOnlyList<CreditTransaction>>> GetHistoryAsync(int? limit = null, int? offset = null,
        CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.HistoryAsync(limit, offset, cancellationToken));

    /// <summary>What each operation costs (public).</summary>
    public Task<TimepointResponse<CreditCosts>> GetCostsAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.CostsAsync(cancellationToken));
}
