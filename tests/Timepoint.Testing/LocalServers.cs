using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;

namespace Timepoint.Testing;

/// <summary>
/// Real PostgreSQL and Redis for per-service tests: one throwaway server of each per test process (and, for the tests that
/// ask, a Redis Cluster of three masters), on free loopback ports, in a temp folder, stopped when the process exits. Each
/// test class asks for a database of its own.
/// </summary>
public static class LocalServers
{
    private static readonly Lazy<Task<PostgresServer>> Postgres = new(PostgresServer.StartAsync);
    private static readonly Lazy<Task<RedisServer>> Redis = new(RedisServer.StartAsync);
    private static readonly Lazy<Task<RedisCluster>> Cluster = new(RedisCluster.StartAsync);

    /// <summary>A new, empty database on the shared test server; returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var server = await Postgres.Value;
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)].ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(server.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return server.ConnectionString(name);
    }

    /// <summary>The StackExchange.Redis connection string of the shared Redis server, or of the shared cluster.</summary>
    public static async Task<string> RedisConnectionStringAsync(RedisFlavour flavour = RedisFlavour.Server) =>
        flavour == RedisFlavour.Cluster ? (await Cluster.Value).ConnectionString : (await Redis.Value).ConnectionString;

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string Secret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// Runs a server process that lives no longer than the test process: killed on a clean exit, and sent
    /// <paramref name="parentDeathSignal"/> by the kernel if the test process dies. The kernel ties that signal to the
    /// spawning thread, so the spawn happens on a thread of its own that lives as long as the server.
    /// </summary>
    internal static Process Spawn(IEnumerable<string> command, string parentDeathSignal)
    {
        Process? process = null;
        Exception? error = null;
        using var started = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            try
            {
                process = Process.Start(new ProcessStartInfo("setpriv", ["--pdeathsig", parentDeathSignal, .. command])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                });
            }
            catch (Exception ex)
            {
                error = ex;
            }

            started.Set();
            process?.WaitForExit();
        })
        { IsBackground = true, Name = "test server " + command.First() };
        thread.Start();
        started.Wait();
        if (process is null)
        {
            throw new InvalidOperationException($"Could not start {string.Join(' ', command)}.", error);
        }

        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                // The server process alone: PostgreSQL's own processes end when they see their postmaster gone.
                // Killing the tree stops every process first and then kills them, which left some stopped for good.
                process.Kill();
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        };
        return process;
    }

    internal static string Run(string file, params string[] args) => Run(file, new Dictionary<string, string>(), args);

    internal static string Run(string file, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return process.ExitCode == 0
            ? stdout.Result
            : throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {stderr.Result}");
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> ready, Process process, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with {process.ExitCode} while starting.");
            }

            if (await ready())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{what} did not start within 60 s.");
    }
}

internal sealed class PostgresServer(int port, string password)
{
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={port};Username=postgres;Password={password};Database={database};Maximum Pool Size=50";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBin();
        var root = Directory.CreateTempSubdirectory("timepoint-test-pg-").FullName;
        var data = Path.Combine(root, "data");
        var pwFile = Path.Combine(root, "pw");
        var password = LocalServers.Secret();
        await File.WriteAllTextAsync(pwFile, password);
        var asPostgres = Environment.IsPrivilegedProcess;
        string[] prefix = asPostgres ? ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : [];
        if (asPostgres)
        {
            LocalServers.Run("chmod", "755", root);
            LocalServers.Run("chown", "-R", "postgres:postgres", root);
        }

        string[] initdb = [Path.Combine(bin, "initdb"), "-D", data, "-U", "postgres", $"--pwfile={pwFile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale"];
        if (asPostgres)
        {
            LocalServers.Run("setpriv", [.. prefix, .. initdb]);
        }
        else
        {
            LocalServers.Run(initdb[0], initdb[1..]);
        }

        var port = LocalServers.FreePort();
        string[] serve = [Path.Combine(bin, "postgres"), "-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=300", "-c", "fsync=off"];
        string[] asAccount = asPostgres ? ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"] : ["--"];
        var process = LocalServers.Spawn([.. asAccount, .. serve], "SIGINT");
        var server = new PostgresServer(port, password);
        await LocalServers.WaitUntilAsync(async () =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(server.ConnectionString("postgres"));
                await connection.OpenAsync();
                return true;
            }
            catch (NpgsqlException)
            {
                return false;
            }
        }, process, "postgres");
        return server;
    }

    private static string FindBin()
    {
        try
        {
            var bin = LocalServers.Run("pg_config", "--bindir").Trim();
            if (File.Exists(Path.Combine(bin, "postgres")))
            {
                return bin;
            }
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            // fall through
        }

        return Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "postgres"))).Order().LastOrDefault()
            ?? throw new InvalidOperationException("PostgreSQL server binaries not found; run ./scripts/test, which installs them.");
    }
}

/// <summary>Which Redis a test runs on: the one server, or the three-master cluster.</summary>
public enum RedisFlavour
{
    Server,
    Cluster,
}

internal sealed class RedisServer(int port, string password)
{
    public string ConnectionString => $"127.0.0.1:{port},password={password}";

    public static async Task<RedisServer> StartAsync()
    {
        var password = LocalServers.Secret();
        var port = await StartNodeAsync(password, []);
        return new RedisServer(port, password);
    }

    /// <summary>Starts one redis-server on a free loopback port with <paramref name="extra"/> arguments; returns the port.</summary>
    public static async Task<int> StartNodeAsync(string password, string[] extra)
    {
        var port = LocalServers.FreePort();
        var process = LocalServers.Spawn(["--", "redis-server", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no", .. extra], "SIGTERM");
        await LocalServers.WaitUntilAsync(async () =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, process, "redis-server");
        return port;
    }
}

/// <summary>
/// A Redis Cluster of three masters (no replicas) on loopback, joined by <c>redis-cli --cluster create</c>; the connection
/// string names every node, and StackExchange.Redis discovers the slots from them.
/// </summary>
internal sealed class RedisCluster(IReadOnlyList<int> ports, string password)
{
    public string ConnectionString =>
        string.Join(',', ports.Select(p => $"127.0.0.1:{p}")) + $",password={password}";

    public static async Task<RedisCluster> StartAsync()
    {
        var password = LocalServers.Secret();
        var root = Directory.CreateTempSubdirectory("timepoint-test-redis-cluster-").FullName;
        var ports = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(root, i.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            // The cluster bus gets a free port of its own (not the default port + 10000, which may be taken or out of range).
            ports.Add(await RedisServer.StartNodeAsync(password, ["--cluster-enabled", "yes", "--dir", dir,
                "--cluster-config-file", Path.Combine(dir, "nodes.conf"),
                "--cluster-port", LocalServers.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--masterauth", password]));
        }

        var cluster = new RedisCluster(ports, password);
        // The password through the environment, not the command line, where the process list would show it.
        LocalServers.Run("redis-cli", new Dictionary<string, string> { ["REDISCLI_AUTH"] = password },
            ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"]);
        await WaitUntilAsync(() => ports.All(p => LocalServers.Run("redis-cli", new Dictionary<string, string> { ["REDISCLI_AUTH"] = password },
            ["-p", p.ToString(System.Globalization.CultureInfo.InvariantCulture), "cluster", "info"]).Contains("cluster_state:ok")));
        return cluster;
    }

    private static async Task WaitUntilAsync(Func<bool> ready)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!ready())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The test Redis Cluster did not reach cluster_state:ok within 60 s.");
            }

            await Task.Delay(100);
        }
    }
}
