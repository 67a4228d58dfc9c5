using Timepoint.Flash.Stub;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddNpgsqlDataSource("flashdb");

var app = builder.Build();

app.MapDefaultEndpoints(FlashHealth.Body);

app.Run();

public partial class Program;
