using System.CommandLine;
using StreamRec.Cli.Commands;
using StreamRec.Cli.Commands.Checkpoint;

namespace StreamRec.Cli;

/// <summary>The `streamrec` command tree. Each sub-command lives in its own file under Commands/.</summary>
public static class StreamRecCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("StreamRec: a real-time recommender that learns from a Kafka clickstream.")
        {
            SmokeCommand.Create(),
            GenerateCommand.Create(),
            EvalCommand.Create(),
            TrainCommand.Create(),
            CheckpointCommand.Create(),
            WorkerCommand.Create(),
            ReaderCommand.Create(),
            ProduceCommand.Create(),
            ModelCommand.Create(),
            BenchCommand.Create(),
            DemoCommand.Create(),
        };
        return root;
    }
}
