using System.CommandLine;
using StreamRec.Cli.Smoke;
using StreamRec.DevServers;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis;

namespace StreamRec.Cli.Commands;

/// <summary>
/// `streamrec smoke`: checks that Kafka and Redis work end to end on this machine, on embedded
/// servers by default (no install needed) or on real ones given by address.
/// </summary>
public static class SmokeCommand
{
    public static Command Create()
    {
        var events = new Option<int>("--events") { Description = "ClickEvents to produce and consume.", DefaultValueFactory = _ => 10_000 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the embedded topic.", DefaultValueFactory = _ => 8 };
        var redis = new Option<string?>("--redis") { Description = "host:port of a Redis to use instead of a local one." };
        var command = new Command("smoke", "Produce ClickEvents to an embedded Kafka, consume them in a group with manual commits, and round-trip protobuf through Redis.")
        {
            events, partitions, redis,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var eventCount = parse.GetValue(events);
            var partitionCount = parse.GetValue(partitions);
            if (eventCount < 1 || partitionCount < 1)
            {
                await Console.Error.WriteLineAsync("--events and --partitions must be at least 1.");
                return 2;
            }

            var redisAddress = parse.GetValue(redis);
            var redisSettings = redisAddress is null ? null : RedisEndpointSettings.Parse(redisAddress, "--redis");
            using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 3);
            kafka.CreateTopic("clicks", partitionCount);
            using var localRedis = redisSettings is null ? LocalRedis.StartRedisServerOrEmbedded() : LocalRedis.External(redisAddress!);
            Console.WriteLine($"Kafka (embedded, librdkafka mock cluster): {kafka.BootstrapServers}");
            Console.WriteLine($"Redis: {localRedis.Description}");

            await using var connection = await (redisSettings ?? RedisEndpointSettings.Parse(localRedis.Endpoint, "--redis")).ConnectAsync();
            var result = await SmokePipeline.RunAsync(
                kafka.BootstrapServers, "clicks", connection.GetDatabase(), $"streamrec:smoke:{Guid.NewGuid():N}", eventCount, cancellationToken);

            Console.WriteLine($"Produced {result.Produced} ClickEvents, consumed {result.Consumed} over {result.ConsumedPerPartition.Count} partitions in {result.Elapsed.TotalSeconds:0.00} s.");
            Console.WriteLine("Committed next offsets: " + string.Join(", ", result.CommittedNextOffsets.OrderBy(p => p.Key).Select(p => $"p{p.Key}={p.Value}")));
            Console.WriteLine($"Redis protobuf round trip ({result.RedisKey}): {(result.RedisRoundTripEqual ? "equal" : "DIFFERENT")}");
            var ok = result.Consumed == result.Produced && result.RedisRoundTripEqual;
            Console.WriteLine(ok ? "Smoke path OK." : "Smoke path FAILED.");
            return ok ? 0 : 1;
        });
        return command;
    }
}
