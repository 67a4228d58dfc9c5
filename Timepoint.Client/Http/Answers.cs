using System.Runtime.ExceptionServices;
using Refit;

namespace Timepoint.Client.Http;

/// <summary>Turns Refit's whole answers into <see cref="TimepointResponse{T}"/>, or a refusal into a <see cref="TimepointApiException"/>.</summary>
internal static class Answers
{
    public static async Task<TimepointResponse<T>> Of<T>(Task<IApiResponse<T>> call)
    {
        using var response = await call;
        var status = Received(response);
        if (response.Error is { } error)
        {
            throw error; // a 2xx whose body is not what the contract says
        }

        return new TimepointResponse<T>(status, response.Headers!, response.Content!);
    }

    public static async Task<TimepointResponse> Of(Task<IApiResponse> call)
    {
        using var response = await call;
        return new TimepointResponse(Received(response), response.Headers!);
    }

    /// <summary>The status of a 2xx; a refusal is thrown as a <see cref="TimepointApiException"/>, a failure to send as what it was.</summary>
    private static System.Net.HttpStatusCode Received(IApiResponse response)
    {
        if (response.HasRequestError(out var requestError))
        {
            // No answer (connection refused, timeout, cancellation): the exception .NET callers expect.
            ExceptionDispatchInfo.Throw(requestError.InnerException ?? requestError);
        }

        var status = response.StatusCode!.Value;
        return response.IsSuccessStatusCode
            ? status
            : throw TimepointApiException.From(status, response.Headers!, (response.Error as ApiException)?.Content);
    }
}
