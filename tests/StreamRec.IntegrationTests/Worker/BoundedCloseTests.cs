using System.Diagnostics;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>The closing thread of a worker's Kafka clients, without Kafka: steps in order, a budget, failures passed on.</summary>
[TestFixture]
public sealed class BoundedCloseTests
{
    [Test]
    public void StepsThatFinish_RunInOrder_AndNothingIsAbandoned()
    {
        var ran = new List<string>();

        var hung = BoundedClose.Run(TimeSpan.FromSeconds(10), ("a", () => ran.Add("a")), ("b", () => ran.Add("b")));

        Assert.That(hung, Is.Null);
        Assert.That(ran, Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public void AStepThatNeverReturns_IsNamed_WhenTheBudgetIsUp_AndTheStepsAfterItWait()
    {
        var release = new TaskCompletionSource();
        var laterStepRan = new TaskCompletionSource();
        var clock = Stopwatch.StartNew();

        var hung = BoundedClose.Run(TimeSpan.FromMilliseconds(300), ("first", () => { }), ("stuck", () => release.Task.Wait()), ("later", laterStepRan.SetResult));
        var took = clock.Elapsed;

        Assert.That(hung, Is.EqualTo("stuck"));
        Assert.That(took, Is.InRange(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5)));
        Assert.That(laterStepRan.Task.IsCompleted, Is.False, "a step after the hung one does not run while it hangs");
        release.SetResult();
        Assert.That(laterStepRan.Task.Wait(TimeSpan.FromSeconds(10)), Is.True, "it runs on the abandoned thread once the hung step returns");
    }

    [Test]
    public void AFailingStep_DoesNotKeepTheLaterOnesFromClosing_AndItsExceptionIsThrown()
    {
        var ran = new List<string>();

        var thrown = Assert.Throws<InvalidOperationException>(() => BoundedClose.Run(
            TimeSpan.FromSeconds(10),
            ("failing", () => throw new InvalidOperationException("close failed")),
            ("later", () => ran.Add("later"))));

        Assert.That(thrown!.Message, Is.EqualTo("close failed"));
        Assert.That(ran, Is.EqualTo(new[] { "later" }));
    }
}
