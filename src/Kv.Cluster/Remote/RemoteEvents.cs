using Kv.Cluster.Actor;

namespace Kv.Cluster.Remote;

/// <summary>A remote system incarnation is gone for good (quarantined or declared failed); published on the event stream.</summary>
public sealed record AddressTerminated(Address Address, ulong Uid, string Reason);

/// <summary>This system quarantined a remote incarnation (it must restart to talk to us again).</summary>
public sealed record QuarantinedEvent(Address Address, ulong Uid, string Reason);

/// <summary>A remote system told us that it quarantined this system: this incarnation must restart.</summary>
public sealed record ThisActorSystemQuarantinedEvent(Address Remote, string Reason);

/// <summary>An outbound association finished its handshake.</summary>
public sealed record AssociatedEvent(Address Remote, ulong Uid);

/// <summary>An outbound association lost its connection.</summary>
public sealed record DisassociatedEvent(Address Remote, string Reason);
