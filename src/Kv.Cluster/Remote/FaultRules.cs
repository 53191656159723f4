using System.Collections.Concurrent;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;

namespace Kv.Cluster.Remote;

/// <summary>The per-remote-system rule table of one transport, switchable at runtime.</summary>
public sealed class FaultRules
{
    private readonly ConcurrentDictionary<Address, FaultRule> _rules = new();
    private readonly RemoteTransport _transport;
    private volatile bool _any;

    internal FaultRules(RemoteTransport transport) => _transport = transport;

    /// <summary>Sets the rule for the link to <paramref name="remote"/>.</summary>
    public void Set(Address remote, FaultRule rule)
    {
        if (rule.IsPassThrough)
            _rules.TryRemove(remote, out _);
        else
            _rules[remote] = rule;
        _any = !_rules.IsEmpty;
        _transport.Log.Info($"fault rule for {remote}: {Describe(rule)}");
    }

    /// <summary>Abruptly closes every connection to and from <paramref name="remote"/> (they reconnect as usual).</summary>
    public void Disconnect(Address remote) => _transport.AbortConnections(remote);

    /// <summary>The rule for <paramref name="remote"/>.</summary>
    public FaultRule Get(Address remote) =>
        _any && _rules.TryGetValue(remote, out var rule) ? rule : FaultRule.PassThrough;

    private static string Describe(FaultRule r) => r.IsPassThrough ? "pass-through"
        : r.Drop is { } d ? $"drop {d}"
        : r.SendBytesPerSecond > 0 ? $"throttle {r.SendBytesPerSecond} B/s"
        : $"delay {r.SendDelay.TotalMilliseconds:0} ms";
}
