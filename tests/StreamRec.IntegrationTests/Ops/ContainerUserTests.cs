namespace StreamRec.IntegrationTests.Ops;

/// <summary>Every image in ops/ runs as a non-root user: the final stage of each Dockerfile ends with a USER that is not root.</summary>
[TestFixture]
public sealed class ContainerUserTests
{
    [Test]
    public void EveryDockerfile_RunsItsFinalStageAsANonRootUser()
    {
        var root = FindRoot();
        var dockerfiles = Directory.GetFiles(Path.Combine(root, "ops"), "*.Dockerfile");

        Assert.That(dockerfiles.Select(Path.GetFileName), Is.SupersetOf(new[] { "worker.Dockerfile", "reader.Dockerfile", "cli.Dockerfile" }));
        foreach (var file in dockerfiles)
        {
            Assert.That(FinalStageUser(File.ReadAllText(file)), Is.EqualTo("$APP_UID"), Path.GetFileName(file));
        }
    }

    [TestCase("FROM sdk AS build\nUSER $APP_UID\nFROM aspnet AS runtime\nCOPY . .\n", TestName = "USER only in the build stage")]
    [TestCase("FROM aspnet\nUSER $APP_UID\nRUN apt-get update\nUSER root\n", TestName = "USER root after the non-root one")]
    [TestCase("FROM aspnet\nUSER 0:0\n", TestName = "USER 0")]
    [TestCase("FROM aspnet\nENTRYPOINT [\"dotnet\", \"app.dll\"]\n", TestName = "no USER at all")]
    public void Checker_CatchesAnImageThatWouldRunAsRoot(string dockerfile) =>
        Assert.That(FinalStageUser(dockerfile), Is.Null);

    /// <summary>The user the final stage runs as, or null when it is root or unset.</summary>
    internal static string? FinalStageUser(string dockerfile)
    {
        // Join continued lines, drop comments, and keep the instructions after the last FROM.
        var lines = dockerfile.Replace("\\\n", " ", StringComparison.Ordinal).Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();
        var lastFrom = lines.FindLastIndex(line => line.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase));
        var user = lines.Skip(lastFrom + 1)
            .Where(line => line.StartsWith("USER ", StringComparison.OrdinalIgnoreCase))
            .Select(line => line[5..].Trim())
            .LastOrDefault();
        var name = user?.Split(':')[0];
        return name is null or "" or "root" or "0" ? null : user;
    }

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
}
