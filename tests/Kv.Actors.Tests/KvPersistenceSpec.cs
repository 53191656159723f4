using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Serialization;
using Kv.Actors.Persistence;
using Kv.Storage;
using Kv.Storage.IO;
using Xunit.Abstractions;

namespace Kv.Actors.Tests;

/// <summary>A payload no serializer can write: the journal must reject that write alone.</summary>
public sealed record Poison(string Why);

public sealed class PoisonSerializer(ExtendedActorSystem system) : Serializer(system)
{
    public override int Identifier => 9901;
    public override bool IncludeManifest => false;
    public override byte[] ToBinary(object obj) => throw new InvalidOperationException("poison does not serialize");
    public override object FromBinary(byte[] bytes, Type type) => throw new InvalidOperationException("poison does not deserialize");
}

/// <summary>
/// The journal and snapshot-store plugins on Kv.Storage, checked for what Akka's persistence TCK
/// checks (the TCK package is not served here): writes, replay ranges and max, the highest
/// sequence number (kept across delete-to), delete-to, durability across a restart, rejected and
/// failed writes; snapshots saved, selected by criteria, deleted one by one and by criteria.
/// Talks to the plugins with Akka's journal protocol, as the TCK does.
/// </summary>
public sealed class KvPersistenceSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Config PoisonConfig = ConfigurationFactory.ParseString("""
        akka.actor.serializers.poison = "Kv.Actors.Tests.PoisonSerializer, Kv.Actors.Tests"
        akka.actor.serialization-bindings { "Kv.Actors.Tests.Poison, Kv.Actors.Tests" = poison }
        """);

    private readonly string _dir = Directory.CreateTempSubdirectory("kv-persistence-").FullName;
    private readonly StorageEnvironment _environment = new(8L << 20, 64L << 20);

    public KvPersistenceSpec(ITestOutputHelper output) : base(PoisonConfig.WithFallback(KvTestConfig.Local).WithFallback(KvPersistenceStorage.PluginConfig), output: output)
    {
        KvPersistenceStorage.Register(Sys, _dir, _environment);
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _environment.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private IActorRef Journal(ActorSystem? system = null) => Akka.Persistence.Persistence.Instance.Apply(system ?? Sys).JournalFor(KvPersistenceStorage.JournalId);

    private IActorRef Snapshots() => Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(KvPersistenceStorage.SnapshotStoreId);

    private static AtomicWrite Event(string pid, long seq, object payload) =>
        new(new Persistent(payload, seq, pid, "", false, ActorRefs.NoSender, "writer-1"));

    private void Write(IActorRef journal, string pid, params (long Seq, object Payload)[] events)
    {
        var probe = CreateTestProbe();
        journal.Tell(new WriteMessages(events.Select(e => (IPersistentEnvelope)Event(pid, e.Seq, e.Payload)).ToList(), probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        foreach (var e in events)
            Assert.Equal(e.Seq, probe.ExpectMsg<WriteMessageSuccess>().Persistent.SequenceNr);
    }

    private (List<IPersistentRepresentation> Replayed, long Highest) Replay(IActorRef journal, string pid, long from, long to, long max = long.MaxValue)
    {
        var probe = CreateTestProbe();
        journal.Tell(new ReplayMessages(from, to, max, pid, probe.Ref));
        var replayed = new List<IPersistentRepresentation>();
        while (true)
        {
            var m = probe.ExpectMsg<object>();
            if (m is ReplayedMessage r)
                replayed.Add(r.Persistent);
            else if (m is RecoverySuccess s)
                return (replayed, s.HighestSequenceNr);
            else
                throw new Xunit.Sdk.XunitException($"unexpected {m}");
        }
    }

    [Fact]
    public void Events_are_written_replayed_by_range_and_max_and_the_highest_number_survives_delete_to()
    {
        var journal = Journal();
        Write(journal, "p1", (1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e"));
        Write(journal, "p2", (1, "other"));

        var (all, highest) = Replay(journal, "p1", 1, long.MaxValue);
        Assert.Equal(["a", "b", "c", "d", "e"], all.Select(p => (string)p.Payload));
        Assert.Equal(5, highest);
        Assert.All(all, p => Assert.Equal(("p1", "writer-1"), (p.PersistenceId, p.WriterGuid)));
        Assert.Equal(["b", "c"], Replay(journal, "p1", 2, 3).Replayed.Select(p => (string)p.Payload));
        Assert.Equal(["b", "c"], Replay(journal, "p1", 2, 5, max: 2).Replayed.Select(p => (string)p.Payload));
        Assert.Empty(Replay(journal, "p1", 6, long.MaxValue).Replayed);
        Assert.Equal(["other"], Replay(journal, "p2", 1, long.MaxValue).Replayed.Select(p => (string)p.Payload));
        Assert.Equal(0, Replay(journal, "nobody", 1, long.MaxValue).Highest);

        var probe = CreateTestProbe();
        journal.Tell(new DeleteMessagesTo("p1", 3, probe.Ref));
        probe.ExpectMsg<DeleteMessagesSuccess>(m => m.ToSequenceNr == 3);
        Assert.Equal(["d", "e"], Replay(journal, "p1", 1, long.MaxValue).Replayed.Select(p => (string)p.Payload));
        journal.Tell(new DeleteMessagesTo("p1", long.MaxValue, probe.Ref));
        probe.ExpectMsg<DeleteMessagesSuccess>();
        (all, highest) = Replay(journal, "p1", 1, long.MaxValue);
        Assert.Empty(all);
        Assert.Equal(5, highest); // a persistent actor must not start again at 1
        Write(journal, "p1", (6, "f"));
        Assert.Equal(["f"], Replay(journal, "p1", 1, long.MaxValue).Replayed.Select(p => (string)p.Payload));
    }

    [Fact]
    public void A_write_that_does_not_serialize_is_rejected_alone_and_the_others_are_kept()
    {
        var journal = Journal();
        var probe = CreateTestProbe();
        journal.Tell(new WriteMessages([Event("r1", 1, "ok-1"), Event("r1", 2, new Poison("x")), Event("r1", 3, "ok-3")], probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        Assert.Equal(1, probe.ExpectMsg<WriteMessageSuccess>().Persistent.SequenceNr);
        var rejected = probe.ExpectMsg<WriteMessageRejected>();
        Assert.Equal(2, rejected.Persistent.SequenceNr);
        Assert.Contains("poison", rejected.Cause.Message, StringComparison.Ordinal);
        Assert.Equal(3, probe.ExpectMsg<WriteMessageSuccess>().Persistent.SequenceNr);
        Assert.Equal(["ok-1", "ok-3"], Replay(journal, "r1", 1, long.MaxValue).Replayed.Select(p => (string)p.Payload));
    }

    [Fact]
    public void A_storage_failure_fails_the_writes_and_nothing_is_replayed_from_them()
    {
        // Another system whose journal engine runs on a file system that can fail writes.
        var fs = new FaultInjectionFileSystem();
        using var env = new StorageEnvironment(8L << 20, 64L << 20);
        var system = ActorSystem.Create("failing", KvTestConfig.Local.WithFallback(KvPersistenceStorage.PluginConfig));
        try
        {
            KvPersistenceStorage.Register(system, "/failing", env, new StorageOptions { FileSystem = fs });
            var journal = Journal(system);
            var probe = CreateTestProbe(system);
            journal.Tell(new WriteMessages([Event("f1", 1, "kept")], probe.Ref, 1));
            probe.ExpectMsg<WriteMessagesSuccessful>();
            probe.ExpectMsg<WriteMessageSuccess>();

            fs.FailWrites = true;
            journal.Tell(new WriteMessages([Event("f1", 2, "lost-1"), Event("f1", 3, "lost-2")], probe.Ref, 1));
            probe.ExpectMsg<WriteMessagesFailed>();
            Assert.Equal(2, probe.ExpectMsg<WriteMessageFailure>().Persistent.SequenceNr);
            Assert.Equal(3, probe.ExpectMsg<WriteMessageFailure>().Persistent.SequenceNr);
        }
        finally
        {
            Shutdown(system);
        }
    }

    [Fact]
    public void Events_survive_a_restart_of_the_actor_system()
    {
        string dir = Directory.CreateTempSubdirectory("kv-journal-restart-").FullName;
        try
        {
            for (int life = 1; life <= 2; life++)
            {
                using var env = new StorageEnvironment(8L << 20, 64L << 20);
                var system = ActorSystem.Create("restart", KvTestConfig.Local.WithFallback(KvPersistenceStorage.PluginConfig));
                try
                {
                    KvPersistenceStorage.Register(system, dir, env);
                    var journal = Journal(system);
                    var probe = CreateTestProbe(system);
                    if (life == 1)
                    {
                        journal.Tell(new WriteMessages([Event("d1", 1, "durable"), Event("d1", 2, "too")], probe.Ref, 1));
                        probe.ExpectMsg<WriteMessagesSuccessful>();
                        continue;
                    }
                    journal.Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, "d1", probe.Ref));
                    Assert.Equal("durable", probe.ExpectMsg<ReplayedMessage>().Persistent.Payload);
                    Assert.Equal("too", probe.ExpectMsg<ReplayedMessage>().Persistent.Payload);
                    Assert.Equal(2, probe.ExpectMsg<RecoverySuccess>().HighestSequenceNr);
                }
                finally
                {
                    Shutdown(system);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Snapshots_are_saved_selected_by_criteria_and_deleted()
    {
        var store = Snapshots();
        var probe = CreateTestProbe();
        var t0 = new DateTime(2026, 12, 6, 10, 0, 0, DateTimeKind.Utc);
        for (int seq = 10; seq <= 30; seq += 10)
        {
            store.Tell(new SaveSnapshot(new SnapshotMetadata("s1", seq, t0.AddMinutes(seq)), $"state@{seq}"), probe.Ref);
            probe.ExpectMsg<SaveSnapshotSuccess>();
        }

        SelectedSnapshot? Load(SnapshotSelectionCriteria criteria)
        {
            store.Tell(new LoadSnapshot("s1", criteria, long.MaxValue), probe.Ref);
            return probe.ExpectMsg<LoadSnapshotResult>().Snapshot;
        }

        Assert.Equal("state@30", Load(SnapshotSelectionCriteria.Latest)!.Snapshot);
        Assert.Equal(30, Load(SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
        Assert.Equal("state@20", Load(new SnapshotSelectionCriteria(25))!.Snapshot);
        Assert.Equal("state@10", Load(new SnapshotSelectionCriteria(long.MaxValue, t0.AddMinutes(15)))!.Snapshot);
        Assert.Null(Load(new SnapshotSelectionCriteria(5)));

        store.Tell(new DeleteSnapshot(new SnapshotMetadata("s1", 30, DateTime.MinValue)), probe.Ref);
        probe.ExpectMsg<DeleteSnapshotSuccess>();
        Assert.Equal("state@20", Load(SnapshotSelectionCriteria.Latest)!.Snapshot);
        store.Tell(new DeleteSnapshots("s1", new SnapshotSelectionCriteria(20)), probe.Ref);
        probe.ExpectMsg<DeleteSnapshotsSuccess>();
        Assert.Null(Load(SnapshotSelectionCriteria.Latest));
    }
}
