using StreamRec.Cli;

return await StreamRecCommandLine.Build().Parse(args).InvokeAsync();
