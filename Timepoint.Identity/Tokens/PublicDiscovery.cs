using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Timepoint.Identity.Tokens;

/// <summary>
/// OpenIddict resolves the discovery document's relative endpoints against the request's own address, which here is
/// identity's internal one (the edge forwards to it). Resolving them against the issuer (the public URL) makes the document
/// name only addresses clients can reach, whoever asks. Requests are still matched by path alone, so every endpoint keeps
/// answering on identity's internal address too.
/// </summary>
public sealed class PublicDiscovery : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<PublicDiscovery>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachEndpoints.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        // Set with SetIssuer at start (validated as an absolute URL ending with '/').
        context.BaseUri = context.Options.Issuer;
        return ValueTask.CompletedTask;
    }
}
