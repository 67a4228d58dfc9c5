using System.Buffers;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Downstream;
using Timepoint.ServiceDefaults;
using static Timepoint.Identity.ApiKeys.ApiKeyStore;

namespace Timepoint.Identity.ApiKeys;

/// <summary>
/// The caller's API keys (<c>/api/v1/auth/api-keys</c>, signed-in users only, never with an API key) and the gateway's
/// internal verification. The user is always the gateway-signed identity; a key of another user is not found.
/// </summary>
public static class ApiKeysApi
{
    public const int DefaultGraceSeconds = 86_400;
    public const int MaxGraceSeconds = 604_800;
    private const int MaxBodyBytes = 16 * 1024;
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;

    public static WebApplication MapApiKeysApi(this WebApplication app)
    {
        var keys = app.MapGroup("/api/v1/auth/api-keys").RequireJwtUser();
        keys.AddEndpointFilter((context, next) =>
        {
            // Secrets are in these answers; nothing between here and the client may keep them.
            context.HttpContext.Response.Headers.CacheControl = "no-store";
            return next(context);
        });
        keys.MapPost("/", Create).WithName("CreateApiKey").WithSummary("Creates an API key; its secret (key) is shown this once.").Accepts<ApiKeyCreateBody>("application/json").ProducesProblems(400, 413, 415, 422);
        keys.MapGet("/", List).WithName("ListApiKeys").WithSummary("The caller's API keys (never their secrets), with their limits and what is left of their credit caps.");
        keys.MapPatch("/{id}", ChangeLimits).WithName("ChangeApiKeyLimits").WithSummary("Changes an API key's rate limit and credit cap.").ProducesProblems(400, 404, 413, 415, 422);
        keys.MapDelete("/{id}", Revoke).WithName("RevokeApiKey").WithSummary("Revokes an API key at every edge replica at once.").ProducesProblems(404);
        keys.MapPost("/{id}/reroll", Reroll).WithName("RerollApiKey").WithSummary("A new secret for an API key; the old one works for grace_seconds more.").Accepts<ApiKeyRerollBody>(isOptional: true, "application/json")
            .ProducesProblems(400, 404, 413, 415, 422);
        keys.MapGet("/{id}/usage", Usage).WithName("GetApiKeyUsage").WithSummary("An API key's requests, refused requests and credits charged per day (from..to, at most 92 days).").ProducesProblems(404, 422);

        // The gateway's question; /internal/** is refused at the edge and this needs identity's own service key.
        app.MapPost("/internal/identity/api-keys/verify", Verify).RequireServiceKey();
        return app;
    }

    private static async Task<Results<Created<CreatedApiKey>, ProblemHttpResult>> Create(
        HttpRequest request, ClaimsPrincipal caller, ApiKeyStore store, IOptions<ApiKeyOptions> options, TimeProvider clock, CancellationToken ct)
    {
        var (body, problem) = await ReadObjectAsync(request, optional: false, ct);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new Dictionary<string, string[]>();
        string? name = null;
        string[] scopes = [ApiKeyScopes.Read];
        DateTimeOffset? expiresAt = null;
        var limits = KeyLimits.None;
        foreach (var property in body.EnumerateObject())
        {
            if (errors.ContainsKey(property.Name))
            {
                continue;
            }

            if (ParseLimit(property, options.Value, ref limits, errors))
            {
                continue;
            }

            switch (property.Name)
            {
                case "name":
                    name = ParseName(property.Value, errors);
                    break;
                case "scopes":
                    scopes = ParseScopes(property.Value, errors) ?? scopes;
                    break;
                case "expires_at":
                    expiresAt = ParseExpiry(property.Value, clock.GetUtcNow(), options.Value.MaxLifetime, errors);
                    break;
                default:
                    errors[property.Name] = ["Unknown member; a key takes name, scopes, expires_at, rate_limit_per_minute and credit_limit."];
                    break;
            }
        }

        if (name is null && !errors.ContainsKey("name"))
        {
            errors["name"] = ["name is required."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation("The API key was not created.", errors);
        }

        var (outcome, key) = await store.CreateAsync(caller.GetUserId()!.Value, name!, scopes, expiresAt, limits, ct);
        return outcome switch
        {
            Outcome.Done => TypedResults.Created((string?)null, key),
            Outcome.LimitReached => Problems.Validation(
                $"A user may hold at most {options.Value.MaxActivePerUser} working API keys, keys in a reroll's grace period included; revoke one first."),
            Outcome.Disabled => Problems.Forbidden("The account is disabled."),
            _ => Problems.NotFound("The account no longer exists."),
        };
    }

    /// <summary>
    /// The caller's keys with their limits and, for a capped key, what is left of its cap in the current period (asked of
    /// credits, which holds the money; null when credits cannot answer right now).
    /// </summary>
    private static async Task<Ok<ApiKeyView[]>> List(ClaimsPrincipal caller, ApiKeyStore store, ICreditsInternalApi credits,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var userId = caller.GetUserId()!.Value;
        var keys = await store.ListAsync(userId, ct);
        if (!keys.Any(k => k.CreditLimit is not null))
        {
            return TypedResults.Ok(keys);
        }

        Dictionary<Guid, JsonElement> spending;
        try
        {
            spending = (await credits.KeySpendingAsync(userId, ct)).EnumerateArray()
                .ToDictionary(s => s.GetProperty("api_key_id").GetGuid());
        }
        // Any failure (refused, timed out, circuit open): the list still answers, without what is left of the caps.
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            loggers.CreateLogger(typeof(ApiKeysApi)).LogWarning("Could not read API-key spending from credits: {Error}", ex.Message);
            return TypedResults.Ok(keys);
        }

        return TypedResults.Ok(keys.Select(k => k.CreditLimit is { } cap
            ? k with
            {
                CreditRemaining = Math.Max(0, cap.Amount - (spending.TryGetValue(k.Id, out var spent) ? spent.GetProperty(cap.Period).GetInt64() : 0)),
            }
            : k).ToArray());
    }

    /// <summary><c>rate_limit_per_minute</c> and/or <c>credit_limit</c> of an active key (null clears one); nothing else.</summary>
    private static async Task<Results<Ok<ApiKeyView>, ProblemHttpResult>> ChangeLimits(
        string id, HttpRequest request, ClaimsPrincipal caller, ApiKeyStore store, IOptions<ApiKeyOptions> options, CancellationToken ct)
    {
        var (body, problem) = await ReadObjectAsync(request, optional: false, ct);
        if (problem is not null)
        {
            return problem;
        }

        var limits = KeyLimits.None;
        var errors = new Dictionary<string, string[]>();
        foreach (var property in body.EnumerateObject())
        {
            if (!ParseLimit(property, options.Value, ref limits, errors))
            {
                errors[property.Name] = ["This member cannot be changed here; a key's rate_limit_per_minute and credit_limit can."];
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Validation("The API key was not changed.", errors);
        }

        if (!Guid.TryParse(id, out var keyId))
        {
            return KeyNotFound();
        }

        var (outcome, key) = await store.ChangeLimitsAsync(caller.GetUserId()!.Value, keyId, limits, ct);
        return outcome switch
        {
            Outcome.Done => TypedResults.Ok(key!),
            Outcome.NotActive => Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Conflict",
                "Only an active key's limits can change; this one is revoked, expired or rerolled."),
            _ => KeyNotFound(),
        };
    }

    /// <summary>
    /// One key's usage per UTC day (every day of the range, zeros included): the requests and refusals the edge counted,
    /// and the credits its calls were charged (credits' reservations that were not refunded).
    /// </summary>
    private static async Task<Results<Ok<ApiKeyUsageReport>, ProblemHttpResult>> Usage(string id, string? from, string? to,
        ClaimsPrincipal caller, ApiKeyStore store, ICreditsInternalApi credits, TimeProvider clock, CancellationToken ct)
    {
        if (!UsageRange.TryParse(from, to, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), out var range, out var field, out var error))
        {
            return Problems.Validation(field, error);
        }

        var userId = caller.GetUserId()!.Value;
        if (!Guid.TryParse(id, out var keyId) || await store.FindAsync(userId, keyId, ct) is null)
        {
            return KeyNotFound();
        }

        var answer = await credits.KeyUsageAsync(userId, keyId, Iso(range.From), Iso(range.To), ct);
        ApiKeyUsageDay[] days = [.. answer.EnumerateArray().Select(d => new ApiKeyUsageDay(
            DateOnly.ParseExact(d.GetProperty("date").GetString()!, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            d.GetProperty("requests").GetInt64(), d.GetProperty("refused").GetInt64(), d.GetProperty("credits_charged").GetInt64()))];
        return TypedResults.Ok(new ApiKeyUsageReport(keyId, range.From, range.To, days,
            new ApiKeyUsageTotals(days.Sum(d => d.Requests), days.Sum(d => d.Refused), days.Sum(d => d.CreditsCharged))));
    }

    private static string Iso(DateOnly date) => date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Reads <c>rate_limit_per_minute</c> (a whole number from 1 to the owner's own limit, or null for none) and
    /// <c>credit_limit</c> (<c>{"amount", "period"}</c>, or null for none) into <paramref name="limits"/>; false for any other member.
    /// </summary>
    private static bool ParseLimit(JsonProperty property, ApiKeyOptions options, ref KeyLimits limits, Dictionary<string, string[]> errors)
    {
        var value = property.Value;
        switch (property.Name)
        {
            case "rate_limit_per_minute":
                if (value.ValueKind == JsonValueKind.Null)
                {
                    limits = limits with { SetRateLimit = true, RateLimitPerMinute = null };
                }
                else if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var perMinute)
                    && perMinute >= 1 && perMinute <= options.MaxRateLimitPerMinute)
                {
                    limits = limits with { SetRateLimit = true, RateLimitPerMinute = perMinute };
                }
                else
                {
                    errors["rate_limit_per_minute"] = [$"rate_limit_per_minute must be a whole number from 1 to {options.MaxRateLimitPerMinute} "
                        + "(the owner's own limit), or null for none."];
                }

                return true;
            case "credit_limit":
                if (value.ValueKind == JsonValueKind.Null)
                {
                    limits = limits with { SetCreditLimit = true, CreditLimit = null };
                }
                else if (ParseCreditLimit(value, errors) is { } cap)
                {
                    limits = limits with { SetCreditLimit = true, CreditLimit = cap };
                }

                return true;
            default:
                return false;
        }
    }

    private static KeyCreditLimit? ParseCreditLimit(JsonElement value, Dictionary<string, string[]> errors)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            errors["credit_limit"] = ["credit_limit must be {\"amount\": n, \"period\": \"day\" | \"month\" | \"total\"}, or null for none."];
            return null;
        }

        long? amount = null;
        string? period = null;
        foreach (var member in value.EnumerateObject())
        {
            switch (member.Name)
            {
                case "amount" when member.Value.ValueKind == JsonValueKind.Number && member.Value.TryGetInt64(out var credits)
                    && credits is >= 1 and <= KeyCreditLimit.MaxAmount:
                    amount = credits;
                    break;
                case "amount":
                    errors["credit_limit.amount"] = [$"credit_limit.amount must be a whole number of credits from 1 to {KeyCreditLimit.MaxAmount}."];
                    break;
                case "period" when member.Value.ValueKind == JsonValueKind.String && KeyCreditLimit.Periods.Contains(member.Value.GetString()):
                    period = member.Value.GetString();
                    break;
                case "period":
                    errors["credit_limit.period"] = [$"credit_limit.period must be one of: {string.Join(", ", KeyCreditLimit.Periods)}."];
                    break;
                default:
                    errors[$"credit_limit.{(member.Name.Length > 32 ? member.Name[..32] : member.Name)}"] = ["Unknown member; a credit limit has amount and period."];
                    break;
            }
        }

        if (amount is null && !errors.ContainsKey("credit_limit.amount"))
        {
            errors["credit_limit.amount"] = ["credit_limit.amount is required."];
        }

        if (period is null && !errors.ContainsKey("credit_limit.period"))
        {
            errors["credit_limit.period"] = ["credit_limit.period is required."];
        }

        return amount is { } a && period is { } p && !errors.Keys.Any(k => k.StartsWith("credit_limit", StringComparison.Ordinal))
            ? new KeyCreditLimit(a, p)
            : null;
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(string id, ClaimsPrincipal caller, ApiKeyStore store, CancellationToken ct) =>
        Guid.TryParse(id, out var keyId) && await store.RevokeAsync(caller.GetUserId()!.Value, keyId, ct) == Outcome.Done
            ? TypedResults.NoContent()
            : KeyNotFound();

    private static async Task<Results<Ok<RerolledApiKey>, ProblemHttpResult>> Reroll(
        string id, HttpRequest request, ClaimsPrincipal caller, ApiKeyStore store, IOptions<ApiKeyOptions> options, CancellationToken ct)
    {
        var (body, problem) = await ReadObjectAsync(request, optional: true, ct);
        if (problem is not null)
        {
            return problem;
        }

        var grace = DefaultGraceSeconds;
        foreach (var property in body.EnumerateObject())
        {
            if (property.Name == "grace_seconds" && property.Value.ValueKind == JsonValueKind.Number
                && property.Value.TryGetInt32(out var seconds) && seconds is >= 0 and <= MaxGraceSeconds)
            {
                grace = seconds;
            }
            else
            {
                return Problems.Validation(property.Name, property.Name == "grace_seconds"
                    ? $"grace_seconds must be a whole number from 0 to {MaxGraceSeconds}."
                    : "Unknown member; a reroll takes only grace_seconds.");
            }
        }

        if (!Guid.TryParse(id, out var keyId))
        {
            return KeyNotFound();
        }

        var (outcome, key) = await store.RerollAsync(caller.GetUserId()!.Value, keyId, TimeSpan.FromSeconds(grace), ct);
        return outcome switch
        {
            Outcome.Done => TypedResults.Ok(key),
            Outcome.LimitReached => Problems.Validation(
                $"A user may hold at most {options.Value.MaxActivePerUser} working API keys, keys in a reroll's grace period included; "
                + "revoke one first, or reroll with grace_seconds 0."),
            Outcome.NotActive => Problems.Create(StatusCodes.Status409Conflict, ErrorCodes.Conflict, "Conflict",
                "Only an active key can be rerolled; this one is revoked, expired or already rerolled."),
            _ => KeyNotFound(),
        };
    }

    /// <summary>Service: always 200 for a well-formed request, with the verdict in the body.</summary>
    private static async Task<Results<Ok<VerifiedKey>, Ok<RefusedKey>, ProblemHttpResult>> Verify(
        HttpRequest request, ApiKeyStore store, CancellationToken ct)
    {
        var (body, problem) = await ReadObjectAsync(request, optional: false, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (!body.TryGetProperty("key", out var key) || key.ValueKind != JsonValueKind.String)
        {
            return Problems.Validation("key", "key must be a string.");
        }

        var verdict = await store.VerifyAsync(key.GetString(), ct);
        return verdict is VerifiedKey verified ? TypedResults.Ok(verified) : TypedResults.Ok((RefusedKey)verdict);
    }

    // The same answer for an unknown id and another user's key, so ids of other users' keys cannot be probed.
    private static ProblemHttpResult KeyNotFound() => Problems.NotFound("No such API key.");

    private static string? ParseName(JsonElement value, Dictionary<string, string[]> errors)
    {
        if (value.ValueKind == JsonValueKind.String && value.GetString()!.Trim() is { Length: >= 1 and <= 100 } name && !name.Any(char.IsControl))
        {
            return name;
        }

        errors["name"] = ["name must be a string of 1 to 100 characters."];
        return null;
    }

    private static string[]? ParseScopes(JsonElement value, Dictionary<string, string[]> errors)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0
            || value.EnumerateArray().Any(s => s.ValueKind != JsonValueKind.String))
        {
            errors["scopes"] = [$"scopes must be a non-empty array of: {string.Join(", ", ApiKeyScopes.Grantable)}."];
            return null;
        }

        var asked = value.EnumerateArray().Select(s => s.GetString()!).ToHashSet(StringComparer.Ordinal);
        if (asked.Contains(ApiKeyScopes.Admin))
        {
            errors["scopes"] = ["The admin scope cannot be granted to an API key."];
            return null;
        }

        if (asked.Except(ApiKeyScopes.Grantable).FirstOrDefault() is { } unknown)
        {
            errors["scopes"] = [$"Unknown scope '{(unknown.Length > 32 ? unknown[..32] : unknown)}'; scopes are: {string.Join(", ", ApiKeyScopes.Grantable)}."];
            return null;
        }

        return [.. ApiKeyScopes.Grantable.Where(asked.Contains)];
    }

    private static DateTimeOffset? ParseExpiry(JsonElement value, DateTimeOffset now, TimeSpan maxLifetime, Dictionary<string, string[]> errors)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || !value.TryGetDateTimeOffset(out var expiresAt))
        {
            errors["expires_at"] = ["expires_at must be an ISO 8601 date and time, or null."];
        }
        else if (expiresAt <= now)
        {
            errors["expires_at"] = ["expires_at must be in the future."];
        }
        else if (expiresAt > now + maxLifetime)
        {
            errors["expires_at"] = [$"expires_at may be at most {maxLifetime.TotalDays:0} days ahead."];
        }
        else
        {
            return AtMicroseconds(expiresAt);
        }

        return null;
    }

    /// <summary>The body as one JSON object; problems are <c>validation_failed</c> (400 bad JSON, 413, 415, 422).</summary>
    private static async Task<(JsonElement Body, ProblemHttpResult? Problem)> ReadObjectAsync(HttpRequest request, bool optional, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxBodyBytes + 1);
        try
        {
            int length = 0, read;
            while (length <= MaxBodyBytes && (read = await request.Body.ReadAsync(buffer.AsMemory(length, MaxBodyBytes + 1 - length), ct)) > 0)
            {
                length += read;
            }

            if (length > MaxBodyBytes)
            {
                return (default, Problems.Validation($"The body may be at most {MaxBodyBytes} bytes.", status: StatusCodes.Status413PayloadTooLarge));
            }

            if (buffer.AsSpan(0, length).Trim(" \t\r\n"u8).IsEmpty)
            {
                return optional ? (EmptyObject, null) : (default, Problems.Validation("A JSON object body is required."));
            }

            if (!request.HasJsonContentType())
            {
                return (default, Problems.Validation("The body must be application/json.", status: StatusCodes.Status415UnsupportedMediaType));
            }

            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? (document.RootElement.Clone(), null)
                : (default, Problems.Validation("The body must be a JSON object."));
        }
        catch (JsonException)
        {
            return (default, Problems.Validation("The body is not valid JSON.", status: StatusCodes.Status400BadRequest));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
