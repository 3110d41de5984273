using Microsoft.AspNetCore.Builder;
using StreamRec.Worker.Hosting;

// The worker container's entry point; `streamrec worker` runs the same host.
var builder = WebApplication.CreateSlimBuilder(args);
builder.AddStreamRecWorker();
var app = builder.Build();
app.MapStreamRecWorkerEndpoints();
await app.RunAsync();
