using System.Diagnostics;

namespace Timepoint.AppHost;

/// <summary>How the AppHost gets PostgreSQL and Redis.</summary>
public enum InfrastructureMode
{
    /// <summary>Containers when a container runtime answers, otherwise local executables.</summary>
    Auto,
    /// <summary><c>AddPostgres</c>/<c>AddRedis</c> containers, the Aspire default.</summary>
    Containers,
    /// <summary>The machine's own <c>postgres</c> and <c>redis-server</c>, run as executable resources.</summary>
    Local,
}

public static class InfrastructureModeSelector
{
    public const string SettingName = "Infrastructure:Mode";

    /// <summary>Parses the setting; <c>auto</c> asks <paramref name="containerRuntimeAnswers"/> once.</summary>
    public static InfrastructureMode Resolve(string? setting, Func<bool> containerRuntimeAnswers)
    {
        var mode = string.IsNullOrWhiteSpace(setting) ? InfrastructureMode.Auto : Parse(setting);
        return mode == InfrastructureMode.Auto
            ? containerRuntimeAnswers() ? InfrastructureMode.Containers : InfrastructureMode.Local
            : mode;
    }

    private static InfrastructureMode Parse(string setting) => setting.Trim().ToLowerInvariant() switch
    {
        "auto" => InfrastructureMode.Auto,
        "containers" or "container" => InfrastructureMode.Containers,
        "local" => InfrastructureMode.Local,
        _ => throw new InvalidOperationException(
            $"{SettingName} is '{setting}'; it must be one of: auto, containers, local."),
    };

    /// <summary>
    /// True when the container runtime Aspire would use (<c>ASPIRE_CONTAINER_RUNTIME</c>, docker by default)
    /// has an engine behind it: the client alone is not enough, so this asks the engine for its version.
    /// </summary>
    public static bool ContainerRuntimeAnswers(string? runtime, TimeSpan timeout)
    {
        var client = string.IsNullOrWhiteSpace(runtime) ? "docker" : runtime;
        try
        {
            using var process = Process.Start(new ProcessStartInfo(client, ["version", "--format", "{{.Server.Version}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0 && !string.IsNullOrWhiteSpace(process.StandardOutput.ReadToEnd());
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no such client on PATH
        }
    }
}
