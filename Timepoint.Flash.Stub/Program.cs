using Timepoint.Flash.Stub;
using Timepoint.Flash.Stub.Internal;
using Timepoint.Flash.Stub.Timepoints;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayTrust();
builder.AddServiceKeys();
builder.AddFlashServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints(FlashHealth.Body);
app.UseTextInputValidation();
app.UseGatewayTrust();
app.MapTimepointsApi();
app.MapInternalUsersApi();
app.MapServiceOpenApi();

app.Run();

public partial class Program;
