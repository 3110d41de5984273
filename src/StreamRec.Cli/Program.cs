using System.CommandLine;
using StreamRec.Cli;

// Ctrl-C cancels the command's token; the grace period lets `demo` drain and write its report
// (the parser's default would end the process after 2 s).
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(75) };
return await StreamRecCommandLine.Build().Parse(args).InvokeAsync(invocation);
