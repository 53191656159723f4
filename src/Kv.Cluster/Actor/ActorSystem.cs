using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Kv.Cluster.Event;
using Kv.Cluster.Remote;
using Kv.Cluster.Remote.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Cluster.Actor;

/// <summary>
/// A hierarchy of actors with its guardians (/user, /system, /temp), scheduler, event stream,
/// dead letters and, when configured, remoting. Create with <see cref="Create"/>, stop with
/// <see cref="Terminate"/>.
/// </summary>
public sealed class ActorSystem : IAsyncDisposable
{
    private readonly ActorCell _root;
    private readonly ActorCell _userGuardian;
    private readonly ActorCell _systemGuardian;
    private readonly ConcurrentDictionary<string, InternalActorRef> _temp = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, object> _extensions = new();
    private readonly TaskCompletionSource _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimerScheduler _scheduler;
    private readonly ActorPath _tempPath;
    private long _tempCounter;
    private int _terminating;

    private ActorSystem(string name, ActorSystemOptions options)
    {
        if (!ActorPath.IsValidName(name))
            throw new ArgumentException($"'{name}' is not a valid actor system name", nameof(name));
        options.Validate();
        Name = name;
        Options = options;
        Uid = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;
        TimeProvider = options.TimeProvider;
        LoggerFactory = options.LoggerFactory ?? NullLoggerFactory.Instance;
        EventStream = new EventStream();
        _scheduler = new TimerScheduler(TimeProvider, e => CreateLogger("Scheduler").Error(e, $"a scheduled action failed: {e.Message}"));
        Serialization = new SerializationRegistry();
        options.Serialization?.Invoke(Serialization);

        // Remoting binds first: the address (with the real port) is part of every path.
        if (options.Remote is not null)
        {
            Transport = new RemoteTransport(this, options.Remote);
            Address = Transport.Bind();
        }
        else
        {
            Address = new Address(name);
        }
        Log = CreateLogger("ActorSystem(" + name + ")");

        var rootPath = ActorPath.Root(Address);
        DeadLetters = new DeadLetterActorRef(this, rootPath.Child("deadLetters"));
        _tempPath = rootPath.Child("temp");
        var rootSupervisor = new RootSupervisorRef(this, rootPath.Child("bubble-walker"));
        _root = new ActorCell(this, Props.Create(static () => new RootGuardian()), rootSupervisor, rootPath);
        _root.Start();
        _userGuardian = _root.SpawnChild(Props.Create(static () => new Guardian()), "user").Cell;
        _systemGuardian = _root.SpawnChild(Props.Create(static () => new Guardian()), "system").Cell;
        _root.Self.Tell(RootGuardian.WatchGuardians.Instance, null);
        Transport?.Start();
    }

    /// <summary>Creates and starts a system.</summary>
    public static ActorSystem Create(string name, ActorSystemOptions? options = null) => new(name, options ?? new ActorSystemOptions());

    /// <summary>The system's name.</summary>
    public string Name { get; }

    /// <summary>A random id of this start of the system (the incarnation remoting and the cluster tell apart).</summary>
    public ulong Uid { get; }

    /// <summary>The system's settings.</summary>
    public ActorSystemOptions Options { get; }

    /// <summary><c>kv://name</c>, or <c>kv://name@host:port</c> with remoting.</summary>
    public Address Address { get; }

    /// <summary>Publish/subscribe within the system.</summary>
    public EventStream EventStream { get; }

    /// <summary>Where undeliverable messages go (counted, published, rate-limited logging).</summary>
    public DeadLetterActorRef DeadLetters { get; }

    /// <summary>Timed sends.</summary>
    public IScheduler Scheduler => _scheduler;

    /// <summary>The system's clock.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>Where logs go.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>The system's own logger.</summary>
    public ILoggingAdapter Log { get; }

    /// <summary>Message types and their wire ids.</summary>
    public SerializationRegistry Serialization { get; }

    /// <summary>Remoting, when configured.</summary>
    public RemoteTransport? Transport { get; }

    /// <summary>Completes when the system has stopped.</summary>
    public Task WhenTerminated => _terminated.Task;

    /// <summary>True once termination has begun.</summary>
    public bool IsTerminating => Volatile.Read(ref _terminating) != 0;

    /// <summary>Creates a top-level actor under /user.</summary>
    public IActorRef ActorOf(Props props, string? name = null) => _userGuardian.ActorOf(props, name);

    /// <summary>Creates a runtime actor under /system.</summary>
    public IActorRef SystemActorOf(Props props, string name) => _systemGuardian.ActorOf(props, name);

    /// <summary>Stops an actor.</summary>
    public void Stop(IActorRef actor)
    {
        if (actor is InternalActorRef r)
            r.Stop();
    }

    /// <summary>A selection by path: <c>/user/a</c> (this system) or a full <c>kv://</c> path.</summary>
    public ActorSelection ActorSelection(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.StartsWith('/'))
        {
            var p = ActorPath.Root(Address);
            foreach (var e in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
                p = p.Child(e);
            return new ActorSelection(this, p);
        }
        return new ActorSelection(this, ActorPath.Parse(path));
    }

    /// <summary>Resolves a path to a ref: a local actor, a remote ref, or an empty ref when nothing is there.</summary>
    public IActorRef ResolveActorRef(ActorPath path)
    {
        if (path.Address.Equals(Address) || (path.Address.System == Name && !path.Address.HasGlobalScope))
            return ResolveLocal(path);
        if (Transport is not null && path.Address.HasGlobalScope)
            return Transport.RemoteRefFor(path);
        return new EmptyLocalActorRef(this, path);
    }

    internal InternalActorRef ResolveLocal(ActorPath path)
    {
        var elements = path.Elements;
        if (elements.Count == 0)
            return _root.Self;
        if (elements.Count == 2 && elements[0] == "temp")
            return _temp.TryGetValue(elements[1], out var t) ? t : new EmptyLocalActorRef(this, path);
        if (elements.Count == 1 && elements[0] == "deadLetters")
            return DeadLetters;
        LocalActorRef? current = _root.Self;
        foreach (var e in elements)
        {
            current = current.Cell.GetChildCell(e);
            if (current is null)
                return new EmptyLocalActorRef(this, path);
        }
        return current;
    }

    /// <summary>The temporary actor /temp/<paramref name="name"/> (an ask's), or an empty ref when it is gone.</summary>
    internal InternalActorRef ResolveTemp(string name) =>
        _temp.TryGetValue(name, out var t) ? t : new EmptyLocalActorRef(this, _tempPath.Child(name));

    internal PromiseActorRef<T> RegisterTemp<T>()
    {
        string name = "$" + Interlocked.Increment(ref _tempCounter).ToString(CultureInfo.InvariantCulture);
        var promise = new PromiseActorRef<T>(this, _tempPath.Child(name));
        _temp[name] = promise;
        return promise;
    }

    internal void UnregisterTemp(string name) => _temp.TryRemove(name, out _);

    internal static ActorSystem? ForRef(ICanTell target) => target switch
    {
        InternalActorRef r => r.OwningSystem,
        ActorSelection s => s.System,
        _ => null,
    };

    /// <summary>A logger for a subsystem or actor (writes to ILogger, publishes <see cref="LogEvent"/>).</summary>
    public ILoggingAdapter CreateLogger(string source) =>
        new LoggingAdapter(this, source, LoggerFactory.CreateLogger("Kv.Cluster." + Name));

    /// <summary>One instance of <typeparamref name="T"/> per system (CoordinatedShutdown, Cluster...).</summary>
    public T GetOrAddExtension<T>(Func<ActorSystem, T> factory) where T : class =>
        (T)_extensions.GetOrAdd(typeof(T), static (_, arg) => arg.factory(arg.system), (factory, system: this));

    /// <summary>The extension of type <typeparamref name="T"/> if it was added.</summary>
    public T? GetExtension<T>() where T : class => _extensions.TryGetValue(typeof(T), out var e) ? (T)e : null;

    /// <summary>
    /// Stops the system: runs coordinated shutdown's phases when that is in use, then stops all
    /// actors (children before parents), remoting and timers. Idempotent.
    /// </summary>
    public Task Terminate()
    {
        if (GetExtension<CoordinatedShutdown>() is { } cs)
        {
            _ = cs.Run(ShutdownReason.ActorSystemTerminate);
            return WhenTerminated;
        }
        return TerminateNow();
    }

    internal Task TerminateNow()
    {
        if (Interlocked.Exchange(ref _terminating, 1) == 0)
        {
            Log.Debug("terminating");
            _userGuardian.Self.Stop();
        }
        return WhenTerminated;
    }

    internal void OnRootTerminated()
    {
        Interlocked.Exchange(ref _terminating, 1);
        _ = FinishAsync();

        async Task FinishAsync()
        {
            try
            {
                if (Transport is not null)
                    await Transport.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.Error(e, $"remoting shutdown failed: {e.Message}");
            }
            _scheduler.Dispose();
            Log.Debug("terminated");
            _terminated.TrySetResult();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await Terminate().ConfigureAwait(false);

    /// <inheritdoc />
    public override string ToString() => Address.ToString();
}
