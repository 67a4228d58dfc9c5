using Timepoint.Identity;
using Timepoint.Identity.Admin;
using Timepoint.Identity.ApiKeys;
using Timepoint.Identity.Auth;
using Timepoint.Identity.Providers;
using Timepoint.Identity.Sessions;
using Timepoint.Identity.Tokens;
using Timepoint.Identity.Users;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayTrust();
builder.AddServiceKeys();
builder.AddIdentityServices();
builder.AddIdentityOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-identity"));
app.UseGatewayClientAddress();
app.UseTextInputValidation();
app.UseJsonTokenRoutes();
app.UseGatewayTrust();

app.MapAuthApi();
app.MapProvidersApi();
app.MapUsersApi();
app.MapKeysApi();
app.MapApiKeysApi();
app.MapAdminApi();
app.MapSessionsApi();
app.MapUsersAdminApi();
app.MapServiceOpenApi();

app.Run();

public partial class Program;
