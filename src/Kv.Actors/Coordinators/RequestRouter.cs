using System.Text;
using Kv.Actors.Objects;
using Kv.Actors.Ring;
using Akka.Actor;
using Akka.Cluster;
using ClusterExt = Akka.Cluster.Cluster;

namespace Kv.Actors.Coordinators;

/// <summary>
/// The node's front door for data (at /user/kv): checks a request, applies the namespace settings
/// and the request's overrides, finds the preference list in the current ring and starts one
/// coordinator actor for it. A put or delete is coordinated only on a node that holds one of the
/// key's replicas; any other node forwards it (once) to the first reachable one. A get runs
/// anywhere. pr/pw fail at once when fewer primaries are reachable. Nothing is coordinated before
/// the node serves (<see cref="ServingChanged"/>): the answer is Unavailable and the client moves on. After a delete succeeds,
/// a <see cref="TombstoneReaper"/> runs when the grace period has passed; vnodes ask for one again
/// (<see cref="ReapTombstone"/>) for every tombstone still held after that, until it is reaped.
/// </summary>
public sealed partial class RequestRouter : RingFollower, IWithTimers
{
    private readonly KvNodeOptions _options;
    private readonly string _self;
    private readonly KvStats _stats;
    private readonly Dictionary<(string Node, int Partition), ICanTell> _vnodeRefs = [];

    private sealed record ReapDue(byte[] Namespace, byte[] Key);

    /// <summary>Akka's actor timers: cancelled with the actor, and on a restart.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The access control every request passes first (null: none, as in specs that build a router alone).</summary>
    public Security.KvAccessControl? Access { get; init; }

    // The token of the request being handled (null: none): a forwarded request keeps it.
    private string? _token;

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (Access is null)
            return base.AroundReceive(receive, message);
        if (Access.Check(message, Sender, out var inner, out _) is { } refused)
        {
            _stats.Fail();
            Sender.Tell(refused, Self);
            return true;
        }
        _token = (message as Security.Authorized)?.Token;
        try
        {
            return base.AroundReceive(receive, inner);
        }
        finally
        {
            _token = null;
        }
    }

    public RequestRouter(KvNodeOptions options, string selfNode, KvStats stats)
    {
        (_options, _self, _stats) = (options, selfNode, stats);
        Receive<KvPut>(OnPut);
        Receive<KvDelete>(OnDelete);
        Receive<KvGet>(OnGet);
        Receive<KvUpdate>(OnUpdate);
        Receive<KvExists>(OnExists);
        Receive<Scans.KvScan>(OnScan);
        // One timer per key (a later delete of the key within the grace moves its reap).
        Receive<TombstoneWritten>(t => Timers.StartSingleTimer(Convert.ToHexString(t.Namespace) + "/" + Convert.ToHexString(t.Key), new ReapDue(t.Namespace, t.Key), _options.TombstoneGrace));
        Receive<ReapDue>(OnReapDue);
        Receive<ReapTombstone>(r => OnReapDue(new ReapDue(r.Namespace, r.Key)));
        ReceiveBatches();
        ReceiveConsistent();
        ReceiveBackup();
    }

    private void Fail(string reason, FailureCode code = FailureCode.InvalidRequest)
    {
        _stats.Fail();
        Sender.Tell(new RequestFailed(reason, code), Self);
    }

    /// <summary>Checks the key and namespace and returns the effective settings, or null after answering with the error.</summary>
    private NamespaceProps? Prepare(byte[] ns, byte[] key, RequestOptions options)
    {
        var props = Check(ns, key, options, out var failure);
        if (failure is not null)
            Fail(failure.Reason, failure.Code);
        return props;
    }

    // The last few namespace names decoded, by their bytes: requests name a handful of namespaces,
    // and decoding one per check was a string per request (three for a put). Used on the actor's thread only.
    private readonly (byte[] Bytes, string Name)[] _names = new (byte[], string)[4];
    private int _nextName;

    private string NameOf(byte[] ns)
    {
        foreach (var (bytes, name) in _names)
        {
            if (bytes is not null && bytes.AsSpan().SequenceEqual(ns))
                return name;
        }
        string decoded = Encoding.UTF8.GetString(ns);
        _names[_nextName] = (ns.ToArray(), decoded);
        _nextName = (_nextName + 1) % _names.Length;
        return decoded;
    }

    /// <summary>Checks the key and namespace and returns the effective settings, or null and why not.</summary>
    private NamespaceProps? Check(byte[] ns, byte[] key, RequestOptions options, out RequestFailed? failure)
    {
        failure = null;
        if (ns.Length is 0 or > 255)
        {
            failure = new RequestFailed($"a namespace must be 1..255 bytes (got {ns.Length})", FailureCode.InvalidKey);
            return null;
        }
        if (key.Length == 0 || key.Length > _options.MaxKeyBytes)
        {
            failure = new RequestFailed($"a key must be 1..{_options.MaxKeyBytes} bytes (got {key.Length})", FailureCode.InvalidKey);
            return null;
        }
        if (KnownRing is null)
        {
            failure = new RequestFailed("no ring yet: the cluster has not finished forming", FailureCode.Unavailable);
            return null;
        }
        if (!Serving)
        {
            // Another node can take it (the client moves on when told Unavailable).
            failure = new RequestFailed("this node does not serve yet: it is not an Up member of the cluster, or has not had the cluster's ring since it became one", FailureCode.Unavailable);
            return null;
        }
        string name = NameOf(ns);
        if (_options.StrictNamespaces && !_options.Namespaces.ContainsKey(name))
        {
            failure = new RequestFailed($"unknown namespace '{name}' (declare it under kv.namespaces; declared: {string.Join(", ", _options.Namespaces.Keys.Order(StringComparer.Ordinal))})", FailureCode.UnknownNamespace);
            return null;
        }
        NamespaceProps props;
        try
        {
            props = options.Apply(_options.PropsOf(name), name);
        }
        catch (ArgumentOutOfRangeException e)
        {
            failure = new RequestFailed(e.Message.Split(Environment.NewLine)[0]);
            return null;
        }
        if (props.NVal > KnownRing.Size)
        {
            failure = new RequestFailed($"n_val {props.NVal} exceeds the ring size {KnownRing.Size}");
            return null;
        }
        return props;
    }

    private List<ReplicaRef> Replicas(byte[] ns, byte[] key, int n, bool sloppy = false)
    {
        IReadOnlyList<Replica> list = KnownRing!.PreferenceList(ns, key, n);
        if (sloppy && Away(list) is { } away)
            list = KnownRing.WithFallbacks(list, away);
        var replicas = new List<ReplicaRef>(list.Count);
        foreach (var r in list)
        {
            replicas.Add(r.Fallback
                ? new ReplicaRef(r.Partition, r.Node, HintStoreRef(r.Node), HintFor: KnownRing.Owners[r.Partition])
                : new ReplicaRef(r.Partition, r.Node, VnodeRef(r.Node, r.Partition)));
        }
        return replicas;
    }

    /// <summary>
    /// The nodes of the ring a coordinator should not wait for: unreachable, or no longer members
    /// (down, removed) or on their way out (exiting: its leave is done and its actor system is
    /// stopping, so it answers nothing more); null when every primary of <paramref name="primaries"/>
    /// is fine (the common case).
    /// </summary>
    private HashSet<string>? Away(IReadOnlyList<Replica> primaries)
    {
        var state = ClusterExt.Get(Context.System).State;
        HashSet<string>? away = null;
        foreach (var r in primaries)
        {
            if (!Reachable(r.Node))
                (away ??= new HashSet<string>(StringComparer.Ordinal)).Add(r.Node);
        }
        if (away is null)
            return null;
        foreach (var m in state.Unreachable)
            away.Add(m.Address.ToString());
        foreach (var owner in KnownRing!.Owners.Distinct())
        {
            if (!state.Members.Any(m => m.Address.ToString() == owner && m.Status is not (MemberStatus.Down or MemberStatus.Removed)))
                away.Add(owner);
        }
        return away;
    }

    private readonly Dictionary<string, IActorRef> _hintStores = [];

    private IActorRef HintStoreRef(string node)
    {
        if (!_hintStores.TryGetValue(node, out var hints))
            _hintStores[node] = hints = KvPaths.On(Context.System, node, KvPaths.HintStore);
        return hints;
    }

    // Building a vnode's selection (path built and parsed) per request cost CPU on a busy node: one
    // per (node, partition), kept. A selection names a path, not an incarnation: it reaches the
    // vnode running there when the message arrives (see KvPaths.Vnode). A vnode of this node is
    // told through the ref it runs under now, found again when it stopped (KvPaths.LocalVnode).
    private ICanTell VnodeRef(string node, int partition)
    {
        if (!_vnodeRefs.TryGetValue((node, partition), out var target))
            _vnodeRefs[(node, partition)] = target = node == _self ? KvPaths.LocalVnode(Context.System, partition) : KvPaths.Vnode(Context.System, node, partition);
        return target;
    }

    // The unreachable list is short (usually empty): a scan, no set built per request.
    /// <summary>
    /// Whether <paramref name="node"/> can answer a replica request: a member that is not unreachable,
    /// down, removed or exiting (as <see cref="Away"/> judges). A member that left (its leave done,
    /// then removed) is not unreachable in the cluster's eyes, only gone: counting it reachable kept
    /// writes waiting on it instead of on a fallback.
    /// </summary>
    private bool Reachable(string node)
    {
        var state = ClusterExt.Get(Context.System).State;
        foreach (var m in state.Unreachable)
        {
            if (m.Address.ToString() == node)
                return false;
        }
        foreach (var m in state.Members)
        {
            if (m.Address.ToString() == node)
                return m.Status is not (MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting);
        }
        return false;
    }

    private bool Up(string node) => ClusterExt.Get(Context.System).State.Members.Any(m => m.Status == MemberStatus.Up && m.Address.ToString() == node);

    private void OnDelete(KvDelete delete)
    {
        if (TryConsistent(delete))
            return;
        var asPut = new KvPut(delete.Namespace, delete.Key, Sibling.Tombstone(0), delete.Context, delete.Options);
        Write(asPut, delete);
    }

    private void OnPut(KvPut put)
    {
        if (TryConsistent(put))
            return;
        if (put.Value.Value.Length > _options.MaxObjectBytes)
        {
            Fail($"a value of {put.Value.Value.Length} bytes exceeds kv.max-object-size ({_options.MaxObjectBytes} bytes)", FailureCode.ValueTooLarge);
            return;
        }
        if (put.Value.ContentType.Length > 255)
        {
            Fail("a content type must be at most 255 characters");
            return;
        }
        if (put.Ttl is { } ttl && Expiry.Check(ttl) is { } badTtl)
        {
            Fail(badTtl);
            return;
        }
        string name = NameOf(put.Namespace);
        if (_options.PropsOf(name).Datatype is var datatype && datatype != Crdt.Datatype.None)
        {
            Fail(DataTypeRouting.PutRefusal(name, datatype));
            return;
        }
        Write(put, put);
    }

    private void Write(KvPut put, object original)
    {
        var props = Prepare(put.Namespace, put.Key, put.Options);
        if (props is null)
            return;
        var replicas = Replicas(put.Namespace, put.Key, props.NVal);
        int reachable = replicas.Count(r => Reachable(r.Node));
        if (reachable < props.PW)
        {
            _stats.Fail();
            Metrics.KvMetrics.For(Context.System).QuorumFailed(put.Value.Deleted ? "delete" : "put");
            Sender.Tell(new QuorumNotMet("put", reachable, props.PW, 0, 0, $"pw={props.PW} but only {reachable} primaries are reachable"), Self);
            return;
        }
        if (props.SloppyQuorum && reachable < replicas.Count)
            replicas = Replicas(put.Namespace, put.Key, props.NVal, sloppy: true);
        if (!replicas.Any(r => !r.IsFallback))
        {
            // Only fallbacks left: a new version needs a primary vnode to stamp its dot.
            _stats.Fail();
            Metrics.KvMetrics.For(Context.System).QuorumFailed(put.Value.Deleted ? "delete" : "put");
            Sender.Tell(new QuorumNotMet("put", 0, props.W, 0, props.DW, "no primary replica of the key is reachable to coordinate the write"), Self);
            return;
        }
        int local = replicas.FindIndex(r => r.Node == _self && !r.IsFallback);
        if (local < 0 && put.Options.Hops == 0)
        {
            // Coordinate on a node that holds a replica: the first one that is Up and reachable.
            var target = replicas.FirstOrDefault(r => !r.IsFallback && Up(r.Node) && Reachable(r.Node))
                ?? replicas.FirstOrDefault(r => !r.IsFallback && Reachable(r.Node)) ?? replicas.First(r => !r.IsFallback);
            object forwarded = original switch
            {
                KvDelete d => d with { Options = d.Options with { Hops = 1 } },
                _ => put with { Options = put.Options with { Hops = 1 } },
            };
            _stats.Forward();
            KvPaths.On(Context.System, target.Node, KvPaths.Router).Forward(_token is null ? forwarded : new Security.Authorized(_token, forwarded));
            return;
        }
        if (local < 0)
            local = replicas.FindIndex(r => !r.IsFallback); // forwarded here already: coordinate on the first primary
        if (local > 0)
            (replicas[0], replicas[local]) = (replicas[local], replicas[0]);
        long now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        // The expiry of a value with a TTL is stamped here, on the coordinating node, with the same clock as its time.
        var value = new Sibling(put.Value.Value, put.Value.ContentType, now, put.Value.Deleted, put.Value.Deleted ? 0 : Expiry.Stamp(now, put.Ttl));
        if (value.Deleted)
            _stats.Delete();
        else
            _stats.Put();
        var replyTo = Sender;
        bool returnBody = put.Options.ReturnBody ?? false;
        // Coordinators are anonymous ($-named): remoting does not cache refs to anonymous actors, and a
        // per-request ref held in its caches kept every coordinator's cell alive into gen1.
        long toleranceMs = (long)_options.TtlClockSkewTolerance.TotalMilliseconds;
        if (AllLocal(replicas))
        {
            // Every replica is a vnode of this node: no coordinator actor (see LocalWrite).
            LocalWrite.Start(Context.System, Self, put.Namespace, put.Key, put.Context, value, replicas, props, replyTo, returnBody, toleranceMs);
            return;
        }
        Context.ActorOf(KvProps.Of(() => new PutCoordinator(put.Namespace, put.Key, put.Context, value, replicas, props, replyTo, returnBody, toleranceMs)));
    }

    private void OnUpdate(KvUpdate update)
    {
        if (TryConsistent(update))
            return;
        var props = Prepare(update.Namespace, update.Key, update.Options);
        if (props is null)
            return;
        string name = NameOf(update.Namespace);
        if (DataTypeRouting.Refusal(name, props.Datatype, update.Op) is { } refusal)
        {
            Fail(refusal);
            return;
        }
        var replicas = Replicas(update.Namespace, update.Key, props.NVal);
        int reachable = replicas.Count(r => Reachable(r.Node));
        if (reachable < props.PW)
        {
            _stats.Fail();
            Metrics.KvMetrics.For(Context.System).QuorumFailed("update");
            Sender.Tell(new QuorumNotMet("update", reachable, props.PW, 0, 0, $"pw={props.PW} but only {reachable} primaries are reachable"), Self);
            return;
        }
        if (props.SloppyQuorum && reachable < replicas.Count)
            replicas = Replicas(update.Namespace, update.Key, props.NVal, sloppy: true);
        // The coordinating vnode: this node's primary if it has one, else the first reachable primary.
        int first = replicas.FindIndex(r => r.Node == _self && !r.IsFallback);
        if (first < 0)
            first = replicas.FindIndex(r => !r.IsFallback && Reachable(r.Node));
        if (first < 0)
        {
            _stats.Fail();
            Metrics.KvMetrics.For(Context.System).QuorumFailed("update");
            Sender.Tell(new QuorumNotMet("update", 0, props.W, 0, props.DW, "no primary replica of the key is reachable to coordinate the update"), Self);
            return;
        }
        if (first > 0)
            (replicas[0], replicas[first]) = (replicas[first], replicas[0]);
        _stats.Put();
        var replyTo = Sender;
        int maxBytes = _options.MaxObjectBytes;
        Context.ActorOf(KvProps.Of(() => new UpdateCoordinator(update.Namespace, update.Key, update.Op, replicas, props, maxBytes, replyTo)));
    }

    private void OnGet(KvGet get)
    {
        if (!TryConsistent(get))
            Read(get.Namespace, get.Key, get.Options, exists: false);
    }

    private void OnExists(KvExists exists)
    {
        if (!TryConsistent(exists))
            Read(exists.Namespace, exists.Key, exists.Options, exists: true);
    }

    private void Read(byte[] ns, byte[] key, RequestOptions options, bool exists)
    {
        var get = new KvGet(ns, key, options);
        var props = Prepare(get.Namespace, get.Key, get.Options);
        if (props is null)
            return;
        var primaries = Replicas(get.Namespace, get.Key, props.NVal);
        int reachable = primaries.Count(r => Reachable(r.Node));
        if (reachable < props.PR)
        {
            _stats.Fail();
            Metrics.KvMetrics.For(Context.System).QuorumFailed(exists ? "exists" : "get");
            Sender.Tell(new QuorumNotMet("get", reachable, props.PR, 0, 0, $"pr={props.PR} but only {reachable} primaries are reachable"), Self);
            return;
        }
        var replicas = props.SloppyQuorum && reachable < primaries.Count ? Replicas(get.Namespace, get.Key, props.NVal, sloppy: true) : primaries;
        _stats.Get();
        var replyTo = Sender;
        long toleranceMs = (long)_options.TtlClockSkewTolerance.TotalMilliseconds;
        if (AllLocal(replicas))
        {
            // Every replica is a vnode of this node: no coordinator actor (see LocalRead).
            LocalRead.Start(Context.System, get.Namespace, get.Key, replicas, props, replyTo, toleranceMs, exists);
            return;
        }
        Context.ActorOf(KvProps.Of(() => new GetCoordinator(get.Namespace, get.Key, replicas, props, replyTo, toleranceMs, exists)));
    }

    /// <summary>Whether every replica is a primary vnode on this node.</summary>
    private bool AllLocal(List<ReplicaRef> replicas)
    {
        foreach (var r in replicas)
        {
            if (r.IsFallback || r.Node != _self)
                return false;
        }
        return true;
    }

    private void OnReapDue(ReapDue due)
    {
        if (KnownRing is null || !Serving)
            return; // the vnodes' sweeps offer the key again

        var props = _options.PropsOf(Encoding.UTF8.GetString(due.Namespace));
        var replicas = Replicas(due.Namespace, due.Key, Math.Min(props.NVal, KnownRing.Size));
        // Not while a replica's partition is moving: the vnodes' sweeps offer the key again later.
        if (replicas.Any(r => KnownRing.Pending[r.Partition] != KnownRing.Owners[r.Partition]))
            return;
        Context.ActorOf(KvProps.Of(() => new TombstoneReaper(due.Namespace, due.Key, replicas, props.Timeout)));
    }
}
