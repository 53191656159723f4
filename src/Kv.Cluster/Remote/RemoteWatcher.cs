using Kv.Cluster.Actor;
using Kv.Cluster.Dispatch;

namespace Kv.Cluster.Remote;

/// <summary>
/// Remote death watch bookkeeping: which local actors watch which remote actors. When a remote
/// incarnation is quarantined or declared failed, every watcher of an actor there gets
/// Terminated (address terminated). Periodically declares failed any watched system that has not
/// answered heartbeats for the watch-failure timeout.
/// </summary>
internal sealed class RemoteWatcher(RemoteTransport transport)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<RemoteActorRef, HashSet<InternalActorRef>> _watched = [];

    public void AddWatch(RemoteActorRef watchee, InternalActorRef watcher)
    {
        lock (_lock)
        {
            if (!_watched.TryGetValue(watchee, out var set))
                _watched[watchee] = set = [];
            set.Add(watcher);
        }
    }

    public void RemoveWatch(RemoteActorRef watchee, InternalActorRef watcher)
    {
        lock (_lock)
        {
            if (_watched.TryGetValue(watchee, out var set) && set.Remove(watcher) && set.Count == 0)
                _watched.Remove(watchee);
        }
    }

    /// <summary>The remote actor stopped (its DeathWatchNotification arrived): forget it.</summary>
    public void Forget(RemoteActorRef watchee)
    {
        lock (_lock)
            _watched.Remove(watchee);
    }

    /// <summary>Watch messages to re-send after a reconnect (the previous connection may have lost them).</summary>
    public List<(RemoteActorRef Watchee, InternalActorRef Watcher)> WatchesAt(Address address)
    {
        var list = new List<(RemoteActorRef, InternalActorRef)>();
        lock (_lock)
        {
            foreach (var (watchee, watchers) in _watched)
            {
                if (!watchee.Path.Address.Equals(address))
                    continue;
                foreach (var w in watchers)
                    list.Add((watchee, w));
            }
        }
        return list;
    }

    public HashSet<Address> WatchedAddresses()
    {
        var set = new HashSet<Address>();
        lock (_lock)
        {
            foreach (var watchee in _watched.Keys)
                set.Add(watchee.Path.Address);
        }
        return set;
    }

    /// <summary>Whether any remote actor of <paramref name="address"/> is watched from here.</summary>
    public bool Watches(Address address)
    {
        lock (_lock)
        {
            foreach (var watchee in _watched.Keys)
            {
                if (watchee.Path.Address.Equals(address))
                    return true;
            }
        }
        return false;
    }

    public void OnAddressTerminated(Address address)
    {
        var notify = new List<(RemoteActorRef, InternalActorRef)>();
        lock (_lock)
        {
            foreach (var (watchee, watchers) in _watched.ToArray())
            {
                if (!watchee.Path.Address.Equals(address))
                    continue;
                foreach (var w in watchers)
                    notify.Add((watchee, w));
                _watched.Remove(watchee);
            }
        }
        foreach (var (watchee, watcher) in notify)
            watcher.SendSystemMessage(new DeathWatchNotification(watchee, existenceConfirmed: false, addressTerminated: true));
    }

    /// <summary>Runs every heartbeat interval.</summary>
    public void CheckFailures()
    {
        foreach (var address in WatchedAddresses())
        {
            var silence = transport.SilenceOf(address);
            if (silence > transport.Options.WatchFailureTimeout)
                transport.DeclareFailed(address, $"no answer for {silence.TotalSeconds:0.0} s (watch-failure-timeout {transport.Options.WatchFailureTimeout.TotalSeconds:0.#} s)");
        }
    }
}
