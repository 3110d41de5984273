using System.Globalization;
using System.Text.RegularExpressions;
using StreamRec.Reader.Hosting;
using StreamRec.Worker.Hosting;
using YamlDotNet.RepresentationModel;

namespace StreamRec.IntegrationTests.Ops;

/// <summary>
/// Checks deployment files (docker-compose.kafka.yml, ops/k8s) against what the services read: every
/// <c>STREAMREC_</c> variable is a setting of the service and passes its validation, ports and probes
/// match the service's HttpPort and endpoints, the clickstream topics have at least as many partitions
/// as worker replicas, the dead-letter and item-deltas topics exist, and the stop grace period is
/// longer than the worker's graceful stop. Returns problems as sentences; none when all is well.
/// </summary>
public static partial class OpsConfigChecker
{
    /// <summary>What the worker host adds to ShutdownTimeout before it gives up (WorkerHostingExtensions).</summary>
    public static readonly TimeSpan HostShutdownMargin = TimeSpan.FromSeconds(5);

    public static SettingsSchema Worker { get; } = SettingsSchema.FromOptionsType("worker", typeof(WorkerOptions));

    public static SettingsSchema Reader { get; } = SettingsSchema.FromOptionsType("reader", typeof(ReaderOptions));

    private static readonly string[] HealthPaths = ["/healthz", "/readyz"];

    /// <summary>Placeholder for values that come from a Secret or an interpolation without a default.</summary>
    private const string SecretPlaceholder = "secret-value";

    // ---------- docker compose ----------

    public static IReadOnlyList<string> CheckCompose(string yaml)
    {
        var problems = new List<string>();
        var root = LoadDocuments(yaml).Single();
        if (Get(root, "services") is not YamlMappingNode services)
        {
            return ["the compose file has no services"];
        }

        var workers = new List<(string Name, Dictionary<string, string> Settings, int Replicas)>();
        var readers = new List<(string Name, Dictionary<string, string> Settings)>();
        var created = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (nameNode, serviceNode) in services.Children)
        {
            var name = ((YamlScalarNode)nameNode).Value!;
            var service = (YamlMappingNode)serviceNode;
            foreach (var (topic, partitions) in CreatedTopics(string.Join('\n', Scalars(Get(service, "entrypoint")).Concat(Scalars(Get(service, "command"))))))
            {
                created[topic] = partitions;
            }

            var schema = SchemaOf(Text(Get(Get(service, "build"), "dockerfile")), Text(Get(service, "image")));
            if (schema is null)
            {
                continue;
            }

            var settings = CheckEnvironment($"compose service '{name}'", schema, ComposeEnvironment(Get(service, "environment")), problems);
            var port = EffectivePort(schema, settings, $"compose service '{name}'", problems);
            CheckComposePorts(name, service, port, schema, problems);
            CheckComposeHealthcheck(name, service, port, problems);
            if (schema == Worker)
            {
                var replicas = Get(Get(service, "deploy"), "replicas") is YamlScalarNode r ? int.Parse(r.Value!, CultureInfo.InvariantCulture) : 1;
                workers.Add((name, settings, replicas));
                CheckGracePeriod($"compose service '{name}' stop_grace_period", ParseDuration(Text(Get(service, "stop_grace_period")) ?? "10s"), settings, problems);
            }
            else
            {
                readers.Add((name, settings));
            }
        }

        if (workers.Count == 0)
        {
            problems.Add("the compose file runs no worker");
        }

        CheckTopics("compose", workers.Select(w => (w.Name, w.Settings)).ToList(), workers.Sum(w => w.Replicas), created, problems);
        CheckSameModel("compose", workers.Select(w => w.Settings), readers.Select(r => (r.Name, r.Settings)), problems);
        return problems;
    }

    private static void CheckComposePorts(string name, YamlMappingNode service, int port, SettingsSchema schema, List<string> problems)
    {
        var containerPorts = Scalars(Get(service, "ports")).Select(p => p.Split(':')[^1].Split('/')[0]).ToList();
        if (schema == Reader && containerPorts.Count == 0)
        {
            problems.Add($"compose service '{name}' publishes no port: the reader must be reachable from the host");
        }

        foreach (var containerPort in containerPorts.Where(p => p != port.ToString(CultureInfo.InvariantCulture)))
        {
            problems.Add($"compose service '{name}' publishes container port {containerPort}, but the {schema.Service} listens on {port}");
        }
    }

    private static void CheckComposeHealthcheck(string name, YamlMappingNode service, int port, List<string> problems)
    {
        var test = string.Join(' ', Scalars(Get(Get(service, "healthcheck"), "test")));
        if (test.Length == 0)
        {
            return; // the image's HEALTHCHECK applies
        }

        var match = HttpCheckCommand().Match(test) is { Success: true } m ? (Path: m.Groups["path"].Value, Port: m.Groups["port"].Value)
            : UrlInCommand().Match(test) is { Success: true } u ? (Path: u.Groups["path"].Value, Port: u.Groups["port"].Value)
            : (Path: "", Port: "");
        if (!HealthPaths.Contains(match.Path))
        {
            problems.Add($"compose service '{name}' healthcheck '{test}' checks no path of {string.Join(", ", HealthPaths)}");
        }

        if (match.Port.Length > 0 && match.Port != port.ToString(CultureInfo.InvariantCulture))
        {
            problems.Add($"compose service '{name}' healthcheck uses port {match.Port}, but the service listens on {port}");
        }
    }

    private static Dictionary<string, string> ComposeEnvironment(YamlNode? node)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                {
                    environment[((YamlScalarNode)key).Value!] = Interpolate(Text(value) ?? "");
                }

                break;
            case YamlSequenceNode list:
                foreach (var entry in Scalars(list))
                {
                    var equals = entry.IndexOf('=', StringComparison.Ordinal);
                    environment[equals < 0 ? entry : entry[..equals]] = equals < 0 ? "" : Interpolate(entry[(equals + 1)..]);
                }

                break;
        }

        return environment;
    }

    /// <summary>Compose's <c>${VAR:-default}</c> becomes the default; <c>${VAR}</c> a placeholder.</summary>
    private static string Interpolate(string value) =>
        ComposeVariable().Replace(value, m => m.Groups["default"].Success ? m.Groups["default"].Value : SecretPlaceholder);

    // ---------- Kubernetes ----------

    public static IReadOnlyList<string> CheckKubernetes(IEnumerable<string> manifests)
    {
        var problems = new List<string>();
        var objects = manifests.SelectMany(LoadDocuments).OfType<YamlMappingNode>().ToList();
        var configMaps = Named(objects, "ConfigMap").ToDictionary(o => o.Name, o => Values(Get(o.Node, "data")));
        var secrets = Named(objects, "Secret").ToDictionary(o => o.Name, o => Keys(Get(o.Node, "data")).Concat(Keys(Get(o.Node, "stringData"))).ToList());
        var created = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var job in Named(objects, "Job"))
        {
            foreach (var container in Containers(job.Node))
            {
                foreach (var (topic, partitions) in CreatedTopics(string.Join('\n', Scalars(Get(container, "command")).Concat(Scalars(Get(container, "args"))))))
                {
                    created[topic] = partitions;
                }
            }
        }

        var workers = new List<(string Name, Dictionary<string, string> Settings)>();
        var readers = new List<(string Name, Dictionary<string, string> Settings)>();
        var workerReplicas = 0;
        var deployments = Named(objects, "Deployment").ToList();
        foreach (var (name, deployment) in deployments)
        {
            var podSpec = Get(Get(Get(deployment, "spec"), "template"), "spec");
            foreach (var container in Containers(deployment))
            {
                var schema = SchemaOf(null, Text(Get(container, "image")));
                if (schema is null)
                {
                    continue;
                }

                var where = $"Deployment '{name}' container '{Text(Get(container, "name"))}'";
                var environment = KubernetesEnvironment(where, container, configMaps, secrets, problems);
                var settings = CheckEnvironment(where, schema, environment, problems);
                var port = EffectivePort(schema, settings, where, problems);
                CheckKubernetesPortsAndProbes(where, container, port, problems);
                var annotated = Text(Get(Get(Get(Get(Get(deployment, "spec"), "template"), "metadata"), "annotations"), "prometheus.io/port"));
                if (annotated is not null && annotated != port.ToString(CultureInfo.InvariantCulture))
                {
                    problems.Add($"Deployment '{name}' asks Prometheus to scrape port {annotated}, but the {schema.Service} listens on {port}");
                }

                if (schema == Worker)
                {
                    workers.Add((name, settings));
                    workerReplicas += Get(Get(deployment, "spec"), "replicas") is YamlScalarNode r ? int.Parse(r.Value!, CultureInfo.InvariantCulture) : 1;
                    var grace = Text(Get(podSpec, "terminationGracePeriodSeconds")) is { } seconds ? TimeSpan.FromSeconds(int.Parse(seconds, CultureInfo.InvariantCulture)) : TimeSpan.FromSeconds(30);
                    CheckGracePeriod($"Deployment '{name}' terminationGracePeriodSeconds", grace, settings, problems);
                }
                else
                {
                    readers.Add((name, settings));
                }
            }
        }

        if (workers.Count == 0)
        {
            problems.Add("the manifests run no worker");
        }

        foreach (var (name, hpa) in Named(objects, "HorizontalPodAutoscaler"))
        {
            var target = Text(Get(Get(Get(hpa, "spec"), "scaleTargetRef"), "name"));
            if (workers.Any(w => w.Name == target))
            {
                problems.Add($"HorizontalPodAutoscaler '{name}' scales the worker: replicas must stay at or below the partitions");
            }
            else if (!deployments.Any(d => d.Name == target))
            {
                problems.Add($"HorizontalPodAutoscaler '{name}' scales '{target}', which is not a Deployment here");
            }
        }

        foreach (var (name, service) in Named(objects, "Service"))
        {
            CheckServiceTargets(name, service, deployments, problems);
        }

        CheckTopics("manifests", workers, workerReplicas, created, problems);
        CheckSameModel("manifests", workers.Select(w => w.Settings), readers, problems);
        return problems;
    }

    private static Dictionary<string, string> KubernetesEnvironment(string where, YamlMappingNode container,
        Dictionary<string, Dictionary<string, string>> configMaps, Dictionary<string, List<string>> secrets, List<string> problems)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in Get(container, "envFrom") is YamlSequenceNode envFrom ? envFrom.Children.OfType<YamlMappingNode>() : [])
        {
            var prefix = Text(Get(source, "prefix")) ?? "";
            if (Text(Get(Get(source, "configMapRef"), "name")) is { } configMap)
            {
                if (!configMaps.TryGetValue(configMap, out var data))
                {
                    problems.Add($"{where} reads ConfigMap '{configMap}', which is not defined");
                    continue;
                }

                foreach (var (key, value) in data)
                {
                    environment[prefix + key] = value;
                }
            }

            if (Text(Get(Get(source, "secretRef"), "name")) is { } secret)
            {
                if (!secrets.TryGetValue(secret, out var keys))
                {
                    problems.Add($"{where} reads Secret '{secret}', which is not defined");
                    continue;
                }

                foreach (var key in keys)
                {
                    environment[prefix + key] = SecretPlaceholder;
                }
            }
        }

        foreach (var variable in Get(container, "env") is YamlSequenceNode env ? env.Children.OfType<YamlMappingNode>() : [])
        {
            var name = Text(Get(variable, "name"))!;
            var from = Get(variable, "valueFrom");
            if (Get(from, "secretKeyRef") is { } secretRef)
            {
                var (secret, key) = (Text(Get(secretRef, "name"))!, Text(Get(secretRef, "key"))!);
                if (!secrets.TryGetValue(secret, out var keys) || !keys.Contains(key))
                {
                    problems.Add($"{where} sets {name} from Secret '{secret}' key '{key}', which is not defined");
                }

                environment[name] = SecretPlaceholder;
            }
            else if (Get(from, "configMapKeyRef") is { } configMapRef)
            {
                var (configMap, key) = (Text(Get(configMapRef, "name"))!, Text(Get(configMapRef, "key"))!);
                if (!configMaps.TryGetValue(configMap, out var data) || !data.TryGetValue(key, out var value))
                {
                    problems.Add($"{where} sets {name} from ConfigMap '{configMap}' key '{key}', which is not defined");
                    value = "";
                }

                environment[name] = value;
            }
            else
            {
                environment[name] = Text(Get(variable, "value")) ?? "";
            }
        }

        return environment;
    }

    private static void CheckKubernetesPortsAndProbes(string where, YamlMappingNode container, int port, List<string> problems)
    {
        var ports = Get(container, "ports") is YamlSequenceNode list ? list.Children.OfType<YamlMappingNode>().ToList() : [];
        var named = ports.ToDictionary(p => Text(Get(p, "name")) ?? "", p => Text(Get(p, "containerPort")) ?? "");
        if (ports.Count == 0)
        {
            problems.Add($"{where} declares no container port");
        }

        foreach (var (portName, number) in named.Where(p => p.Value != port.ToString(CultureInfo.InvariantCulture)))
        {
            problems.Add($"{where} declares containerPort {number} ({portName}), but the service listens on {port}");
        }

        foreach (var (probe, expected) in new[] { ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", null) })
        {
            if (Get(Get(container, probe), "httpGet") is not YamlMappingNode httpGet)
            {
                if (probe != "startupProbe")
                {
                    problems.Add($"{where} has no HTTP {probe}");
                }

                continue;
            }

            var path = Text(Get(httpGet, "path"));
            if (expected is not null ? path != expected : !HealthPaths.Contains(path))
            {
                problems.Add($"{where} {probe} checks '{path}', expected {expected ?? string.Join(" or ", HealthPaths)}");
            }

            var probePort = Text(Get(httpGet, "port"));
            var resolved = probePort is not null && named.TryGetValue(probePort, out var number) ? number : probePort;
            if (resolved != port.ToString(CultureInfo.InvariantCulture))
            {
                problems.Add($"{where} {probe} uses port {probePort}, but the service listens on {port}");
            }
        }
    }

    private static void CheckServiceTargets(string name, YamlMappingNode service, List<(string Name, YamlMappingNode Node)> deployments, List<string> problems)
    {
        var selector = Get(Get(service, "spec"), "selector") as YamlMappingNode;
        var selected = deployments.Where(d => selector is not null && selector.Children.All(s =>
            Text(Get(Get(Get(Get(d.Node, "spec"), "template"), "metadata"), "labels") is YamlMappingNode labels ? Get(labels, Text(s.Key)!) : null) == Text(s.Value))).ToList();
        if (selected.Count == 0)
        {
            problems.Add($"Service '{name}' selects no Deployment");
            return;
        }

        var containerPorts = selected.SelectMany(d => Containers(d.Node)).SelectMany(c => Get(c, "ports") is YamlSequenceNode p ? p.Children.OfType<YamlMappingNode>() : [])
            .Select(p => (Name: Text(Get(p, "name")), Number: Text(Get(p, "containerPort")))).ToList();
        foreach (var servicePort in Get(Get(service, "spec"), "ports") is YamlSequenceNode ports ? ports.Children.OfType<YamlMappingNode>() : [])
        {
            var target = Text(Get(servicePort, "targetPort")) ?? Text(Get(servicePort, "port"));
            if (!containerPorts.Any(p => p.Name == target || p.Number == target))
            {
                problems.Add($"Service '{name}' targets port '{target}', which the selected pods do not declare");
            }
        }
    }

    // ---------- shared checks ----------

    private static Dictionary<string, string> CheckEnvironment(string where, SettingsSchema schema, Dictionary<string, string> environment, List<string> problems)
    {
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (variable, value) in environment)
        {
            if (SettingsSchema.KeyOf(variable) is not { } key)
            {
                continue;
            }

            if (schema.Check(key, value) is { } problem)
            {
                problems.Add($"{where} sets {variable}: {problem}");
                continue;
            }

            settings[key] = value;
        }

        problems.AddRange(schema.BindAndValidate(settings).Select(p => $"{where}: {p}"));
        return settings;
    }

    private static int EffectivePort(SettingsSchema schema, Dictionary<string, string> settings, string where, List<string> problems)
    {
        if (!settings.TryGetValue("HttpPort", out var text))
        {
            return schema.DefaultHttpPort;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return port;
        }

        problems.Add($"{where}: HttpPort '{text}' is not a port");
        return schema.DefaultHttpPort;
    }

    private static void CheckGracePeriod(string where, TimeSpan grace, Dictionary<string, string> settings, List<string> problems)
    {
        var shutdown = settings.TryGetValue("ShutdownTimeout", out var text) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : Worker.DefaultShutdownTimeout!.Value;
        if (grace <= shutdown + HostShutdownMargin)
        {
            problems.Add($"{where} is {grace.TotalSeconds:0} s, not longer than the worker's graceful stop (ShutdownTimeout {shutdown.TotalSeconds:0} s + {HostShutdownMargin.TotalSeconds:0} s): the stop would be cut short");
        }
    }

    private static void CheckTopics(string where, List<(string Name, Dictionary<string, string> Settings)> workers, int replicas,
        Dictionary<string, int> created, List<string> problems)
    {
        foreach (var (name, settings) in workers)
        {
            var model = settings.GetValueOrDefault("Model", "");
            var topics = settings.Where(s => s.Key.StartsWith("Topics:", StringComparison.OrdinalIgnoreCase)).Select(s => s.Value).ToList();
            if (topics.Count == 0)
            {
                problems.Add($"{where}: worker '{name}' names no topic (Topics__0), so its partitions cannot be checked");
            }

            foreach (var topic in topics)
            {
                if (!created.TryGetValue(topic, out var partitions))
                {
                    problems.Add($"{where}: worker '{name}' consumes '{topic}', which no topic job creates");
                }
                else if (partitions < replicas)
                {
                    problems.Add($"{where}: '{topic}' has {partitions} partitions for {replicas} worker replicas; replicas beyond the partitions sit idle");
                }
            }

            foreach (var (setting, fallback) in new[] { ("DeadLetterTopic", $"{model}.dead-letter"), ("ItemDeltasTopic", $"{model}.item-deltas") })
            {
                var topic = settings.GetValueOrDefault(setting, fallback);
                if (!created.ContainsKey(topic))
                {
                    problems.Add($"{where}: worker '{name}' writes '{topic}' ({setting}), which no topic job creates");
                }
            }
        }
    }

    private static void CheckSameModel(string where, IEnumerable<Dictionary<string, string>> workers, IEnumerable<(string Name, Dictionary<string, string> Settings)> readers, List<string> problems)
    {
        var models = workers.Select(w => w.GetValueOrDefault("Model", "")).ToHashSet();
        foreach (var (name, settings) in readers)
        {
            var model = settings.GetValueOrDefault("Model", "");
            if (!models.Contains(model))
            {
                problems.Add($"{where}: reader '{name}' serves model '{model}', which no worker writes ({string.Join(", ", models)})");
            }
        }
    }

    /// <summary>(topic, partitions) of every <c>kafka-topics.sh --create</c> line in a script.</summary>
    public static IEnumerable<(string Topic, int Partitions)> CreatedTopics(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        foreach (var line in script.Split('\n').Where(l => l.Contains("kafka-topics.sh", StringComparison.Ordinal) && l.Contains("--create", StringComparison.Ordinal)))
        {
            var topic = TopicArgument().Match(line);
            var partitions = PartitionsArgument().Match(line);
            if (topic.Success)
            {
                yield return (topic.Groups[1].Value, partitions.Success ? int.Parse(partitions.Groups[1].Value, CultureInfo.InvariantCulture) : 1);
            }
        }
    }

    private static SettingsSchema? SchemaOf(string? dockerfile, string? image) =>
        dockerfile?.EndsWith("worker.Dockerfile", StringComparison.Ordinal) == true || image?.Contains("streamrec-worker", StringComparison.Ordinal) == true ? Worker
        : dockerfile?.EndsWith("reader.Dockerfile", StringComparison.Ordinal) == true || image?.Contains("streamrec-reader", StringComparison.Ordinal) == true ? Reader
        : null;

    private static TimeSpan ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        foreach (Match part in DurationPart().Matches(text))
        {
            var value = double.Parse(part.Groups["value"].Value, CultureInfo.InvariantCulture);
            total += part.Groups["unit"].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                _ => TimeSpan.FromSeconds(value),
            };
        }

        return total;
    }

    // ---------- YAML helpers ----------

    private static List<YamlNode> LoadDocuments(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => d.RootNode).ToList();
    }

    private static YamlNode? Get(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Text(YamlNode? node) => (node as YamlScalarNode)?.Value;

    private static IEnumerable<string> Scalars(YamlNode? node) => node switch
    {
        YamlScalarNode scalar when scalar.Value is not null => [scalar.Value],
        YamlSequenceNode sequence => sequence.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? ""),
        _ => [],
    };

    private static List<string> Keys(YamlNode? node) =>
        node is YamlMappingNode map ? map.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value!).ToList() : [];

    private static IEnumerable<(string Name, YamlMappingNode Node)> Named(List<YamlMappingNode> objects, string kind) =>
        objects.Where(o => Text(Get(o, "kind")) == kind).Select(o => (Text(Get(Get(o, "metadata"), "name")) ?? "", o));

    private static IEnumerable<YamlMappingNode> Containers(YamlMappingNode workload) =>
        Get(Get(Get(Get(workload, "spec"), "template"), "spec"), "containers") is YamlSequenceNode containers
            ? containers.Children.OfType<YamlMappingNode>()
            : [];

    private static Dictionary<string, string> Values(YamlNode? node) =>
        node is YamlMappingNode map
            ? map.Children.ToDictionary(c => Text(c.Key)!, c => Text(c.Value) ?? "", StringComparer.Ordinal)
            : new Dictionary<string, string>(StringComparer.Ordinal);

    [GeneratedRegex(@"http-check\s+(?<path>/\S*)\s+(?<port>\d+)")]
    private static partial Regex HttpCheckCommand();

    [GeneratedRegex(@"https?://[^/:\s]+:(?<port>\d+)(?<path>/[^\s""']*)")]
    private static partial Regex UrlInCommand();

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(:-(?<default>[^}]*))?\}")]
    private static partial Regex ComposeVariable();

    [GeneratedRegex(@"--topic\s+(\S+)")]
    private static partial Regex TopicArgument();

    [GeneratedRegex(@"--partitions\s+(\d+)")]
    private static partial Regex PartitionsArgument();

    [GeneratedRegex(@"(?<value>\d+(\.\d+)?)(?<unit>ms|h|m|s)")]
    private static partial Regex DurationPart();
}
