using StreamRec.Reader.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddStreamRecReader();
var app = builder.Build();
app.MapStreamRecReader();
await app.RunAsync();
