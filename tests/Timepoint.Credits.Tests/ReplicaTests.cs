namespace Timepoint.Credits.Tests;

/// <summary>Two replicas of credits on one database, started together.</summary>
public class ReplicaPair<TApp> : IAsyncLifetime where TApp : CreditsApp, new()
{
    public CreditsApp First { get; } = new TApp();

    public CreditsApp Second { get; } = new TApp();

    public async Task InitializeAsync()
    {
        var database = await LocalServers.CreateDatabaseAsync("creditsdb");
        First.Settings[CreditsApp.ConnectionStringKey] = database;
        Second.Settings[CreditsApp.ConnectionStringKey] = database;
        await Task.WhenAll(Task.Run(First.InitializeAsync), Task.Run(Second.InitializeAsync));
    }

    public async Task DisposeAsync()
    {
        await ((IAsyncLifetime)First).DisposeAsync();
        await ((IAsyncLifetime)Second).DisposeAsync();
    }
}

public sealed class ReplicaTests(ReplicaPair<CreditsApp> replicas) : IClassFixture<ReplicaPair<CreditsApp>>
{
    [Fact]
    public async Task Replicas_started_together_apply_each_migration_once()
    {
        await using var command = replicas.First.Database.CreateCommand("SELECT count(*) FROM schema_migrations WHERE id = '0001_ledger.sql'");

        Assert.Equal(1L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Reserves_spread_over_two_replicas_still_charge_only_what_the_balance_allows()
    {
        var user = await replicas.First.NewUser();

        var successes = await ConcurrencyHarness.RunAsync(100, async i =>
        {
            using var response = await (i % 2 == 0 ? replicas.First : replicas.Second).Reserve(user, "generate_balanced");
            return await ConcurrencyHarness.Charged(response);
        });

        Assert.Empty(ConcurrencyHarness.Violations(await replicas.First.Facts(user), successes, startingBalance: 50, cost: 5));
    }
}

public sealed class ReplicaReconcilerTests(ReplicaPair<ShortTimeoutCreditsApp> replicas) : IClassFixture<ReplicaPair<ShortTimeoutCreditsApp>>
{
    [Fact]
    public async Task Two_reconcilers_refund_each_abandoned_reservation_once()
    {
        var user = await replicas.First.NewUser();
        for (var i = 0; i < 5; i++)
        {
            await replicas.Second.ReserveOk(user, "generate_hd");
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await replicas.First.Facts(user)).Refunds < 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        await Task.Delay(2500); // more sweeps by both replicas: none may refund again
        var facts = await replicas.First.Facts(user);
        Assert.Equal(5, facts.Refunds);
        Assert.Equal(50, facts.Balance);
        Assert.Equal(facts.Balance, facts.LedgerSum);
    }
}
