using Timepoint.Credits.Data;
using Timepoint.Credits.Ledger;
using Timepoint.Credits.Reconciliation;

namespace Timepoint.Credits;

public static class CreditsServiceExtensions
{
    /// <summary>The credits database (migrated at start), the ledger, the reconciler and the meter; options validated at start.</summary>
    public static IHostApplicationBuilder AddCreditsServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CreditsOptions>()
            .BindConfiguration(CreditsOptions.Section)
            .ValidateDataAnnotations()
            .Validate(CreditsOptions.HasValidCosts,
                "Credits:Costs must map operation names (lower-case letters, digits, _) to costs from 1 to 1000000.")
            .ValidateOnStart();

        // Fail fast while the database is away (503 with Retry-After), well inside the edge's upstream timeout; the
        // ledger's few statements run thousands of times a second, so they are prepared once per connection.
        builder.AddNpgsqlDataSource("creditsdb", configureDataSourceBuilder: data =>
        {
            data.ConnectionStringBuilder.Timeout = 3;
            data.ConnectionStringBuilder.MaxAutoPrepare = 32;
        });
        builder.Services.AddHostedService<DatabaseMigrator>();
        builder.Services.AddSingleton<CreditsMetrics>();
        builder.Services.AddSingleton<CreditLedger>();
        builder.Services.AddSingleton<ReservationReconciler>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ReservationReconciler>());
        return builder;
    }
}
