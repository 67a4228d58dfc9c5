using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Timepoint.Security.Tests;

/// <summary>
/// A real load balancer (Debian's haproxy) in front of the two gateway replicas, each reached on its own port (not DCP's
/// proxy, which would make every connection come from 127.0.0.1). haproxy connects out from 127.0.0.9, the only address
/// the replicas trust (<c>Gateway:TrustedProxies</c>, set by <see cref="SecurityFixture"/>), so every other test here,
/// on 127.0.0.1, is counted on its own connection as before.
/// </summary>
public sealed partial class SecurityTests
{
    private const string BalancerSource = "127.0.0.9";

    [Fact]
    [Order(5)]
    public async Task Behind_haproxy_clients_on_different_addresses_get_their_own_budget_and_a_replica_believes_no_clients_forwarded_for()
    {
        var replicas = (await platform.InstancesAsync("gateway")).Select(r => SecurityFixture.ListeningAddress(r.Pid)).ToList();
        Assert.Equal(2, replicas.Count);
        Assert.All(replicas, Assert.NotNull);
        await using var balancer = await Haproxy.StartAsync(replicas.Select(r => r!.Port).ToList(), BalancerSource);
        using var a = From("127.0.0.2", balancer.Address);
        using var b = From("127.0.0.3", balancer.Address);
        using var direct = From("127.0.0.4", replicas[0]!);
        // Budgets are per minute (windows aligned on the clock): begin early in one, so the few requests below share it.
        var second = DateTimeOffset.UtcNow.ToUnixTimeSeconds() % 60;
        if (second > 45)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - second));
        }

        // Through the balancer, a client's own X-Forwarded-For is kept (haproxy appends the address it saw) and ignored.
        var fromA = new List<Budget>();
        for (var i = 0; i < 4; i++)
        {
            fromA.Add(await AnonymousAsync(a, $"198.51.100.{i + 1}"));
        }

        var fromB = await AnonymousAsync(b, null);
        // Straight to a replica, from an address no test used, naming A and then B: not believed.
        var namingA = await AnonymousAsync(direct, "127.0.0.2");
        var namingB = await AnonymousAsync(direct, "127.0.0.3");
        output.WriteLine($"A: {string.Join(", ", fromA.Select(x => x.Remaining))}; B: {fromB.Remaining}; direct: {namingA.Remaining}, {namingB.Remaining}");
        Assert.Single(fromA.Append(fromB).Append(namingA).Append(namingB).Select(x => x.Reset).Distinct());

        var limit = fromB.Limit;
        // A's first request is the first unit of A's own budget, and the next three spend A's budget.
        Assert.Equal(limit - 1, fromA.Max(x => x.Remaining));
        Assert.True(fromA.Min(x => x.Remaining) <= limit - 4, "A's four requests spent A's budget");
        // So is B's first: had the edge keyed on the balancer's address, A would have spent that unit already.
        Assert.Equal(limit - 1, fromB.Remaining);
        // The direct client is counted on its own address, whichever address it named (A's and B's are already spent).
        Assert.Equal(limit - 1, namingA.Remaining);
        Assert.Equal(limit - 2, namingB.Remaining);
    }

    private sealed record Budget(int Limit, int Remaining, long Reset);

    private static async Task<Budget> AnonymousAsync(HttpClient client, string? forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        if (forwardedFor is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        }

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new Budget(int.Parse(response.Headers.GetValues("X-RateLimit-Limit").Single(), CultureInfo.InvariantCulture),
            int.Parse(response.Headers.GetValues("X-RateLimit-Remaining").Single(), CultureInfo.InvariantCulture),
            long.Parse(response.Headers.GetValues("X-RateLimit-Reset").Single(), CultureInfo.InvariantCulture));
    }

    /// <summary>A client whose connections leave from <paramref name="source"/> (any 127/8 address is the loopback's).</summary>
    private static HttpClient From(string source, Uri target) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = new Uri($"http://127.0.0.1:{target.Port}"),
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>haproxy in the foreground, started and stopped by the test.</summary>
    private sealed class Haproxy : IAsyncDisposable
    {
        private readonly Process process;
        private readonly DirectoryInfo directory;
        private readonly StringBuilder log = new();

        private Haproxy(Process process, DirectoryInfo directory, Uri address)
        {
            this.process = process;
            this.directory = directory;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<Haproxy> StartAsync(IReadOnlyList<int> replicaPorts, string source)
        {
            var executable = Executable() ?? throw new InvalidOperationException(
                "haproxy is not installed: scripts/prerequisites installs it (apt-get install -y haproxy).");
            var port = FreePort();
            var directory = Directory.CreateTempSubdirectory("timepoint-haproxy-");
            var servers = string.Join("\n", replicaPorts.Select((p, i) => $"    server gateway{i} 127.0.0.1:{p} source {source}"));
            var config = Path.Combine(directory.FullName, "haproxy.cfg");
            await File.WriteAllTextAsync(config, $"""
                global
                    maxconn 256

                defaults
                    mode http
                    timeout connect 5s
                    timeout client 30s
                    timeout server 30s

                frontend edge
                    bind 127.0.0.1:{port}
                    option forwardfor
                    default_backend gateways

                backend gateways
                    balance roundrobin
                {servers}

                """.Replace("\r", "", StringComparison.Ordinal));
            var info = new ProcessStartInfo(executable, ["-db", "-f", config])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            var process = Process.Start(info)!;
            var haproxy = new Haproxy(process, directory, new Uri($"http://127.0.0.1:{port}"));
            process.OutputDataReceived += (_, e) => haproxy.Append(e.Data);
            process.ErrorDataReceived += (_, e) => haproxy.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var probe = new HttpClient { BaseAddress = haproxy.Address, Timeout = TimeSpan.FromSeconds(5) };
            try
            {
                await SecurityFixture.WaitUntilAsync(async () =>
                {
                    if (process.HasExited)
                    {
                        throw new InvalidOperationException($"haproxy exited with {process.ExitCode}: {haproxy.Output}");
                    }

                    using var response = await probe.GetAsync("/health");
                    return response.StatusCode == HttpStatusCode.OK;
                }, TimeSpan.FromSeconds(20), "haproxy to answer");
            }
            catch
            {
                await haproxy.DisposeAsync();
                throw;
            }

            return haproxy;
        }

        private string Output
        {
            get
            {
                lock (log)
                {
                    return log.ToString();
                }
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (log)
                {
                    log.AppendLine(line);
                }
            }
        }

        private static string? Executable() =>
            new[] { "/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy" }.FirstOrDefault(File.Exists);

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
            directory.Delete(recursive: true);
        }
    }
}
