using System.Security.Cryptography;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Timepoint.AppHost;

/// <summary>The machine's own PostgreSQL server, run by DCP as an executable.</summary>
public sealed class LocalPostgresServerResource(string name, string command, string workingDirectory, ParameterResource password)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public EndpointReference PrimaryEndpoint => new(this, EndpointName);

    public ParameterResource PasswordParameter { get; } = password;

    public List<LocalPostgresDatabaseResource> Databases { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username=postgres;Password={PasswordParameter}");
}

/// <summary>One database on <see cref="LocalPostgresServerResource"/>; shown under it on the dashboard.</summary>
public sealed class LocalPostgresDatabaseResource(string name, LocalPostgresServerResource parent)
    : Resource(name), IResourceWithParent<LocalPostgresServerResource>, IResourceWithConnectionString
{
    public LocalPostgresServerResource Parent { get; } = parent;

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Parent};Database={Name}");
}

public static class LocalPostgresExtensions
{
    public static IResourceBuilder<LocalPostgresServerResource> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string name, LocalLayout layout)
    {
        var postgresBinary = Path.Combine(layout.PostgresBin, "postgres");
        var password = builder.ExecutionContext.IsRunMode ? EnsureCluster(layout) : "";
        var passwordParameter = builder.AddParameter($"{name}-password", password, secret: true);

        // As root the server runs under the postgres account; setpriv execs in place, so DCP's stop signal reaches postgres itself.
        var server = layout.RunAsPostgresAccount
            ? new LocalPostgresServerResource(name, "setpriv", layout.PostgresData, passwordParameter.Resource)
            : new LocalPostgresServerResource(name, postgresBinary, layout.PostgresData, passwordParameter.Resource);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(server, async (_, ct) =>
            connectionString = await server.ConnectionStringExpression.GetValueAsync(ct));

        builder.Eventing.Subscribe<ResourceReadyEvent>(server, async (@event, ct) =>
        {
            await using var connection = new NpgsqlConnection(connectionString + ";Database=postgres");
            await connection.OpenAsync(ct);
            var notifications = @event.Services.GetRequiredService<ResourceNotificationService>();
            foreach (var database in server.Databases)
            {
                await CreateDatabaseIfMissingAsync(connection, database.Name, ct);
                // Aspire passes a parent's state to its children only for containers; an executable's we pass ourselves.
                await notifications.PublishUpdateAsync(database, s => s with
                {
                    State = KnownResourceStates.Running,
                    StartTimeStamp = DateTime.UtcNow,
                });
            }
        });

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddNpgSql(
            _ => (connectionString ?? throw new InvalidOperationException("Connection string is unavailable")) + ";Database=postgres",
            name: healthCheckKey);

        return builder.AddResource(server)
            .WithEndpoint(name: LocalPostgresServerResource.EndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                if (layout.RunAsPostgresAccount)
                {
                    context.Args.Add($"--reuid={LocalLayout.PostgresAccount}");
                    context.Args.Add($"--regid={LocalLayout.PostgresAccount}");
                    context.Args.Add("--init-groups");
                    context.Args.Add("--");
                    context.Args.Add(postgresBinary);
                }

                context.Args.Add("-D");
                context.Args.Add(layout.PostgresData);
                context.Args.Add("-p");
                context.Args.Add(server.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("-c");
                context.Args.Add("listen_addresses=127.0.0.1");
                // No Unix socket: /var/run/postgresql may not exist and another cluster may own it.
                context.Args.Add("-c");
                context.Args.Add("unix_socket_directories=");
                context.Args.Add("-c");
                context.Args.Add("max_connections=300");
            })
            .WithHealthCheck(healthCheckKey)
            .WithIconName("Database");
    }

    public static IResourceBuilder<LocalPostgresDatabaseResource> AddLocalDatabase(
        this IResourceBuilder<LocalPostgresServerResource> server, string name)
    {
        var database = new LocalPostgresDatabaseResource(name, server.Resource);
        server.Resource.Databases.Add(database);

        string? connectionString = null;
        server.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, ct) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(ct));

        var healthCheckKey = $"{name}_check";
        server.ApplicationBuilder.Services.AddHealthChecks().AddNpgSql(
            _ => connectionString ?? throw new InvalidOperationException("Connection string is unavailable"),
            name: healthCheckKey);

        return server.ApplicationBuilder.AddResource(database).WithHealthCheck(healthCheckKey);
    }

    /// <summary>
    /// Creates the cluster on first start (initdb, scram-sha-256) and returns its superuser password,
    /// which lives beside the data: the two are only ever valid together.
    /// </summary>
    private static string EnsureCluster(LocalLayout layout)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Local infrastructure needs Linux or macOS; use Infrastructure:Mode=containers.");
        }

        Directory.CreateDirectory(layout.Root);
        if (layout.RunAsPostgresAccount)
        {
            // The postgres account must be able to reach its data folder under ours.
            File.SetUnixFileMode(layout.Root, File.GetUnixFileMode(layout.Root)
                | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        if (!File.Exists(layout.PostgresPasswordFile))
        {
            File.WriteAllText(layout.PostgresPasswordFile, Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant());
            File.SetUnixFileMode(layout.PostgresPasswordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var password = File.ReadAllText(layout.PostgresPasswordFile).Trim();
        if (File.Exists(Path.Combine(layout.PostgresData, "PG_VERSION")))
        {
            return password;
        }

        if (Directory.Exists(layout.PostgresData))
        {
            Directory.Delete(layout.PostgresData, recursive: true); // a half-made cluster from an interrupted first start
        }

        Directory.CreateDirectory(layout.PostgresData, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var pwFile = Path.Combine(layout.PostgresData, "..", ".postgres-initdb.pw");
        File.WriteAllText(pwFile, password);
        try
        {
            var initdb = Path.Combine(layout.PostgresBin, "initdb");
            string[] initArgs = ["-D", layout.PostgresData, "-U", "postgres", $"--pwfile={Path.GetFullPath(pwFile)}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale"];
            if (layout.RunAsPostgresAccount)
            {
                LocalProcess.Run("chown", [$"{LocalLayout.PostgresAccount}:{LocalLayout.PostgresAccount}", layout.PostgresData, pwFile]);
                LocalProcess.Run("setpriv", [$"--reuid={LocalLayout.PostgresAccount}", $"--regid={LocalLayout.PostgresAccount}",
                    "--init-groups", "--", initdb, .. initArgs]);
            }
            else
            {
                LocalProcess.Run(initdb, initArgs);
            }
        }
        finally
        {
            File.Delete(pwFile);
        }

        return password;
    }

    private static async Task CreateDatabaseIfMissingAsync(NpgsqlConnection connection, string database, CancellationToken ct)
    {
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.AddWithValue(database);
        if (await exists.ExecuteScalarAsync(ct) is not null)
        {
            return;
        }

        var quoted = new NpgsqlCommandBuilder().QuoteIdentifier(database);
        await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
        try
        {
            await create.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Created meanwhile by another AppHost sharing the data folder: what we wanted.
        }
    }
}
