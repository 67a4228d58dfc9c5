using Refit;
using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>Where the platform is and how the client signs its requests.</summary>
public sealed class TimepointClientOptions
{
    /// <summary>The edge, e.g. <c>http://localhost:5080</c> in development.</summary>
    public required Uri BaseAddress { get; init; }

    /// <summary>An API key, a bearer token or a token pair; null for the public routes only.</summary>
    public TimepointCredential? Credential { get; init; }

    /// <summary>The handler that sends the requests (a <see cref="SocketsHttpHandler"/> when null).</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>How long a call may take, a stream until its headers (100 s when null).</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>
/// The Timepoint platform's public API, through its edge. One client per credential; it is thread-safe and meant to
/// live as long as the application (it holds a connection pool). Every call answers a
/// <see cref="TimepointResponse{T}"/> (the value and the rate-limit and credit headers), or throws a
/// <see cref="TimepointApiException"/> carrying the problem's <c>code</c>.
/// </summary>
public sealed class TimepointClient : IDisposable
{
    private readonly HttpClient http;

    public TimepointClient(Uri baseAddress, TimepointCredential? credential = null)
        : this(new TimepointClientOptions { BaseAddress = baseAddress, Credential = credential })
    {
    }

    public TimepointClient(TimepointClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var baseAddress = new Uri(options.BaseAddress.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
        var handler = new CredentialHandler(options.Credential, baseAddress)
        {
            InnerHandler = options.Handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) },
        };
        http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = options.Timeout ?? TimeSpan.FromSeconds(100) };
        Credential = options.Credential;

        var settings = new RefitSettings { ContentSerializer = new SystemTextJsonContentSerializer(TimepointJson.Options) };
        Auth = new AuthClient(RestService.For<IAuthEndpoints>(http, settings));
        Users = new UsersClient(RestService.For<IUserEndpoints>(http, settings));
        ApiKeys = new ApiKeysClient(RestService.For<IApiKeyEndpoints>(http, settings));
        Credits = new CreditsClient(RestService.For<ICreditEndpoints>(http, settings));
        Timepoints = new TimepointsClient(RestService.For<ITimepointEndpoints>(http, settings), http);
        Clockchain = new ClockchainClient(RestService.For<IClockchainEndpoints>(http, settings));
        Pro = new ProClient(RestService.For<IProEndpoints>(http, settings));
    }

    public TimepointCredential? Credential { get; }

    public AuthClient Auth { get; }

    public UsersClient Users { get; }

    public ApiKeysClient ApiKeys { get; }

    public CreditsClient Credits { get; }

    public TimepointsClient Timepoints { get; }

    public ClockchainClient Clockchain { get; }

    public ProClient Pro { get; }

    /// <summary>A client of the same platform with another credential (its own connection pool).</summary>
    public TimepointClient With(TimepointCredential credential) =>
        new(new TimepointClientOptions { BaseAddress = http.BaseAddress!, Credential = credential, Timeout = http.Timeout });

    public void Dispose() => http.Dispose();
}
