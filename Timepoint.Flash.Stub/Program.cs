using Timepoint.Flash.Stub;
using Timepoint.Flash.Stub.Internal;
using Timepoint.Flash.Stub.Timepoints;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayTrust();
builder.AddServiceKeys();
builder.AddFlashServices();

var app = builder.Build();

app.MapDefaultEndpoints(FlashHealth.Body);
app.UseTextInputValidation();
app.UseGatewayTrust();
app.MapTimepointsApi();
app.MapInternalUsersApi();

app.Run();

public partial class Program;
