using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Worker;

[TestFixture]
public sealed class LearnerThreadTests
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(10);

    [Test]
    public void Work_RunsOnTheLearnerThread_AndWaitReturnsOnlyOnceItFinished()
    {
        using var learner = new LearnerThread("test learner");
        using var gate = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        string? ranOn = null;
        var finished = false;

        learner.Start(() =>
        {
            ranOn = Thread.CurrentThread.Name;
            started.Set();
            gate.Wait(_timeout);
            finished = true;
        });

        Assert.That(started.Wait(_timeout), Is.True, "the work never started");
        Assert.That(learner.IsBusy, Is.True);
        var waiter = Task.Run(learner.Wait);
        Assert.That(waiter.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "Wait returned while the work was still running");

        gate.Set();
        Assert.That(waiter.Wait(_timeout), Is.True);
        Assert.That(finished, Is.True);
        Assert.That(ranOn, Is.EqualTo("test learner"));
        Assert.That(learner.IsBusy, Is.False);
    }

    [Test]
    public void Start_WhileTheLastWorkStillRuns_IsRefused()
    {
        using var learner = new LearnerThread("test learner");
        using var gate = new ManualResetEventSlim(false);
        learner.Start(() => gate.Wait(_timeout));

        Assert.That(() => learner.Start(() => { }), Throws.InvalidOperationException.With.Message.Contains("still running"));

        gate.Set();
        learner.Wait();
    }

    [Test]
    public void A_FailedWork_IsRethrownByEveryLaterWaitAndStart_AndNoLaterWorkIsHandedOver()
    {
        using var learner = new LearnerThread("test learner");
        learner.Start(() => throw new InvalidOperationException("learning failed"));

        Assert.That(learner.Wait, Throws.InvalidOperationException.With.Message.EqualTo("learning failed"));
        Assert.That(learner.Wait, Throws.InvalidOperationException.With.Message.EqualTo("learning failed"), "a second Wait must fail too");

        using var ran = new ManualResetEventSlim(false);
        Assert.That(() => learner.Start(ran.Set), Throws.InvalidOperationException.With.Message.EqualTo("learning failed"));
        Assert.That(learner.IsBusy, Is.False, "work was handed over after a failure");
        Assert.That(ran.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "work ran after a failure");
    }

    [Test]
    public void Dispose_WaitsForRunningWork_WithoutRethrowing_ThenStartsAreRefusedAndWaitsReturn()
    {
        var learner = new LearnerThread("test learner");
        using var gate = new ManualResetEventSlim(false);
        var finished = false;
        learner.Start(() =>
        {
            gate.Wait(_timeout);
            finished = true;
            throw new InvalidOperationException("failed while the worker was stopping");
        });

        var disposing = Task.Run(learner.Dispose);
        Assert.That(disposing.Wait(TimeSpan.FromMilliseconds(200)), Is.False, "Dispose returned while the work was still running");
        gate.Set();
        Assert.That(disposing.Wait(_timeout), Is.True);

        Assert.That(disposing.IsCompletedSuccessfully, Is.True, "Dispose rethrew the work's failure");
        Assert.That(finished, Is.True);
        Assert.That(() => learner.Start(() => { }), Throws.InstanceOf<ObjectDisposedException>());
        // Rebalance callbacks while the consumer closes wait for learning after the thread is gone: nothing to wait for.
        Assert.That(learner.Wait, Throws.Nothing);
    }

    [Test]
    public void Inline_WorkRunsOnTheCallersThreadBeforeStartReturns_AndItsFailureIsRethrownLikeADedicatedThreads()
    {
        using var learner = new LearnerThread("test learner", dedicated: false);
        Assert.That(learner.IsDedicated, Is.False);
        var caller = Environment.CurrentManagedThreadId;
        var ranOn = -1;

        learner.Start(() => ranOn = Environment.CurrentManagedThreadId);

        Assert.That(ranOn, Is.EqualTo(caller));
        Assert.That(learner.IsBusy, Is.False);
        learner.Wait();

        learner.Start(() => throw new InvalidOperationException("learning failed"));
        Assert.That(learner.Wait, Throws.InvalidOperationException.With.Message.EqualTo("learning failed"));
        Assert.That(() => learner.Start(() => { }), Throws.InvalidOperationException.With.Message.EqualTo("learning failed"));
    }
}
