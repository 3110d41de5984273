using System.Threading.Channels;
using StreamRec.Client;

namespace StreamRec.Reader.Serving;

/// <summary>
/// Coalesces concurrent single-user rankings: one worker per core takes every request waiting (up to
/// <see cref="Ranking.MaxUsersPerPass"/> of one model generation) and ranks them in one pass over the
/// items. Idle, a request is ranked alone at once; under load, passes grow and the item table is read
/// once per pass rather than once per request. Each request is still answered from the generation it
/// read. Thread-safe; owns its workers and stops them on dispose.
/// </summary>
internal sealed class RankingBatcher : IAsyncDisposable
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private readonly Task[] _workers;

    private readonly ApproximateSearch? _approximate;

    /// <param name="approximate">Approximate search to rank with where it applies; none ranks every request exactly.</param>
    public RankingBatcher(ApproximateSearch? approximate = null)
    {
        _approximate = approximate;
        _workers = [.. Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(WorkAsync))];
    }

    /// <summary>The user's top k from <paramref name="model"/>, ranked with whatever else is waiting.</summary>
    public Task<RecommendedItem[]> RankAsync(ServingModel model, UserEntry user, int k, bool excludeSeen)
    {
        var pending = new Pending(model, new RankRequest(user, k, excludeSeen), new TaskCompletionSource<RecommendedItem[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(RankingBatcher));
        }

        return pending.Result.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_workers).ConfigureAwait(false);
    }

    private async Task WorkAsync()
    {
        var taken = new List<Pending>(Ranking.MaxUsersPerPass);
        var requests = new RankRequest[Ranking.MaxUsersPerPass];
        Pending? carried = null;
        while (carried is not null || await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            taken.Clear();
            if (carried is not null)
            {
                taken.Add(carried);
                carried = null;
            }

            while (taken.Count < Ranking.MaxUsersPerPass && _queue.Reader.TryRead(out var next))
            {
                // One pass ranks one generation; a request of another waits for the next pass.
                if (taken.Count > 0 && !ReferenceEquals(next.Model, taken[0].Model))
                {
                    carried = next;
                    break;
                }

                taken.Add(next);
            }

            if (taken.Count == 0)
            {
                continue;
            }

            for (var i = 0; i < taken.Count; i++)
            {
                requests[i] = taken[i].Request;
            }

            try
            {
                var results = Ranking.ForUsers(taken[0].Model, requests.AsSpan(0, taken.Count), approximate: _approximate);
                for (var i = 0; i < taken.Count; i++)
                {
                    taken[i].Result.SetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                // Hand the failure to the requests (they answer 500); the worker goes on with the next pass.
                foreach (var pending in taken)
                {
                    pending.Result.TrySetException(ex);
                }
            }
        }
    }

    private sealed record Pending(ServingModel Model, RankRequest Request, TaskCompletionSource<RecommendedItem[]> Result);
}
