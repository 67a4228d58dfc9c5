using System.Net;

namespace Timepoint.Client.Tests;

/// <summary>The .NET client against the real platform, through the edge, as an external developer uses it.</summary>
[Collection(ClientPlatformCollection.Name)]
public sealed class TimepointClientTests(ClientPlatformFixture platform)
{
    private static readonly GenerateRequest MoonLanding = new("Moon landing, July 20 1969");

    [Fact]
    public async Task Demo_sign_in_gives_a_token_pair_that_reads_the_signup_balance_and_the_profile()
    {
        using var anonymous = new TimepointClient(platform.Edge);
        var tokens = await platform.SignInDemoAsync(anonymous);
        using var client = new TimepointClient(platform.Edge, TimepointCredential.BearerToken(tokens.AccessToken));

        var balance = await client.Credits.GetBalanceAsync();
        UserProfile me = await client.Auth.GetMeAsync();

        Assert.Equal("bearer", tokens.TokenType, ignoreCase: true);
        Assert.True(tokens.ExpiresIn > 0);
        Assert.Equal(new CreditBalance(50, 50, 0), balance.Value);
        Assert.NotNull(balance.RateLimit);
        Assert.True(balance.RateLimit.Remaining < balance.RateLimit.Limit);
        Assert.Null(balance.Credits); // not a metered call
        Assert.NotEqual(Guid.Empty, me.Id);
    }

    [Fact]
    public async Task A_generation_is_charged_and_the_charge_is_on_the_response()
    {
        var (client, _) = await platform.DemoUserAsync();
        using var _client = client;

        var generated = await client.Timepoints.GenerateAsync(MoonLanding);
        var read = await client.Timepoints.GetAsync(generated.Value.Id);
        var mine = await client.Timepoints.ListAsync(limit: 10);
        var history = await client.Credits.GetHistoryAsync();

        Assert.Equal(HttpStatusCode.OK, generated.Status);
        Assert.Equal(TimepointStatuses.Completed, generated.Value.Status);
        Assert.Equal("balanced", generated.Value.PresetUsed);
        Assert.Equal(new CreditCharge(5, 45, Replayed: false), generated.Credits);
        Assert.Equal(generated.Value.Slug, read.Value.Slug);
        Assert.Contains(mine.Value.Items, t => t.Id == generated.Value.Id);
        Assert.Equal(45, history.Value.Sum(t => t.Amount));
        Assert.Contains(history.Value, t => t.Type == "generation" && t.Amount == -5 && t.BalanceAfter == 45);

        await client.Timepoints.DeleteAsync(generated.Value.Id);
        var gone = await Assert.ThrowsAsync<TimepointApiException>(() => client.Timepoints.GetAsync(generated.Value.Id));
        Assert.Equal((HttpStatusCode.NotFound, TimepointErrorCodes.NotFound), (gone.Status, gone.Code));
    }

    [Fact]
    public async Task A_retry_with_the_same_idempotency_key_is_not_charged_again_and_replays_the_first_answer()
    {
        var (client, _) = await platform.DemoUserAsync();
        using var _client = client;
        var key = Guid.NewGuid().ToString();

        var first = await client.Timepoints.GenerateAsync(MoonLanding, idempotencyKey: key);
        var retry = await client.Timepoints.GenerateAsync(MoonLanding, idempotencyKey: key);
        var otherBody = await Assert.ThrowsAsync<TimepointApiException>(
            () => client.Timepoints.GenerateAsync(new GenerateRequest("Fall of the Berlin Wall 1989"), idempotencyKey: key));

        Assert.Equal(first.Value.Id, retry.Value.Id);
        Assert.Equal(new CreditCharge(5, 45, Replayed: false), first.Credits);
        Assert.Equal(new CreditCharge(0, 45, Replayed: true), retry.Credits);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherBody.Status);
        Assert.Equal(45, (await client.Credits.GetBalanceAsync()).Value.Balance);
    }

    [Fact]
    public async Task A_streaming_generation_yields_typed_events_from_start_to_done_and_is_charged_once()
    {
        var (client, _) = await platform.DemoUserAsync();
        using var _client = client;

        List<GenerationEvent> events;
        CreditCharge? charge;
        using (var stream = await client.Timepoints.OpenStreamAsync(new GenerateRequest("Signing of the Magna Carta 1215")))
        {
            charge = stream.Credits;
            events = [.. await stream.ToListAsync()];
        }

        var again = await client.Timepoints.StreamAsync(MoonLanding).ToListAsync();

        var started = Assert.IsType<GenerationStarted>(events[0]);
        var done = Assert.IsType<GenerationCompleted>(events[^1]);
        var steps = events[1..^1].Select(e => Assert.IsType<GenerationStepCompleted>(e)).ToList();
        Assert.Equal("Signing of the Magna Carta 1215", started.Query);
        Assert.Equal(started.TimepointId, done.TimepointId);
        Assert.Equal(done.TimepointId, done.Timepoint.Id);
        Assert.Equal(1215, done.Timepoint.Year);
        Assert.NotEmpty(steps);
        Assert.Equal(steps.Select(s => s.Progress).Order(), steps.Select(s => s.Progress));
        Assert.Equal(100, done.Progress);
        Assert.Equal(5, charge?.Charged);
        Assert.IsType<GenerationCompleted>(again[^1]);
        Assert.Equal(40, (await client.Credits.GetBalanceAsync()).Value.Balance);
        Assert.Equal(done.Timepoint.Slug, (await client.Timepoints.GetAsync(done.TimepointId)).Value.Slug);
    }

    [Fact]
    public async Task An_api_key_created_with_the_client_is_used_by_another_client_then_rerolled_and_revoked()
    {
        var (client, _) = await platform.DemoUserAsync();
        using var _client = client;

        CreatedApiKey created = await client.ApiKeys.CreateAsync(
            new CreateApiKeyRequest("laptop", [ApiKeyScopes.Read, ApiKeyScopes.Write, ApiKeyScopes.Generate]));
        using var withKey = client.With(TimepointCredential.ApiKey(created.Key));
        var history = await withKey.Credits.GetHistoryAsync();
        var generated = await withKey.Timepoints.GenerateAsync(MoonLanding);
        var listed = await client.ApiKeys.ListAsync();

        Assert.StartsWith(created.Prefix, created.Key, StringComparison.Ordinal);
        Assert.Equal([ApiKeyScopes.Read, ApiKeyScopes.Write, ApiKeyScopes.Generate], created.Scopes);
        Assert.Contains(history.Value, t => t.Type == "signup_bonus" && t.Amount == 50);
        Assert.Equal(5, generated.Credits?.Charged);
        Assert.Contains(listed.Value, k => k.Id == created.Id && k.Name == "laptop");

        var rerolled = await client.ApiKeys.RerollAsync(created.Id, graceSeconds: 0);
        using var withNewKey = client.With(TimepointCredential.ApiKey(rerolled.Value.Key));
        Assert.Equal(created.Id, rerolled.Value.PreviousKeyId);
        Assert.Equal(45, (await withNewKey.Credits.GetBalanceAsync()).Value.Balance);

        await client.ApiKeys.RevokeAsync(rerolled.Value.Id);
        var refused = await Assert.ThrowsAsync<TimepointApiException>(() => withNewKey.Credits.GetBalanceAsync());
        Assert.Equal((HttpStatusCode.Unauthorized, TimepointErrorCodes.KeyRevoked), (refused.Status, refused.Code));
    }

    [Fact]
    public async Task A_refused_call_throws_a_typed_error_carrying_the_problem_code_and_its_members()
    {
        var (client, _) = await platform.DemoUserAsync();
        using var _client = client;
        using var anonymous = new TimepointClient(platform.Edge);
        CreatedApiKey readOnly = await client.ApiKeys.CreateAsync(new CreateApiKeyRequest("read only"));
        using var withReadKey = client.With(TimepointCredential.ApiKey(readOnly.Key));

        var missing = await Assert.ThrowsAsync<TimepointApiException>(() => anonymous.Credits.GetBalanceAsync());
        var invalid = await Assert.ThrowsAsync<TimepointApiException>(() => client.Timepoints.GenerateAsync(new GenerateRequest("x")));
        var badPreset = await Assert.ThrowsAsync<TimepointApiException>(
            () => client.Timepoints.OpenStreamAsync(new GenerateRequest("Moon landing", Preset: "ultra")));
        var forbidden = await Assert.ThrowsAsync<TimepointApiException>(() => withReadKey.Timepoints.GenerateAsync(MoonLanding));
        for (var i = 0; i < 3; i++)
        {
            await client.Pro.SimulateAsync(new SimulateRequest("negotiation", "Who gets the orchard?"));
        }

        var broke = await Assert.ThrowsAsync<TimepointApiException>(
            () => client.Pro.SimulateAsync(new SimulateRequest("negotiation", "Who gets the orchard?")));

        Assert.Equal((HttpStatusCode.Unauthorized, TimepointErrorCodes.AuthMissing), (missing.Status, missing.Code));
        Assert.Equal((HttpStatusCode.UnprocessableEntity, TimepointErrorCodes.ValidationFailed), (invalid.Status, invalid.Code));
        Assert.Contains("query", invalid.Errors.Keys);
        Assert.Equal((HttpStatusCode.UnprocessableEntity, TimepointErrorCodes.ValidationFailed), (badPreset.Status, badPreset.Code));
        Assert.Equal((HttpStatusCode.Forbidden, TimepointErrorCodes.Forbidden), (forbidden.Status, forbidden.Code));
        Assert.Equal((HttpStatusCode.PaymentRequired, TimepointErrorCodes.InsufficientCredits), (broke.Status, broke.Code));
        Assert.Equal((15, 5), (broke.CreditsRequired, broke.CreditsAvailable));
        Assert.Contains(TimepointErrorCodes.InsufficientCredits, broke.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_access_token_is_refreshed_once_however_many_calls_met_it()
    {
        using var anonymous = new TimepointClient(platform.Edge);
        var signedIn = await platform.SignInDemoAsync(anonymous);
        // An access token the edge refuses (401), with the pair's real refresh token.
        var credential = TimepointCredential.TokenPair(signedIn with { AccessToken = "not-a-token" });
        var refreshes = 0;
        credential.Refreshed += (_, _) => Interlocked.Increment(ref refreshes);
        using var client = new TimepointClient(platform.Edge, credential);

        var balances = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.Credits.GetBalanceAsync()));

        Assert.All(balances, b => Assert.Equal(50, b.Value.Balance));
        Assert.Equal(1, refreshes); // a second refresh would have reused the spent token and ended the session
        Assert.NotEqual(signedIn.RefreshToken, credential.Current.RefreshToken);
        Assert.True(credential.ExpiresAt > DateTimeOffset.UtcNow.AddMinutes(10));
        var spent = await Assert.ThrowsAsync<TimepointApiException>(() => anonymous.Auth.RefreshAsync(signedIn.RefreshToken));
        Assert.Equal(HttpStatusCode.Unauthorized, spent.Status);
    }

    [Fact]
    public async Task An_access_token_about_to_expire_is_renewed_before_it_is_sent()
    {
        using var anonymous = new TimepointClient(platform.Edge);
        var signedIn = await platform.SignInDemoAsync(anonymous);
        var counting = new CountingHandler();
        var credential = TimepointCredential.TokenPair(signedIn with { AccessToken = "expiring", ExpiresIn = 10 });
        using var client = new TimepointClient(new TimepointClientOptions { BaseAddress = platform.Edge, Credential = credential, Handler = counting });

        var me = await client.Auth.GetMeAsync();

        Assert.Equal(["/api/v1/auth/refresh", "/api/v1/auth/me"], counting.Paths);
        Assert.NotEqual("expiring", credential.Current.AccessToken);
        Assert.NotEqual(Guid.Empty, me.Value.Id);
    }

    [Fact]
    public async Task A_user_exports_their_data_logs_out_and_deletes_the_account()
    {
        var (client, tokens) = await platform.DemoUserAsync();
        using var _client = client;
        var generated = await client.Timepoints.GenerateAsync(MoonLanding);

        UserExport export = await client.Users.ExportAsync();
        var renamed = await client.Users.UpdateProfileAsync(new ProfileUpdate(DisplayName: "Neil"));
        var loggedOut = await client.Auth.LogoutAsync();
        var afterLogout = await Assert.ThrowsAsync<TimepointApiException>(() => client.Auth.RefreshAsync(tokens.Current.RefreshToken));

        Assert.Equal(generated.Value.Id, Assert.Single(export.Timepoints).Id);
        Assert.Equal(45, export.Credits.Balance.Balance);
        Assert.Equal(45, export.Credits.Ledger.Sum(t => t.Amount));
        Assert.Empty(export.Simulations);
        Assert.Equal("Neil", renamed.Value.DisplayName);
        Assert.Equal("Logged out", loggedOut.Value.Detail);
        Assert.Equal(HttpStatusCode.Unauthorized, afterLogout.Status);

        var (other, _) = await platform.DemoUserAsync();
        using var _other = other;
        var deleted = await other.Auth.DeleteMeAsync();
        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
    }

    [Fact]
    public async Task Public_reads_need_no_credentials_clockchain_and_costs()
    {
        using var anonymous = new TimepointClient(platform.Edge);

        var stats = await anonymous.Clockchain.GetStatsAsync();
        var page = await anonymous.Clockchain.SearchMomentsAsync(new MomentQuery(Limit: 5, YearFrom: 1900, Sort: "-date"));
        var moment = await anonymous.Clockchain.GetMomentAsync(page.Value.Items[0].Path);
        CreditCosts costs = await anonymous.Credits.GetCostsAsync();

        Assert.True(stats.Value.TotalNodes > 0);
        Assert.InRange(page.Value.Items.Count, 1, 5);
        Assert.All(page.Value.Items, m => Assert.True(m.Year >= 1900));
        Assert.Contains('/', page.Value.Items[0].Path);
        Assert.Equal(page.Value.Items[0].Name, moment.Value.Name);
        Assert.NotNull(moment.Value.Edges);
        Assert.Equal(5, costs.Costs["generate_balanced"]);
        Assert.Equal(15, costs.Costs["conductor_pro_sim"]);
    }

    [Fact]
    public async Task A_pro_simulation_is_metered_and_idempotent()
    {
        var (client, _) = await platform.DemoUserAsync();
        using var _client = client;
        var key = Guid.NewGuid().ToString();
        var request = new SimulateRequest("board_meeting", "Should we ship on Friday?", Fidelity: 2);

        var first = await client.Pro.SimulateAsync(request, key);
        var retry = await client.Pro.SimulateAsync(request, key);

        Assert.Equal(first.Value.JobId, retry.Value.JobId);
        Assert.Equal(2, first.Value.Fidelity);
        Assert.Equal((15, 0), (first.Credits?.Charged, retry.Credits?.Charged));
        Assert.Equal(35, (await client.Credits.GetBalanceAsync()).Value.Balance);
    }

    /// <summary>Records the path of every request that leaves the client.</summary>
    private sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly List<string> paths = [];

        public IReadOnlyList<string> Paths
        {
            get
            {
                lock (paths)
                {
                    return [.. paths];
                }
            }
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (paths)
            {
                paths.Add(request.RequestUri!.AbsolutePath);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
