using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Timepoint.Security.Tests;

/// <summary>
/// Issue #10 against one running platform, in one class so that one order holds (xunit 2 orders tests within a class, not
/// classes): the attack corpus first (order 0; files JwtCorpusTests, HeaderTests, AuthorizationTests, CreditsEdgeTests),
/// then the soak (10), then the faults (21..24), the last two of which leave a gateway replica and identity killed.
/// </summary>
[TestCaseOrderer("Timepoint.Security.Tests.ByOrder", "Timepoint.Security.Tests")]
public sealed partial class SecurityTests : IClassFixture<SecurityFixture>, IDisposable
{
    private readonly SecurityFixture platform;
    private readonly ITestOutputHelper output;
    private readonly TcpListener loopback;
    private int loopbackConnections;

    public SecurityTests(SecurityFixture platform, ITestOutputHelper output)
    {
        this.platform = platform;
        this.output = output;
        loopback = new TcpListener(IPAddress.Loopback, 0);
        loopback.Start();
        _ = CountConnectionsAsync();
    }

    public void Dispose() => loopback.Stop();
}
