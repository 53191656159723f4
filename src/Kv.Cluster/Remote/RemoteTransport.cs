using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Kv.Cluster.Actor;
using Kv.Cluster.Dispatch;
using Kv.Cluster.Event;
using Kv.Cluster.Remote.Protos;
using Kv.Cluster.Remote.Serialization;

namespace Kv.Cluster.Remote;

/// <summary>
/// TCP remoting for one actor system. Each remote system gets one outbound <see cref="Association"/>
/// (one ordered connection, so messages from one sender to one receiver arrive in order); inbound
/// connections only receive. At-most-once delivery. Bad input from a peer drops that connection
/// and is logged and counted; it never affects the rest of the system.
/// </summary>
public sealed class RemoteTransport : IAsyncDisposable, ISerializationContext
{
    private const int MaxInboundConnections = 1024;
    // Small on purpose: per-request actors (ask promises, coordinators, client requests) pass
    // through this cache too, and a large one keeps them alive into gen 2.
    private const int RefCacheSlots = 2_048;

    private readonly ConcurrentDictionary<Address, Association> _associations = new();
    private readonly ConcurrentDictionary<InboundConnection, byte> _inbound = new();
    private readonly ConcurrentDictionary<Address, ulong> _knownUids = new();
    private readonly ConcurrentDictionary<ulong, Address> _quarantined = new();
    private readonly RefCache _refCache = new(RefCacheSlots);
    private readonly RefCache _inboundCache = new(RefCacheSlots); // keyed by the paths' bytes in envelopes
    private readonly CancellationTokenSource _shutdown = new();
    private readonly X509Certificate2? _certificate;
    private Socket? _listener;
    private Task? _acceptLoop;
    private ICancelable? _watchTick;
    private ILoggingAdapter? _log;
    private volatile bool _disposed;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _payloadBuffer;

    internal RemoteTransport(ActorSystem system, RemoteOptions options)
    {
        System = system;
        Options = options;
        Rules = new FaultRules(this);
        Stats = new RemoteStats();
        Watcher = new RemoteWatcher(this);
        if (options.Tls is { } tls)
            _certificate = X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, tls.CertificatePassword);
    }

    internal ActorSystem System { get; }

    /// <summary>The settings.</summary>
    public RemoteOptions Options { get; }

    /// <summary>This system's remoting address.</summary>
    public Address LocalAddress { get; private set; } = null!;

    /// <summary>Fault-injection rules (tests).</summary>
    public FaultRules Rules { get; }

    /// <summary>Counters.</summary>
    public RemoteStats Stats { get; }

    internal RemoteWatcher Watcher { get; }

    internal ILoggingAdapter Log => _log ??= System.CreateLogger("Remoting(" + LocalAddress + ")");

    internal X509Certificate2? Certificate => _certificate;

    internal RemoteCertificateValidationCallback? CertificateValidation => _certificate is null ? null : ValidatePeerCertificate;

    private bool ValidatePeerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
            return false;
        if (string.Equals(certificate.GetCertHashString(), _certificate!.GetCertHashString(), StringComparison.Ordinal))
            return true;
        return Options.Tls!.AcceptTrustedChains && errors == SslPolicyErrors.None;
    }

    internal Address Bind()
    {
        var ip = IPAddress.TryParse(Options.Hostname, out var parsed) ? parsed
            : Dns.GetHostAddresses(Options.Hostname).FirstOrDefault() ?? throw new ArgumentException($"remote.hostname '{Options.Hostname}' does not resolve");
        var listener = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(ip, Options.Port));
            listener.Listen(512);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"cannot listen on {Options.Hostname}:{Options.Port}: {e.Message}", e);
        }
        _listener = listener;
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        LocalAddress = new Address(System.Name, Options.PublicHostname ?? Options.Hostname, port);
        return LocalAddress;
    }

    internal void Start()
    {
        _acceptLoop = Task.Run(AcceptLoopAsync);
        _watchTick = System.Scheduler.ScheduleRepeatedly(Options.HeartbeatInterval, Options.HeartbeatInterval, Watcher.CheckFailures);
        Log.Info($"listening on {LocalAddress} (uid {System.Uid}{(_certificate is null ? "" : ", TLS")})");
    }

    private async Task AcceptLoopAsync()
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_shutdown.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                Log.Warning($"accept failed: {e.Message}");
                continue;
            }
            if (_inbound.Count >= MaxInboundConnections)
            {
                Log.Warning($"refusing connection from {socket.RemoteEndPoint}: {MaxInboundConnections} inbound connections already open");
                socket.Dispose();
                continue;
            }
            var connection = new InboundConnection(this, socket);
            _inbound[connection] = 0;
            _ = RunInbound(connection);
        }
    }

    private async Task RunInbound(InboundConnection connection)
    {
        try
        {
            await connection.RunAsync(_shutdown.Token).ConfigureAwait(false);
        }
        finally
        {
            _inbound.TryRemove(connection, out _);
        }
    }

    // ---- sending -------------------------------------------------------------------------------

    internal RemoteActorRef RemoteRefFor(ActorPath path)
    {
        string key = path.ToString();
        if (_refCache.TryGet(key, out var cached) && cached is RemoteActorRef r)
            return r;
        var created = new RemoteActorRef(this, path);
        _refCache.Set(key, created);
        return created;
    }

    internal void Send(RemoteActorRef target, object message, IActorRef? sender)
    {
        if (_disposed)
        {
            System.DeadLetters.Tell(new DeadLetter(message, sender, target), sender);
            return;
        }
        if (!System.Serialization.TryGet(message.GetType(), out var binding))
        {
            Reject(target, message, sender, $"no serializer is registered for {message.GetType().FullName}");
            return;
        }
        byte[] frame;
        int length;
        var payload = _payloadBuffer ??= new ArrayBufferWriter<byte>(256);
        try
        {
            payload.ResetWrittenCount();
            binding.Write(message, payload, this);
            if (payload.WrittenCount > Options.MaximumFrameSize)
            {
                Reject(target, message, sender, $"{message.GetType().Name} of {payload.WrittenCount} bytes exceeds remote.maximum-frame-size ({Options.MaximumFrameSize} bytes)");
                return;
            }
            frame = EnvelopeCodec.ToFrame(target.WirePathUtf8, sender is null ? [] : sender.Path.Utf8, binding.SerializerId, binding.TypeId, payload.WrittenSpan, out length);
        }
        catch (Exception e)
        {
            Reject(target, message, sender, $"serializing {message.GetType().Name} failed: {e.Message}");
            return;
        }
        finally
        {
            if (payload.Capacity > 1024 * 1024)
                _payloadBuffer = null; // do not keep a huge buffer per thread
        }
        if (length - 4 > Options.MaximumFrameSize + 1)
        {
            Reject(target, message, sender, $"{message.GetType().Name} frame of {length} bytes exceeds remote.maximum-frame-size ({Options.MaximumFrameSize} bytes)");
            return;
        }
        AssociationFor(target.Path.Address).Enqueue(new OutboundFrame(frame, length, message, sender, target));
    }

    private void Reject(IActorRef target, object message, IActorRef? sender, string reason)
    {
        Interlocked.Increment(ref Stats._rejectedMessages);
        Log.Warning($"refused to send {message.GetType().Name} to {target.Path}: {reason}");
        if (sender is not null && message is not SystemMessage)
            sender.Tell(new Status.Failure(new MessageRejectedException(reason)), target);
    }

    internal void SendSystem(RemoteActorRef target, SystemMessage message)
    {
        switch (message)
        {
            case Watch w when w.Watcher is InternalActorRef watcher:
                Watcher.AddWatch(target, watcher);
                Send(target, w, null);
                break;
            case Unwatch u when u.Watcher is InternalActorRef watcher:
                Watcher.RemoveWatch(target, watcher);
                Send(target, u, null);
                break;
            case DeathWatchNotification d:
                Send(target, d, null);
                break;
            case Terminate:
                Send(target, PoisonPill.Instance, null);
                break;
        }
    }

    private Association AssociationFor(Address remote)
    {
        if (_associations.TryGetValue(remote, out var a))
            return a;
        var created = new Association(this, remote);
        if (_associations.TryAdd(remote, created))
        {
            created.Start();
            return created;
        }
        return _associations[remote];
    }

    internal void ResendWatches(Address remote)
    {
        foreach (var (watchee, watcher) in Watcher.WatchesAt(remote))
            Send(watchee, new Watch(watchee, watcher), null);
    }

    // ---- receiving -----------------------------------------------------------------------------

    /// <summary>
    /// Delivers one envelope frame body. The message is read from <paramref name="body"/> before this
    /// returns (serializers copy what they keep), so the body may be the connection's own buffer.
    /// </summary>
    internal void Deliver(ReadOnlyMemory<byte> body)
    {
        var span = body.Span;
        var e = EnvelopeCodec.Read(span);
        if (!System.Serialization.TryGet(e.SerializerId, e.TypeId, out var binding))
            throw new UnknownTypeException(e.SerializerId, e.TypeId);
        object message;
        try
        {
            message = binding.Read(body.Slice(e.PayloadOffset, e.PayloadLength), this);
        }
        catch (Exception ex)
        {
            throw new MalformedFrameException($"cannot read {binding.Type.Name}: {ex.Message}", ex);
        }
        var target = ResolveInboundTarget(span.Slice(e.TargetOffset, e.TargetLength));
        var sender = SenderFromWire(span.Slice(e.SenderOffset, e.SenderLength));
        Interlocked.Increment(ref Stats._messagesReceived);
        switch (message)
        {
            case Watch w:
                target.SendSystemMessage(new Watch(target, w.Watcher));
                break;
            case Unwatch u:
                target.SendSystemMessage(new Unwatch(target, u.Watcher));
                break;
            case DeathWatchNotification d:
                if (d.Actor is RemoteActorRef dead)
                    Watcher.Forget(dead);
                target.SendSystemMessage(d);
                break;
            default:
                if (target is EmptyLocalActorRef)
                    Interlocked.Increment(ref Stats._unknownTargets);
                target.Tell(message, sender);
                break;
        }
    }

    private InternalActorRef ResolveInboundTarget(ReadOnlySpan<byte> wirePath)
    {
        if (_inboundCache.TryGet(wirePath, out var cached) && cached is LocalActorRef { IsTerminated: false } live)
            return live;
        // An anonymous (per-request) actor is not cached, but its parent is: look the child up there
        // rather than parse the whole path (one small string instead of a path object per element).
        if (AnonymousName(wirePath, out int slash) is { } name)
        {
            var parentPath = wirePath[..slash];
            if (parentPath.SequenceEqual("/temp"u8))
                return System.ResolveTemp(name);
            if (ResolveInboundTarget(parentPath) is LocalActorRef parent)
                return (InternalActorRef?)parent.Cell.GetChildCell(name) ?? new EmptyLocalActorRef(System, parent.Path.Child(name));
        }
        var resolved = ResolveInboundTarget(DecodePath(wirePath));
        if (resolved is LocalActorRef)
            _inboundCache.Set(wirePath, resolved);
        return resolved;
    }

    private IActorRef? SenderFromWire(ReadOnlySpan<byte> path)
    {
        if (path.IsEmpty)
            return null;
        if (_inboundCache.TryGet(path, out var cached) && cached is not LocalActorRef { IsTerminated: true })
            return cached;
        if (AnonymousName(path, out int slash) is { } name && SenderFromWire(path[..slash]) is RemoteActorRef parent)
            return new RemoteActorRef(this, parent.Path.Child(name)); // a per-request actor elsewhere (not cached)
        var resolved = Resolve(DecodePath(path));
        if (resolved is LocalActorRef or RemoteActorRef)
            _inboundCache.Set(path, resolved);
        return resolved;
    }

    /// <summary>The last element of a path when it is a valid anonymous name (<c>$</c>...), with the position of the slash before it.</summary>
    private static string? AnonymousName(ReadOnlySpan<byte> path, out int slash)
    {
        slash = path.LastIndexOf((byte)'/');
        if (slash <= 0 || slash + 1 >= path.Length || path[slash + 1] != (byte)'$')
            return null;
        string name = DecodePath(path[(slash + 1)..]);
        return ActorPath.IsValidName(name) ? name : null;
    }

    private static string DecodePath(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return RuntimeSerializers.StrictUtf8.GetString(utf8);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new MalformedFrameException("an actor path in an envelope is not valid UTF-8");
        }
    }

    private InternalActorRef ResolveInboundTarget(string wirePath)
    {
        if (wirePath.Length == 0 || wirePath[0] != '/')
            throw new MalformedFrameException($"target '{Truncate(wirePath)}' is not a path");
        var path = ActorPath.Root(LocalAddress);
        foreach (var element in wirePath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!ActorPath.IsValidName(element))
                throw new MalformedFrameException($"target '{Truncate(wirePath)}' is not a valid path");
            path = path.Child(element);
        }
        return System.ResolveLocal(path);
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "...";

    /// <inheritdoc />
    public string ToWire(IActorRef? actorRef) => actorRef is null ? "" : actorRef.Path.ToString();

    /// <inheritdoc />
    public IActorRef? FromWire(string path)
    {
        if (path.Length == 0)
            return null;
        if (_refCache.TryGet(path, out var cached) && cached is not LocalActorRef { IsTerminated: true })
            return cached;
        var resolved = Resolve(path);
        if (resolved is LocalActorRef or RemoteActorRef)
            _refCache.Set(path, resolved);
        return resolved;
    }

    private IActorRef Resolve(string path) =>
        ActorPath.TryParse(path, out var parsed) ? System.ResolveActorRef(parsed)
            : throw new MalformedFrameException($"'{Truncate(path)}' is not an actor path");

    // ---- incarnations, quarantine, failure -----------------------------------------------------

    internal bool IsQuarantined(ulong uid) => _quarantined.ContainsKey(uid);

    /// <summary>Records the uid a handshake saw; a new uid at a known address quarantines the old one. False if the uid is quarantined.</summary>
    internal bool OnHandshake(Address remote, ulong uid)
    {
        if (_quarantined.ContainsKey(uid))
            return false;
        ulong previous = 0;
        _knownUids.AddOrUpdate(remote, uid, (_, old) =>
        {
            previous = old;
            return uid;
        });
        if (previous != 0 && previous != uid)
            Quarantine(remote, previous, $"a new incarnation (uid {uid}) appeared at the same address");
        return true;
    }

    /// <summary>
    /// Quarantines one incarnation of a remote system for good: its watchers get Terminated, its
    /// connections close, and it is refused until it restarts with a new uid.
    /// </summary>
    public void Quarantine(Address remote, ulong uid, string reason)
    {
        if (uid == 0 || !_quarantined.TryAdd(uid, remote))
            return;
        Log.Warning($"quarantined {remote} (uid {uid}): {reason}");
        System.EventStream.Publish(new QuarantinedEvent(remote, uid, reason));
        FireAddressTerminated(remote, uid, reason);
        if (_associations.TryGetValue(remote, out var a) && a.RemoteUid == uid)
            a.AbortConnection();
        foreach (var c in _inbound.Keys)
        {
            if (c.RemoteUid == uid)
                c.Abort();
        }
    }

    /// <summary>Declares the current incarnation at <paramref name="remote"/> failed (remote watch, or the cluster's downing).</summary>
    public void DeclareFailed(Address remote, string reason)
    {
        if (_knownUids.TryGetValue(remote, out var uid) && !_quarantined.ContainsKey(uid))
            Quarantine(remote, uid, reason);
        else if (uid == 0)
            FireAddressTerminated(remote, 0, reason);
    }

    private void FireAddressTerminated(Address remote, ulong uid, string reason)
    {
        Watcher.OnAddressTerminated(remote);
        System.EventStream.Publish(new AddressTerminated(remote, uid, reason));
    }

    /// <summary>The uid last seen at <paramref name="remote"/> (0 if none).</summary>
    public ulong UidOf(Address remote) => _knownUids.TryGetValue(remote, out var uid) ? uid : 0;

    internal TimeSpan SilenceOf(Address remote) =>
        _associations.TryGetValue(remote, out var a) ? a.Silence : TimeSpan.Zero;

    internal void AbortConnections(Address remote)
    {
        if (_associations.TryGetValue(remote, out var a))
            a.AbortConnection();
        foreach (var c in _inbound.Keys)
        {
            if (remote.Equals(c.RemoteAddress))
                c.Abort();
        }
    }

    internal void ReportBadInput(string endpoint, Address? peer, Exception e)
    {
        Interlocked.Increment(ref Stats._badInput);
        Log.Warning($"dropped connection from {endpoint}{(peer is null ? "" : " (" + peer + ")")}: {e.Message}");
    }

    /// <summary>Stops accepting, flushes what is queued (briefly), closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        _watchTick?.Cancel();
        var closing = _associations.Values.Select(a => a.CloseAsync(TimeSpan.FromSeconds(2))).ToArray();
        await Task.WhenAll(closing).ConfigureAwait(false);
        _shutdown.Cancel();
        _listener?.Dispose();
        foreach (var c in _inbound.Keys)
            c.Abort();
        if (_acceptLoop is not null)
            await _acceptLoop.ConfigureAwait(false);
        _certificate?.Dispose();
        _shutdown.Dispose();
    }
}
