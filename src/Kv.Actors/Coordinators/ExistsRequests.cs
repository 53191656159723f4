using Kv.Actors.Objects;

namespace Kv.Actors.Coordinators;

/// <summary>
/// Whether (namespace, key) holds a live value: a get whose replicas answer with the object's clock
/// and its values' metadata, not their bytes (same quorum rules as a get: r, pr, notfound_ok,
/// basic_quorum). Answer: <see cref="ExistsResult"/>, or the get's failures.
/// </summary>
public sealed record KvExists(byte[] Namespace, byte[] Key, RequestOptions Options);

/// <summary>
/// The answer to <see cref="KvExists"/>: whether a live (not deleted, not expired) value was found,
/// and the causal context of what was read.
/// </summary>
public sealed record ExistsResult(bool Exists, VersionVector Context);
