using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace Timepoint.AppHost;

/// <summary>Where local PostgreSQL and Redis keep their data, and which binaries and account run them.</summary>
public sealed record LocalLayout(string Root, string PostgresBin, string RedisServer, bool RunAsPostgresAccount)
{
    public const string PostgresAccount = "postgres";

    public string PostgresData => Path.Combine(Root, "postgres");
    public string PostgresPasswordFile => Path.Combine(Root, "postgres.password");
    public string RedisData => Path.Combine(Root, "redis");

    public static LocalLayout Resolve(IConfiguration configuration)
    {
        var root = configuration["Infrastructure:DataDirectory"];
        if (string.IsNullOrWhiteSpace(root))
        {
            root = DefaultRoot();
        }

        var postgresBin = configuration["Infrastructure:PostgresBinDirectory"];
        if (string.IsNullOrWhiteSpace(postgresBin))
        {
            postgresBin = FindPostgresBin() ?? throw new DistributedApplicationException(
                "PostgreSQL server binaries were not found (no pg_config --bindir, no /usr/lib/postgresql/*/bin/postgres). " +
                "Install them (apt-get install -y postgresql) or set Infrastructure:PostgresBinDirectory.");
        }

        var redisServer = configuration["Infrastructure:RedisServer"];
        if (string.IsNullOrWhiteSpace(redisServer))
        {
            redisServer = FindOnPath("redis-server") ?? throw new DistributedApplicationException(
                "redis-server was not found on PATH. Install it (apt-get install -y redis-server) or set Infrastructure:RedisServer.");
        }

        // PostgreSQL refuses to run as root; Debian's package creates an unprivileged account for it.
        return new LocalLayout(Path.GetFullPath(root), postgresBin, redisServer, Environment.IsPrivilegedProcess);
    }

    /// <summary>The per-user data folder; root's lives under /var/lib so that the postgres account can reach it.</summary>
    private static string DefaultRoot()
    {
        if (Environment.IsPrivilegedProcess)
        {
            return "/var/lib/timepoint";
        }

        var dataHome = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (string.IsNullOrWhiteSpace(dataHome))
        {
            dataHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        }

        return Path.Combine(dataHome, "timepoint");
    }

    private static string? FindPostgresBin()
    {
        try
        {
            var bin = LocalProcess.Run("pg_config", ["--bindir"]).Trim();
            if (File.Exists(Path.Combine(bin, "postgres")))
            {
                return bin;
            }
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or DistributedApplicationException)
        {
            // pg_config is in the client package; fall back to the server's usual place.
        }

        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "postgres")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}

internal static class LocalProcess
{
    /// <summary>Runs a short set-up command to completion and returns its output; throws with its stderr on failure.</summary>
    public static string Run(string file, IEnumerable<string> args, string? standardInput = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info) ?? throw new DistributedApplicationException($"Could not start {file}.");
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new DistributedApplicationException($"{file} did not finish within 2 minutes.");
        }

        return process.ExitCode == 0
            ? stdout.Result
            : throw new DistributedApplicationException($"{file} {string.Join(' ', info.ArgumentList)} failed ({process.ExitCode}): {stderr.Result}");
    }
}
