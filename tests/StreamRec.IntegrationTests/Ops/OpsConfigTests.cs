using System.Text.RegularExpressions;
using Prometheus;
using StreamRec.Reader.Observability;
using StreamRec.Worker.Observability;

namespace StreamRec.IntegrationTests.Ops;

/// <summary>
/// Keeps the deployment files honest without Docker or a cluster: docker-compose.kafka.yml and
/// ops/k8s are parsed and checked against the services' options, ports, probes and topics; the
/// alerts and the dashboard against the worker's metric names. Each check is also shown to catch a
/// deliberately broken example, so a checker that reports nothing cannot pass for a clean file.
/// </summary>
[TestFixture]
public sealed partial class OpsConfigTests
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "StreamRec.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("StreamRec.sln not found above the test directory.");
    }

    private static string ReadRepoFile(string relative) => File.ReadAllText(Path.Combine(Root, relative));

    private static string[] KubernetesManifests() =>
        [.. Directory.GetFiles(Path.Combine(Root, "ops", "k8s"), "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml").Order().Select(File.ReadAllText)];

    // ---------- the files in the repository ----------

    [Test]
    public void ComposeFile_MatchesTheServicesSettingsPortsAndTopics()
    {
        var problems = OpsConfigChecker.CheckCompose(ReadRepoFile("docker-compose.kafka.yml"));

        Assert.That(problems, Is.Empty);
    }

    [Test]
    public void KubernetesManifests_MatchTheServicesSettingsPortsProbesAndTopics()
    {
        var problems = OpsConfigChecker.CheckKubernetes(KubernetesManifests());

        Assert.That(problems, Is.Empty);
    }

    [Test]
    public void KustomizationFile_ListsEveryManifest()
    {
        var listed = Regex.Matches(ReadRepoFile("ops/k8s/kustomization.yaml"), @"^\s*-\s*(\S+\.yaml)\s*$", RegexOptions.Multiline).Select(m => m.Groups[1].Value);
        var present = Directory.GetFiles(Path.Combine(Root, "ops", "k8s"), "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml");

        Assert.That(listed, Is.EquivalentTo(present));
    }

    [Test]
    public void AlertsAndDashboard_UseOnlyMetricsTheServicesExport()
    {
        var exported = typeof(WorkerMetrics).GetProperties().Select(p => p.GetValue(new WorkerMetrics()))
            .Concat(typeof(ReaderMetrics).GetProperties().Select(p => p.GetValue(new ReaderMetrics())))
            .OfType<Collector>().Select(c => c.Name).ToHashSet();
        var used = new[] { "ops/prometheus/alerts.yml", "ops/grafana/streamrec-dashboard.json" }
            .SelectMany(f => MetricName().Matches(ReadRepoFile(f)).Select(m => m.Value))
            .Select(name => exported.Contains(name) ? name : HistogramSeries().Replace(name, ""))
            .ToHashSet();

        Assert.That(used, Has.Some.StartsWith("streamrec_worker_").And.Some.StartsWith("streamrec_reader_"));
        Assert.That(used.Except(exported), Is.Empty, "metric names exported by neither WorkerMetrics nor ReaderMetrics");
    }

    [Test]
    public void Dockerfiles_ExposeTheDefaultPortsTheirHealthChecksUse()
    {
        foreach (var (file, port) in new[] { ("ops/worker.Dockerfile", OpsConfigChecker.Worker.DefaultHttpPort), ("ops/reader.Dockerfile", OpsConfigChecker.Reader.DefaultHttpPort) })
        {
            var text = ReadRepoFile(file);
            Assert.That(text, Does.Contain($"EXPOSE {port}\n"), file);
            Assert.That(text, Does.Contain($"CMD [\"http-check\", \"/healthz\", \"{port}\"]"), file);
            Assert.That(text, Does.Contain("USER $APP_UID"), file);
        }
    }

    // ---------- the checker catches mistakes ----------

    [TestCase("Kafka__BootstrapServers", "kafka:9092")]
    [TestCase("Kafka__Client__session.timeout.ms", "10000")]
    [TestCase("Topics__0", "clicks")]
    [TestCase("Topics__12", "clicks")]
    [TestCase("learner__dimensions", "32")]
    [TestCase("Learner__EventWeights__Purchase", "1.5")]
    [TestCase("Events__MaxFutureSkew", "00:05:00")]
    [TestCase("Replay__From", "earliest")]
    public void WorkerSchema_AcceptsSettingsTheWorkerBinds(string variable, string value)
    {
        var key = SettingsSchema.KeyOf("STREAMREC_" + variable)!;

        Assert.That(OpsConfigChecker.Worker.Check(key, value), Is.Null);
    }

    [TestCase("Kafka__BootstrapServer")]
    [TestCase("Topics__first")]
    [TestCase("Learner__Dimension")]
    [TestCase("Learner")]
    [TestCase("ResolvedGroupId")]
    [TestCase("RedisEndpoint__Host")]
    public void WorkerSchema_RefusesSettingsTheWorkerDoesNotBind(string variable)
    {
        var key = SettingsSchema.KeyOf("STREAMREC_" + variable)!;

        Assert.That(OpsConfigChecker.Worker.Check(key, "x"), Is.Not.Null);
    }

    [TestCase("Model", true)]
    [TestCase("HttpPort", true)]
    [TestCase("RedisPassword", true)]
    [TestCase("PollInterval", true)]
    [TestCase("Topics__0", false)]
    [TestCase("Kafka__BootstrapServers", false)]
    public void ReaderSchema_AcceptsOnlyTheReadersSettings(string variable, bool accepted)
    {
        var problem = OpsConfigChecker.Reader.Check(SettingsSchema.KeyOf("STREAMREC_" + variable)!, variable == "PollInterval" ? "00:00:01" : variable == "HttpPort" ? "8080" : "x");

        Assert.That(problem is null, Is.EqualTo(accepted), problem);
    }

    [Test]
    public void WorkerSchema_RefusesAValueOfTheWrongType()
    {
        Assert.That(OpsConfigChecker.Worker.Check("Learner:Dimensions", "thirty-two"), Does.Contain("is not a Int32"));
    }

    [Test]
    public void ComposeCheck_ReportsAMisspelledWorkerVariable()
    {
        var compose = ValidCompose().Replace("STREAMREC_Kafka__BootstrapServers: kafka:9092", "STREAMREC_Kafka__BootstrapServer: kafka:9092", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("STREAMREC_Kafka__BootstrapServer:"));
    }

    [Test]
    public void ComposeCheck_ReportsSettingsTheWorkerRefuses()
    {
        var compose = ValidCompose().Replace("STREAMREC_DeltaInterval: \"00:00:00.250\"", "STREAMREC_DeltaInterval: \"00:00:05\"", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("DeltaInterval must be more than 0 and at most 1 s"));
    }

    [Test]
    public void ComposeCheck_ReportsMoreWorkerReplicasThanPartitions()
    {
        var compose = ValidCompose().Replace("replicas: 2", "replicas: 9", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("'clicks' has 8 partitions for 9 worker replicas"));
    }

    [Test]
    public void ComposeCheck_ReportsAMissingDeadLetterTopic()
    {
        var compose = Regex.Replace(ValidCompose(), @"^.*--topic recs\.dead-letter.*$\n", "", RegexOptions.Multiline);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("'recs.dead-letter' (DeadLetterTopic), which no topic job creates"));
    }

    [Test]
    public void ComposeCheck_ReportsAPublishedPortTheReaderDoesNotListenOn()
    {
        var compose = ValidCompose().Replace("\"8080:8080\"", "\"8080:80\"", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("publishes container port 80, but the reader listens on 8080"));
    }

    [Test]
    public void ComposeCheck_ReportsAHealthcheckOnAnotherPath()
    {
        var compose = ValidCompose().Replace("[\"CMD\", \"http-check\", \"/healthz\", \"8081\"]", "[\"CMD\", \"http-check\", \"/health\", \"8081\"]", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("checks no path of /healthz, /readyz"));
    }

    [Test]
    public void ComposeCheck_ReportsAGracePeriodShorterThanTheWorkersStop()
    {
        var compose = ValidCompose().Replace("stop_grace_period: 40s", "stop_grace_period: 30s", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("stop_grace_period is 30 s, not longer than the worker's graceful stop"));
    }

    [Test]
    public void ComposeCheck_ReportsAReaderServingAnotherModel()
    {
        var compose = Regex.Replace(ValidCompose(), @"(reader:\n(?:.*\n)*?\s+STREAMREC_Model:) recs", "$1 news");

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("serves model 'news', which no worker writes"));
    }

    [Test]
    public void ComposeCheck_ReportsAWorkerSettingGivenToTheReader()
    {
        var compose = ValidCompose().Replace("      STREAMREC_HttpPort: \"8080\"", "      STREAMREC_HttpPort: \"8080\"\n      STREAMREC_Topics__0: clicks", StringComparison.Ordinal);

        Assert.That(OpsConfigChecker.CheckCompose(compose), Has.Some.Contains("the reader has no setting 'Topics'"));
    }

    [Test]
    public void KubernetesCheck_ReportsAConfigMapKeyTheWorkerDoesNotBind()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("STREAMREC_Learner__Dimensions:", "STREAMREC_Learner__Dims:", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("STREAMREC_Learner__Dims: the worker has no setting 'Learner:Dims'"));
    }

    [Test]
    public void KubernetesCheck_ReportsAReadinessProbeOnTheLivenessPath()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("path: /readyz", "path: /healthz", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("readinessProbe checks '/healthz', expected /readyz"));
    }

    [Test]
    public void KubernetesCheck_ReportsAContainerPortOtherThanTheHttpPort()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("containerPort: 8081", "containerPort: 8080", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("declares containerPort 8080 (http), but the service listens on 8081"));
    }

    [Test]
    public void KubernetesCheck_ReportsMoreWorkerReplicasThanPartitions()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("replicas: 4", "replicas: 12", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("'clicks' has 8 partitions for 12 worker replicas"));
    }

    [Test]
    public void KubernetesCheck_ReportsAGracePeriodShorterThanTheWorkersStop()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("terminationGracePeriodSeconds is 30 s, not longer than the worker's graceful stop"));
    }

    [Test]
    public void KubernetesCheck_ReportsAPasswordFromASecretThatIsNotDefined()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("name: streamrec-redis\n  labels", "name: redis-credentials\n  labels", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("from Secret 'streamrec-redis' key 'password', which is not defined"));
    }

    [Test]
    public void KubernetesCheck_ReportsAnAutoscaledWorker()
    {
        var manifests = KubernetesManifests().Select(m => m.Replace("    kind: Deployment\n    name: streamrec-reader", "    kind: Deployment\n    name: streamrec-worker", StringComparison.Ordinal));

        Assert.That(OpsConfigChecker.CheckKubernetes(manifests), Has.Some.Contains("scales the worker"));
    }

    private static string ValidCompose() => ReadRepoFile("docker-compose.kafka.yml");

    [GeneratedRegex(@"streamrec_(worker|reader)_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();
}
