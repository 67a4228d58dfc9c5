using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Timepoint.Soak;

/// <summary>A user with a real token pair, minted through the edge.</summary>
public sealed record User(Guid Id, string AccessToken, string RefreshToken);

/// <summary>What the soak needs of a running platform (the test fixture, or bench/soak's own AppHost).</summary>
public interface IPlatform
{
    /// <summary>A client of the edge on connections of its own.</summary>
    HttpClient NewClient();

    Task<User> NewUserAsync();

    /// <summary>Adds credits to a user's balance (credits' admin grant through the edge).</summary>
    Task GrantAsync(Guid user, long credits);

    Task StopAsync(string resource);

    Task StartAsync(string resource);

    Task<LedgerReport> CheckLedgerAsync(IEnumerable<Guid> users, bool allowOpen = false);
}

public static class Platform
{
    /// <summary>A new user with a real token pair, from the admin dev-token route through the edge (again: a new session).</summary>
    public static async Task<User> NewUserAsync(HttpClient gateway, string identityAdminKey, string? email = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/dev/token")
            {
                Content = JsonContent.Create(new { email = email ?? $"sec-{Guid.NewGuid():N}@example.test", display_name = "Security" }),
            };
            request.Headers.Add("X-Admin-Key", identityAdminKey);
            using var response = await gateway.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                var token = body.GetProperty("access_token").GetString()!;
                return new User(SubjectOf(token), token, body.GetProperty("refresh_token").GetString()!);
            }

            // A cold identity on a busy machine may miss the edge's upstream timeout once; minting is set-up, not the test.
            if ((int)response.StatusCode < 500 || attempt == 5)
            {
                throw new InvalidOperationException($"dev/token answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    public static async Task GrantAsync(HttpClient gateway, string creditsAdminKey, Guid user, long credits)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/credits/admin/grant")
        {
            Content = JsonContent.Create(new { user_id = user, amount = credits, description = "soak funding" }),
        };
        request.Headers.Add("X-Admin-Key", creditsAdminKey);
        using var response = await gateway.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"grant answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    public static Guid SubjectOf(string jwt)
    {
        var payload = Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(jwt.Split('.')[1]));
        return JsonDocument.Parse(payload).RootElement.GetProperty("sub").GetGuid();
    }

    /// <summary>A request carrying the user's access token.</summary>
    public static HttpRequestMessage As(User user, HttpMethod method, string path, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.AccessToken);
        if (json is not null)
        {
            request.Content = JsonContent.Create(json);
        }

        return request;
    }

    public static async Task<long> BalanceAsync(HttpClient gateway, User user)
    {
        using var response = await gateway.SendAsync(As(user, HttpMethod.Get, "/api/v1/credits/balance"));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("balance").GetInt64();
    }
}

/// <summary>The money invariants, read from creditsdb itself.</summary>
public sealed record LedgerReport(int Users, int Reservations, int Open, IReadOnlyList<string> Violations, int Refunded = 0)
{
    public bool Holds => Violations.Count == 0;

    public override string ToString() =>
        $"{Users} users, {Reservations} reservations ({Reservations - Refunded - Open} settled, {Refunded} refunded, {Open} open): "
        + (Holds ? "all invariants hold" : string.Join("; ", Violations.Take(20)) + (Violations.Count > 20 ? $" and {Violations.Count - 20} more" : ""));
}

public static class Ledger
{
    /// <summary>
    /// For each user: balance == ledger sum, balance >= 0, every ledger row's balance_after >= 0; every reservation has exactly
    /// one debit of its amount, a refund row exactly when it is refunded (never two), and none is still open unless allowed.
    /// </summary>
    public static async Task<LedgerReport> CheckAsync(string connectionString, IEnumerable<Guid> users, bool allowOpen)
    {
        var ids = users.Distinct().ToArray();
        var violations = new List<string>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();

        await using (var sums = new NpgsqlCommand("""
            SELECT a.user_id, a.balance, COALESCE((SELECT SUM(l.amount) FROM ledger l WHERE l.user_id = a.user_id), 0),
                   (SELECT COUNT(*) FROM ledger l WHERE l.user_id = a.user_id AND l.balance_after < 0)
            FROM accounts a WHERE a.user_id = ANY(@ids)
            """, connection))
        {
            sums.Parameters.AddWithValue("ids", ids);
            await using var reader = await sums.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var (user, balance, sum, negative) = (reader.GetGuid(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
                if (balance != sum)
                {
                    violations.Add($"user {user}: balance {balance} != ledger sum {sum}");
                }

                if (balance < 0 || negative > 0)
                {
                    violations.Add($"user {user}: negative balance");
                }
            }
        }

        int reservations = 0, open = 0, refunded = 0;
        await using (var rows = new NpgsqlCommand("""
            SELECT r.id, r.status, r.amount,
                   (SELECT COUNT(*) FROM ledger l WHERE l.reservation_id = r.id AND l.amount < 0),
                   (SELECT COALESCE(SUM(-l.amount), 0) FROM ledger l WHERE l.reservation_id = r.id AND l.amount < 0),
                   (SELECT COUNT(*) FROM ledger l WHERE l.reservation_id = r.id AND l.amount > 0)
            FROM reservations r WHERE r.user_id = ANY(@ids)
            """, connection))
        {
            rows.Parameters.AddWithValue("ids", ids);
            await using var reader = await rows.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                reservations++;
                var (id, status, amount, debits, debited, refunds) =
                    (reader.GetGuid(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
                if (debits != 1 || debited != amount)
                {
                    violations.Add($"reservation {id}: {debits} debit rows for {debited}, expected one of {amount}");
                }

                refunded += status == "refunded" ? 1 : 0;
                if (refunds != (status == "refunded" ? 1 : 0))
                {
                    violations.Add($"reservation {id}: status {status} with {refunds} refund rows");
                }

                if (status == "reserved")
                {
                    open++;
                    if (!allowOpen)
                    {
                        violations.Add($"reservation {id}: still open");
                    }
                }
            }
        }

        return new LedgerReport(ids.Length, reservations, open, violations, refunded);
    }
}

/// <summary>Outcome of a soak: answers by kind, the faults injected, and the invariant check.</summary>
public sealed class SoakResult
{
    public ConcurrentDictionary<string, int> Answers { get; } = new();

    public ConcurrentQueue<string> Faults { get; } = new();

    public ConcurrentQueue<string> Unexpected { get; } = new();

    public int Requests => Answers.Values.Sum();

    public TimeSpan Elapsed { get; set; }

    public LedgerReport? Ledger { get; set; }

    /// <summary>Answers that are neither a success nor an answer the contract promises for the fault in force.</summary>
    public int Errors => Unexpected.Count;

    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;

    public string Report(double budget)
    {
        var text = new StringBuilder();
        text.AppendLine($"soak: {Requests} requests in {Elapsed.TotalSeconds:F0} s ({Requests / Math.Max(1, Elapsed.TotalSeconds):F0}/s)");
        foreach (var (kind, count) in Answers.OrderBy(a => a.Key))
        {
            text.AppendLine($"  {kind,-40} {count}");
        }

        text.AppendLine($"faults: {string.Join(", ", Faults)}");
        text.AppendLine($"invariants: {Ledger}");
        text.AppendLine($"error budget: {Errors} unexpected answers = {ErrorRate:P3} of requests (budget {budget:P3}): {(ErrorRate <= budget ? "within" : "EXCEEDED")}");
        foreach (var sample in Unexpected.Take(10))
        {
            text.AppendLine($"  unexpected: {sample}");
        }

        return text.ToString();
    }
}

/// <summary>
/// Mixed traffic from many users through the edge (reads, metered generation with and without failures, idempotent
/// retries, a stream, spoofed headers, forged tokens), with random faults: Redis stopped and started, PostgreSQL
/// restarted, backend failures. Loopback only, bounded concurrency. At the end every reservation must be settled or
/// refunded once and every balance must equal its ledger.
/// </summary>
/// <param name="credits">Granted to each user before the run (0: the signup bonus only), so metered calls keep moving money.</param>
public sealed class SoakRun(IPlatform platform, TimeSpan duration, int users = 24, int concurrency = 8, int seed = 1, bool faults = true,
    Action<string>? log = null, string[]? faultResources = null, long credits = 0)
{
    /// <summary>What the fault injector stops and starts; PostgreSQL restarts are heavy on a small machine, so callers choose.</summary>
    private readonly string[] resources = faultResources ?? ["redis", "postgres"];

    private static readonly string[] Failures = ["error", "break_stream", "delay"];

    public async Task<SoakResult> RunAsync()
    {
        var result = new SoakResult();
        var people = new List<User>();
        for (var i = 0; i < users; i++)
        {
            var user = await platform.NewUserAsync();
            if (credits > 0)
            {
                await platform.GrantAsync(user.Id, credits);
            }

            people.Add(user);
        }

        var clients = Enumerable.Range(0, concurrency).Select(_ => platform.NewClient()).ToArray();
        var watch = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);
        var fault = Task.CompletedTask;
        var state = new FaultState();
        if (faults)
        {
            fault = InjectFaultsAsync(state, result, stop.Token);
        }

        await Task.WhenAll(clients.Select((client, i) => DriveAsync(client, people, new Random(seed * 1000 + i), state, result, stop.Token)));
        await fault;
        result.Elapsed = watch.Elapsed;

        // Let the last refunds land, then let the reconciler close anything a failure left open.
        result.Ledger = await WaitForLedgerAsync(people.Select(p => p.Id));
        foreach (var client in clients)
        {
            client.Dispose();
        }

        return result;
    }

    private async Task<LedgerReport> WaitForLedgerAsync(IEnumerable<Guid> ids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        LedgerReport report;
        do
        {
            await Task.Delay(1000);
            try
            {
                report = await platform.CheckLedgerAsync(ids);
            }
            catch (NpgsqlException ex)
            {
                report = new LedgerReport(0, 0, 0, [$"creditsdb unreadable: {ex.Message}"]);
            }
        }
        while (!report.Holds && DateTime.UtcNow < deadline);
        return report;
    }

    private sealed class FaultState
    {
        public volatile string Current = "none";
    }

    private async Task InjectFaultsAsync(FaultState state, SoakResult result, CancellationToken ct)
    {
        var random = new Random(seed);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(random.Next(6, 12)), ct);
                var resource = resources[random.Next(resources.Length)];
                state.Current = resource;
                result.Faults.Enqueue($"{resource} stopped at {DateTime.UtcNow:HH:mm:ss}");
                log?.Invoke($"fault: stopping {resource}");
                try
                {
                    await platform.StopAsync(resource);
                    await Task.Delay(TimeSpan.FromSeconds(random.Next(2, 5)), CancellationToken.None);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The orchestrator could not stop it (a loaded machine): note it; it is started again below either way.
                    result.Faults.Enqueue($"{resource} stop failed: {ex.Message}");
                }
                finally
                {
                    await StartAgainAsync(resource);
                }

                // Dependents reconnect: answers of the recovery window are still charged to the fault.
                await Task.Delay(TimeSpan.FromSeconds(4), CancellationToken.None);
                state.Current = "none";
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task StartAgainAsync(string resource)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await platform.StartAsync(resource);
                log?.Invoke($"fault: started {resource}");
                return;
            }
            catch (Exception ex) when (attempt < 5)
            {
                log?.Invoke($"fault: start {resource} failed ({ex.Message}); retrying");
                await Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None);
            }
        }
    }

    private static async Task DriveAsync(HttpClient client, List<User> people, Random random, FaultState state, SoakResult result, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var user = people[random.Next(people.Count)];
            var roll = random.Next(100);
            var (kind, request) = roll switch
            {
                < 30 => ("balance", Platform.As(user, HttpMethod.Get, "/api/v1/credits/balance")),
                < 40 => ("history", Platform.As(user, HttpMethod.Get, "/api/v1/credits/history?limit=5")),
                < 50 => ("clockchain", new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats")),
                < 55 => ("spoofed", Spoofed(user, people[random.Next(people.Count)])),
                < 60 => ("forged", Forged(user)),
                < 80 => ("generate", Platform.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync", new { query = $"Soak moment {random.Next(1000)}" })),
                < 85 => ("generate-idempotent", Idempotent(user, random)),
                < 92 => ("generate-failing", Failing(user, random)),
                _ => ("stream", Platform.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/stream", new { query = $"Soak stream {random.Next(1000)}" })),
            };

            var faultAtStart = state.Current;
            string outcome;
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
                outcome = await ClassifyAsync(kind, response, user);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                // A deliberately broken stream may surface as a broken response: what a client sees too.
                outcome = kind == "generate-failing" ? "expected-broken" : $"exception {ex.GetType().Name}";
            }
            finally
            {
                request.Dispose();
            }

            var faulted = faultAtStart != "none" || state.Current != "none";
            result.Answers.AddOrUpdate($"{kind} {outcome}", 1, (_, n) => n + 1);
            if (!Acceptable(kind, outcome, faulted))
            {
                result.Unexpected.Enqueue($"{kind} -> {outcome} (fault: {faultAtStart})");
            }
        }
    }

    private static async Task<string> ClassifyAsync(string kind, HttpResponseMessage response, User user)
    {
        var status = (int)response.StatusCode;
        if (kind == "spoofed" && status == 200)
        {
            // The edge must answer with the token's user whatever X-User-ID said.
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            return id == user.Id ? "200" : "200 WRONG USER";
        }

        if (kind == "stream" && status == 200)
        {
            var text = await response.Content.ReadAsStringAsync();
            return text.Contains("done", StringComparison.Ordinal) ? "200" : "200 without done";
        }

        return status.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Success, a refusal the contract promises (402, 409, 429), or during a fault the promised 503/502/504.</summary>
    private static bool Acceptable(string kind, string outcome, bool faulted)
    {
        if (outcome.Contains("WRONG", StringComparison.Ordinal))
        {
            return false; // never, fault or not
        }

        if (kind == "forged")
        {
            return outcome == "401";
        }

        if (kind == "generate-failing")
        {
            return outcome is "502" or "503" or "504" or "500" or "402" or "409" or "429" or "expected-broken" or "200 without done" or "200";
        }

        if (outcome is "200" or "202" or "402" or "409" or "429")
        {
            return true;
        }

        return faulted && outcome is "503" or "502" or "504" or "200 without done" or "exception HttpRequestException";
    }

    private static HttpRequestMessage Spoofed(User user, User victim)
    {
        var request = Platform.As(user, HttpMethod.Get, "/api/v1/auth/me");
        request.Headers.TryAddWithoutValidation("X-User-ID", victim.Id.ToString());
        request.Headers.TryAddWithoutValidation("x_user_id", victim.Id.ToString());
        return request;
    }

    private static HttpRequestMessage Forged(User user)
    {
        var parts = user.AccessToken.Split('.');
        var header = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode("{\"alg\":\"none\",\"typ\":\"at+jwt\"}");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync") { Content = JsonContent.Create(new { query = "Forged moment" }) };
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {header}.{parts[1]}.");
        return request;
    }

    private static HttpRequestMessage Idempotent(User user, Random random)
    {
        // Few distinct keys per user, so retries happen.
        var request = Platform.As(user, HttpMethod.Post, "/api/v1/timepoints/generate/sync", new { query = "Soak idempotent moment" });
        request.Headers.Add("Idempotency-Key", $"soak-{random.Next(3)}");
        return request;
    }

    private static HttpRequestMessage Failing(User user, Random random)
    {
        var failure = Failures[random.Next(Failures.Length)];
        var path = failure == "break_stream" ? "/api/v1/timepoints/generate/stream" : "/api/v1/timepoints/generate/sync";
        var request = Platform.As(user, HttpMethod.Post, path, new { query = $"Soak failure {failure}" });
        request.Headers.Add("X-Flash-Fail", failure);
        return request;
    }
}
