using Microsoft.AspNetCore.Http.HttpResults;

namespace Timepoint.Identity.Tokens;

/// <summary>Operator actions on token keys; never routed from outside (the edge refuses /internal/**).</summary>
public static class KeysApi
{
    public static WebApplication MapKeysApi(this WebApplication app)
    {
        app.MapPost("/internal/identity/keys/rotate", Rotate).RequireAdminKey();
        return app;
    }

    private static async Task<Ok<RotateResponse>> Rotate(SigningKeyStore store, CancellationToken ct)
    {
        var key = await store.RotateAsync(ct);
        return TypedResults.Ok(new RotateResponse(key.Id, key.NotBefore));
    }

    public sealed record RotateResponse(Guid KeyId, DateTimeOffset SignsFrom);
}
