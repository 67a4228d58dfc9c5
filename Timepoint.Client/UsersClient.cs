using Timepoint.Client.Endpoints;
using Timepoint.Client.Http;

namespace Timepoint.Client;

/// <summary>The caller's profile and data (<c>/api/v1/users/me*</c>).</summary>
public sealed class UsersClient
{
    private readonly IUserEndpoints endpoints;

    internal UsersClient(IUserEndpoints endpoints) => this.endpoints = endpoints;

    public Task<TimepointResponse<UserProfile>> GetProfileAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.GetAsync(cancellationToken));

    /// <summary>Changes the display name and/or the avatar URL; nothing else of a profile can be changed by its user.</summary>
    public Task<TimepointResponse<UserProfile>> UpdateProfileAsync(ProfileUpdate update, CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.UpdateAsync(update, cancellationToken));

    /// <summary>Everything the platform holds about the caller, as one document (signed-in users only).</summary>
    public Task<TimepointResponse<UserExport>> ExportAsync(CancellationToken cancellationToken = default) =>
        Answers.Of(endpoints.ExportAsync(cancellationToken));
}
