using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>The caller's API keys (<c>/api/v1/auth/api-keys</c>): signed-in users only, never with an API key.</summary>
public sealed class ApiKeysClient
{
    private readonly IApiKeyEndpoints endpoints;

    internal ApiKeysClient(IApiKeyEndpoints endpoints) => this.endpoints = endpoints;

    /// <summary>A new key; its secret is in the answer and nowhere else, ever.</summary>
    public Task<TimepointResponse<CreatedApiKey>> CreateAsync(CreateApiKeyRequest request, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.CreateAsync(request, cancellationToken));

    /// <summary>Every key of the caller, revoked ones too, without secrets.</summary>
    public Task<TimepointResponse<IReadOnlyList<ApiKey>>> ListAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.ListAsync(cancellationToken));

    /// <summary>A new secret for the key; the old one keeps working for <paramref name="graceSeconds"/> (default one day).</summary>
    public Task<TimepointResponse<RerolledApiKey>> RerollAsync(Guid id, int? graceSeconds = null, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.RerollAsync(id, new RerollApiKeyRequest(graceSeconds), cancellationToken));

    /// <summary>Revokes the key at once, on every gateway.</summary>
    public Task<TimepointResponse> RevokeAsync(Guid id, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.RevokeAsync(id, cancellationToken));
}
