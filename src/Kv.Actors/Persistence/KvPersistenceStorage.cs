using System.Runtime.CompilerServices;
using Akka.Actor;
using Kv.Storage;

namespace Kv.Actors.Persistence;

/// <summary>
/// Where the node's Akka.Persistence plugins (<see cref="KvJournal"/>, <see cref="KvSnapshotStore"/>)
/// keep their engines: a directory and the node's <see cref="StorageEnvironment"/>, so that a durable
/// journal write rides the node's shared commit log and its group commit. The node registers them
/// before it starts a persistent actor; a plugin on a system with none registered fails to start
/// with a clear error.
/// </summary>
public static class KvPersistenceStorage
{
    private static readonly ConditionalWeakTable<ActorSystem, Registration> Registrations = new();

    /// <summary>The two plugins' configuration (Akka adds its journal and snapshot-store plugin fallbacks).</summary>
    public static readonly Akka.Configuration.Config PluginConfig = Akka.Configuration.ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.kv {
          class = "{{typeof(KvJournal).FullName}}, {{typeof(KvJournal).Assembly.GetName().Name}}"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        akka.persistence.snapshot-store.kv {
          class = "{{typeof(KvSnapshotStore).FullName}}, {{typeof(KvSnapshotStore).Assembly.GetName().Name}}"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """);

    public const string JournalId = "akka.persistence.journal.kv";
    public const string SnapshotStoreId = "akka.persistence.snapshot-store.kv";

    public sealed record Registration(string Directory, StorageEnvironment Environment, StorageOptions Options);

    public static void Register(ActorSystem system, string directory, StorageEnvironment environment, StorageOptions? options = null) =>
        Registrations.AddOrUpdate(system, new Registration(directory, environment, (options ?? new StorageOptions()) with { Environment = environment }));

    internal static Registration Of(ActorSystem system) =>
        Registrations.TryGetValue(system, out var r) ? r
            : throw new InvalidOperationException("no storage registered for the Kv persistence plugins (KvPersistenceStorage.Register before the first persistent actor)");

    /// <summary>Opens (creating) the engine named <paramref name="name"/> under the registered directory.</summary>
    internal static LsmEngine Open(ActorSystem system, string name)
    {
        var r = Of(system);
        return LsmEngine.Open(Path.Combine(r.Directory, name), r.Options with { CreateIfMissing = true });
    }
}
