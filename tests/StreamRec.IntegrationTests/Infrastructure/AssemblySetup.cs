using StreamRec.IntegrationTests.Infrastructure;

namespace StreamRec.IntegrationTests;

/// <summary>Stops the shared servers once every test in the assembly has run.</summary>
[SetUpFixture]
public sealed class AssemblySetup
{
    [OneTimeTearDown]
    public async Task StopSharedServers() => await TestRedis.StopAsync();
}
