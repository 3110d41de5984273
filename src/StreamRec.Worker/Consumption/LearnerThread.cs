using System.Runtime.ExceptionServices;

namespace StreamRec.Worker.Consumption;

/// <summary>
/// A dedicated thread that runs one piece of work at a time for the consumer thread, which hands it a
/// decoded batch to learn, takes and decodes the next batch meanwhile, and waits for it before it
/// touches the model again. Work never overlaps other work handed to this thread.
/// </summary>
/// <remarks>
/// <para>A thread of its own rather than the thread pool: the pool also runs checkpoint publishing, and a
/// batch queued behind that work would hold the consumer thread up at its next wait. The hand-over
/// events are set and waited on with full fences, so the consumer thread sees every write the work
/// made once <see cref="Wait"/> returns, and the work sees everything written before <see cref="Start"/>.</para>
/// <para>Without a second CPU (<see cref="Environment.ProcessorCount"/> 1, as in a container limited to one
/// core) nothing can overlap, and handing batches between threads only costs: <see cref="ForThisMachine"/> then
/// runs the work inline, inside <see cref="Start"/>, with the same failure rules.</para>
/// </remarks>
internal sealed class LearnerThread : IDisposable
{
    private readonly Thread? _thread;
    private readonly ManualResetEventSlim _workReady = new(false);
    private readonly ManualResetEventSlim _idle = new(true);
    private Action? _work;
    private ExceptionDispatchInfo? _failure;
    private volatile bool _stopping;
    private volatile bool _disposed;

    /// <param name="name">The thread's name.</param>
    /// <param name="dedicated">False: no thread; <see cref="Start"/> runs the work on the caller's thread before it returns.</param>
    public LearnerThread(string name, bool dedicated = true)
    {
        if (dedicated)
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = name };
            _thread.Start();
        }
    }

    /// <summary>A dedicated thread where the process may use more than one CPU, inline work where it may not.</summary>
    public static LearnerThread ForThisMachine(string name) => new(name, dedicated: Environment.ProcessorCount > 1);

    /// <summary>True when work runs on a thread of its own, false when it runs inline.</summary>
    public bool IsDedicated => _thread is not null;

    /// <summary>True while work handed over has not finished.</summary>
    public bool IsBusy => !_idle.IsSet;

    /// <summary>
    /// Runs <paramref name="work"/> on this thread; the previous work must have been waited for. Once any work
    /// failed, rethrows that failure instead: work after a failure would build on a half-learned batch.
    /// </summary>
    public void Start(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_idle.IsSet)
        {
            throw new InvalidOperationException("The learner thread is still running the previous work.");
        }

        _failure?.Throw();

        _idle.Reset();
        _work = work;
        if (_thread is null)
        {
            RunWork();
            return;
        }

        _workReady.Set();
    }

    /// <summary>
    /// Waits until the work handed over last has finished, and rethrows what any work threw. A failure stays:
    /// every later call rethrows it too, so it surfaces even where a caller's exception is swallowed (Kafka callbacks).
    /// After <see cref="Dispose"/> it returns at once: callbacks that run while the consumer closes find nothing to wait for.
    /// </summary>
    public void Wait()
    {
        if (_disposed)
        {
            return;
        }

        _idle.Wait();
        _failure?.Throw();
    }

    /// <summary>Waits for work still running (a failure is not rethrown: the caller is already tearing down), then ends the thread.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _idle.Wait();
        _stopping = true;
        _workReady.Set();
        _thread?.Join();
        _workReady.Dispose();
        _idle.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            _workReady.Wait();
            _workReady.Reset();
            if (_stopping)
            {
                return;
            }

            RunWork();
        }
    }

    private void RunWork()
    {
        try
        {
            _work!();
        }
        catch (Exception ex)
        {
            _failure = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            _work = null;
            _idle.Set();
        }
    }
}
