using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>Pro Cloud simulations (<c>/api/v1/conductor/pro/*</c>), metered.</summary>
public sealed class ProClient
{
    private readonly IProEndpoints endpoints;

    internal ProClient(IProEndpoints endpoints) => this.endpoints = endpoints;

    /// <summary>
    /// Runs a simulation (15 credits). With an <paramref name="idempotencyKey"/>, a retry of the same request is not
    /// charged again and gets the first answer back.
    /// </summary>
    public Task<TimepointResponse<Simulation>> SimulateAsync(SimulateRequest request, string? idempotencyKey = null,
        CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.SimulateAsync(request, idempotencyKey, cancellationToken));
}
