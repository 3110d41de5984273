using BenchmarkDotNet.Running;

// Runs the hot-path benchmarks. Pick with --filter, for example:
//   dotnet run -c Release --project tests/StreamRec.Benchmarks -- --filter '*Learner*'
BenchmarkSwitcher.FromAssembly(typeof(StreamRec.Benchmarks.TopKBenchmarks).Assembly).Run(args);
