using Timepoint.Credits;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayTrust();
builder.AddServiceKeys();
builder.AddCreditsServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints(HealthEndpoints.ServiceBody("timepoint-credits"));
app.UseTextInputValidation();
app.UseGatewayTrust();
app.MapCreditsApi();
app.MapInternalCreditsApi();
app.MapServiceOpenApi();

app.Run();

public partial class Program;
