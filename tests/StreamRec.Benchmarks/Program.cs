using BenchmarkDotNet.Running;

// Runs the hot-path benchmarks. Pick with --filter, for example:
//   dotnet run -c Release --project tests/StreamRec.Benchmarks -- --filter '*Learner*'
// `approximate` instead measures the reader's approximate top-k against the exact one (recall and latency):
//   dotnet run -c Release --project tests/StreamRec.Benchmarks -- approximate --items 100000 --dims 64 --model gaussian
if (args.Length > 0 && args[0] == "approximate")
{
    StreamRec.Benchmarks.ApproximateRecall.Run(args[1..]);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(StreamRec.Benchmarks.TopKBenchmarks).Assembly).Run(args);
