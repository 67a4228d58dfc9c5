using Refit;

namespace Timepoint.Client.Endpoints;

// The edge's public routes (docs/contract.md section 2), as Refit declares them. Every answer comes back whole
// (IApiResponse) so the groups can read its headers and turn a refusal into a TimepointApiException.

internal interface IAuthEndpoints
{
    [Post("/api/v1/auth/demo")]
    Task<IApiResponse<TokenPair>> DemoAsync(CancellationToken cancellationToken);

    [Post("/api/v1/auth/apple")]
    Task<IApiResponse<TokenPair>> AppleAsync([Body] AppleSignIn body, CancellationToken cancellationToken);

    [Post("/api/v1/auth/google")]
    Task<IApiResponse<TokenPair>> GoogleAsync([Body] GoogleSignIn body, CancellationToken cancellationToken);

    [Post("/api/v1/auth/github")]
    Task<IApiResponse<TokenPair>> GitHubAsync([Body] GitHubSignIn body, CancellationToken cancellationToken);

    [Post("/api/v1/auth/refresh")]
    Task<IApiResponse<TokenPair>> RefreshAsync([Body] RefreshRequest body, CancellationToken cancellationToken);

    [Post("/api/v1/auth/logout")]
    Task<IApiResponse<LogoutResult>> LogoutAsync(CancellationToken cancellationToken);

    [Get("/api/v1/auth/me")]
    Task<IApiResponse<UserProfile>> MeAsync(CancellationToken cancellationToken);

    [Delete("/api/v1/auth/me")]
    Task<IApiResponse> DeleteMeAsync(CancellationToken cancellationToken);
}

internal sealed record AppleSignIn(string IdentityToken);

internal sealed record GoogleSignIn(string IdToken);

internal sealed record GitHubSignIn(string Code, string RedirectUri, string? CodeVerifier);

internal sealed record RefreshRequest(string RefreshToken);

internal interface IUserEndpoints
{
    [Get("/api/v1/users/me")]
    Task<IApiResponse<UserProfile>> GetAsync(CancellationToken cancellationToken);

    [Patch("/api/v1/users/me")]
    Task<IApiResponse<UserProfile>> UpdateAsync([Body] ProfileUpdate body, CancellationToken cancellationToken);

    [Get("/api/v1/users/me/export")]
    Task<IApiResponse<UserExport>> ExportAsync(CancellationToken cancellationToken);
}

internal interface IApiKeyEndpoints
{
    [Post("/api/v1/auth/api-keys")]
    Task<IApiResponse<CreatedApiKey>> CreateAsync([Body] CreateApiKeyRequest body, CancellationToken cancellationToken);

    [Get("/api/v1/auth/api-keys")]
    Task<IApiResponse<IReadOnlyList<ApiKey>>> ListAsync(CancellationToken cancellationToken);

    [Post("/api/v1/auth/api-keys/{id}/reroll")]
    Task<IApiResponse<RerolledApiKey>> RerollAsync(Guid id, [Body] RerollApiKeyRequest body, CancellationToken cancellationToken);

    [Delete("/api/v1/auth/api-keys/{id}")]
    Task<IApiResponse> RevokeAsync(Guid id, CancellationToken cancellationToken);
}

internal interface ICreditEndpoints
{
    [Get("/api/v1/credits/balance")]
    Task<IApiResponse<CreditBalance>> BalanceAsync(CancellationToken cancellationToken);

    [Get("/api/v1/credits/history")]
    Task<IApiResponse<IReadOnlyList<CreditTransaction>>> HistoryAsync(int? limit, int? offset, CancellationToken cancellationToken);

    [Get("/api/v1/credits/costs")]
    Task<IApiResponse<CreditCosts>> CostsAsync(CancellationToken cancellationToken);
}

internal interface ITimepointEndpoints
{
    [Post("/api/v1/timepoints/generate/sync")]
    Task<IApiResponse<Timepoint>> GenerateSyncAsync(
        [Body] GenerateRequest body, [Header("Idempotency-Key")] string? idempotencyKey, CancellationToken cancellationToken);

    [Post("/api/v1/timepoints/generate")]
    Task<IApiResponse<GenerationAccepted>> GenerateAsync(
        [Body] GenerateRequest body, [Header("Idempotency-Key")] string? idempotencyKey, CancellationToken cancellationToken);

    [Get("/api/v1/timepoints/{id}")]
    Task<IApiResponse<Timepoint>> GetAsync(Guid id, CancellationToken cancellationToken);

    [Get("/api/v1/timepoints")]
    Task<IApiResponse<TimepointPage>> ListAsync(int? limit, int? offset, CancellationToken cancellationToken);

    [Delete("/api/v1/timepoints/{id}")]
    Task<IApiResponse> DeleteAsync(Guid id, CancellationToken cancellationToken);
}

internal interface IClockchainEndpoints
{
    [Get("/api/v1/clockchain/stats")]
    Task<IApiResponse<ClockchainStats>> StatsAsync(CancellationToken cancellationToken);

    [Get("/api/v1/clockchain/moments")]
    Task<IApiResponse<MomentPage>> MomentsAsync(
        int? limit, int? offset, string? q, [AliasAs("year_from")] int? yearFrom, [AliasAs("year_to")] int? yearTo, string? entity,
        string? sort, CancellationToken cancellationToken);

    [Get("/api/v1/clockchain/moments/{**path}")]
    Task<IApiResponse<Moment>> MomentAsync(string path, CancellationToken cancellationToken);
}

internal interface IProEndpoints
{
    [Post("/api/v1/conductor/pro/simulate")]
    Task<IApiResponse<Simulation>> SimulateAsync(
        [Body] SimulateRequest body, [Header("Idempotency-Key")] string? idempotencyKey, CancellationToken cancellationToken);
}
