using System.Net;
using System.Net.Http.Json;
using Timepoint.Client.Endpoints;

namespace Timepoint.Client.Http;

/// <summary>
/// Puts the credential on every request. With a token pair: renews the access token shortly before it expires, and on
/// a 401 renews it once and sends the request again (the first answer is kept when the refresh is refused).
/// </summary>
internal sealed class CredentialHandler(TimepointCredential? credential, Uri baseAddress) : DelegatingHandler
{
    private const string RefreshPath = "api/v1/auth/refresh";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (credential is not TokenPairCredential tokens)
        {
            if (credential is not null)
            {
                TimepointCredential.Apply(credential, request);
            }

            return await base.SendAsync(request, cancellationToken);
        }

        var accessToken = await tokens.AccessTokenAsync(RefreshAsync, cancellationToken);
        if (request.Content is not null)
        {
            // The body may have to be sent twice.
            await request.Content.LoadIntoBufferAsync(cancellationToken);
        }

        TokenPairCredential.Apply(request, accessToken);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        string? renewed;
        try
        {
            renewed = await tokens.RenewAsync(accessToken, RefreshAsync, cancellationToken);
        }
        catch (HttpRequestException)
        {
            renewed = null; // the platform could not refresh just now: the 401 stands, the refresh token is kept
        }

        if (renewed is null)
        {
            return response;
        }

        response.Dispose();
        TokenPairCredential.Apply(request, renewed);
        return await base.SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// <c>POST /api/v1/auth/refresh</c> past this handler: a refresh carries no access token and is never retried. Null
    /// when the refresh token is refused (a 4xx); an <see cref="HttpRequestException"/> when the platform could not answer.
    /// </summary>
    private async Task<TokenPair?> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, RefreshPath))
        {
            Content = JsonContent.Create(new RefreshRequest(refreshToken), options: TimepointJson.Options),
        };
        using var response = await base.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return await response.Content.ReadFromJsonAsync<TokenPair>(TimepointJson.Options, cancellationToken);
        }

        return (int)response.StatusCode is >= 400 and < 500 and not 408 and not 429
            ? null
            : throw new HttpRequestException($"The token refresh answered {(int)response.StatusCode}.", null, response.StatusCode);
    }
}
