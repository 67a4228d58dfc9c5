using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Timepoint.Credits.Tests;

/// <summary>
/// The credits service in memory on a fresh database of the shared test PostgreSQL server, one per test class.
/// Tests make their own users (new GUIDs), so they never see each other's data.
/// </summary>
public class CreditsApp : ServiceFactory<Program>, IAsyncLifetime
{
    public const string ConnectionStringKey = "ConnectionStrings:creditsdb";

    private NpgsqlDataSource? database;

    public HttpClient Client { get; private set; } = null!;

    /// <summary>Direct access to the service's database, to check what was (or was not) written.</summary>
    public NpgsqlDataSource Database => database!;

    public virtual async Task InitializeAsync()
    {
        if (!Settings.ContainsKey(ConnectionStringKey))
        {
            await UseDatabaseAsync("creditsdb");
        }

        Client = CreateClient();
        database = NpgsqlDataSource.Create(Settings[ConnectionStringKey]!);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        if (database is not null)
        {
            await database.DisposeAsync();
        }

        await DisposeAsync();
    }

    public HttpRequestMessage AsUser(HttpMethod method, string path, Guid userId) =>
        new HttpRequestMessage(method, path).Signed(GatewaySecret, userId);

    public Task<HttpResponseMessage> Service(HttpMethod method, string path, object? body = null) =>
        Send(method, path, body, "X-Service-Key", ServiceKey);

    public Task<HttpResponseMessage> Admin(HttpMethod method, string path, object? body = null) =>
        Send(method, path, body, "X-Admin-Key", AdminKey);

    public Task<HttpResponseMessage> Send(HttpMethod method, string path, object? body, string? header, string? key)
    {
        var request = new HttpRequestMessage(method, path);
        if (header is not null)
        {
            request.Headers.Add(header, key);
        }

        request.Content = body switch
        {
            null => null,
            string raw => new StringContent(raw, Encoding.UTF8, "application/json"),
            _ => JsonContent.Create(body),
        };
        return Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> Reserve(Guid userId, string operation, string? key = null, string? fingerprint = null) =>
        Service(HttpMethod.Post, "/internal/credits/reserve",
            new { user_id = userId, operation, idempotency_key = key, request_fingerprint = fingerprint });

    public async Task<JsonElement> ReserveOk(Guid userId, string operation, string? key = null, string? fingerprint = null)
    {
        using var response = await Reserve(userId, operation, key, fingerprint);
        return await Ok(response);
    }

    /// <summary>Opens the user's account (signup bonus of 50) through identity's route.</summary>
    public async Task<Guid> NewUser()
    {
        var userId = Guid.NewGuid();
        using var response = await Service(HttpMethod.Post, "/internal/credits/accounts", new { user_id = userId });
        await Ok(response);
        return userId;
    }

    public async Task<long> Balance(Guid userId)
    {
        using var response = await Client.SendAsync(AsUser(HttpMethod.Get, "/api/v1/credits/balance", userId));
        return (await Ok(response)).GetProperty("balance").GetInt64();
    }

    /// <summary>What the database holds for one user.</summary>
    public async Task<LedgerFacts> Facts(Guid userId)
    {
        await using var command = Database.CreateCommand("""
            SELECT (SELECT balance FROM accounts WHERE user_id = $1),
                   (SELECT coalesce(sum(amount), 0) FROM ledger WHERE user_id = $1),
                   (SELECT min(balance_after) FROM ledger WHERE user_id = $1),
                   (SELECT count(*) FROM ledger WHERE user_id = $1),
                   (SELECT count(*) FROM ledger WHERE user_id = $1 AND amount < 0),
                   (SELECT count(*) FROM ledger WHERE user_id = $1 AND type = 'refund'),
                   (SELECT count(*) FROM ledger WHERE user_id = $1 AND type = 'signup_bonus'),
                   (SELECT count(*) FROM reservations WHERE user_id = $1)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new LedgerFacts(
            reader.IsDBNull(0) ? null : reader.GetInt64(0),
            reader.GetInt64(1),
            reader.IsDBNull(2) ? null : reader.GetInt64(2),
            reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7));
    }

    public static async Task<JsonElement> Ok(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts a problem+json answer with the given status and code, and returns it.</summary>
    public static async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        return problem;
    }
}

/// <summary>A user's account and ledger as stored: <see cref="Balance"/> is null when there is no account.</summary>
public sealed record LedgerFacts(long? Balance, long LedgerSum, long? MinBalanceAfter, long Rows, long Debits, long Refunds,
    long SignupBonuses, long Reservations);
