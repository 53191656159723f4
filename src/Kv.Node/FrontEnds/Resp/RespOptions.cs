using Kv.Actors;
using Kv.Actors.Crdt;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>
/// The RESP front end's keyspaces (strings in <see cref="Strings"/>, a last-write-wins namespace by
/// default; hashes, sets and lists in namespaces of those data types), its per-connection buffer bound
/// and whether it speaks TLS.
/// </summary>
public sealed record RespOptions(string Strings, string Hashes, string Sets, string Lists, long MaxQueryBuffer)
{
    /// <summary>TLS on the RESP port with the node's certificate (kv.resp.tls = on, or the secure profile).</summary>
    public bool Tls { get; init; }

    /// <summary>Arguments per command at most (Redis's multibulk bound is larger; this keeps a parse cheap).</summary>
    public const int MaxArguments = 65_536;

    /// <summary>An inline command (a line of words, as telnet sends) at most.</summary>
    public const int MaxInlineBytes = 64 * 1024;

    internal static RespOptions Read(SettingsReader s, KvNodeOptions store)
    {
        var options = new RespOptions(
            s.String("kv.resp.namespace"),
            s.String("kv.resp.hash-namespace"),
            s.String("kv.resp.set-namespace"),
            s.String("kv.resp.list-namespace"),
            s.Size("kv.resp.max-query-buffer", 64 * 1024, 1L << 30))
        {
            Tls = s.Bool("kv.resp.tls") || s.Bool("kv.remote.secure.enabled"),
        };
        if (options.Tls && !s.Bool("kv.remote.secure.enabled"))
            throw new ConfigException("kv.resp.tls = on takes the node's certificate from kv.remote.secure: turn that on (enabled, certificate-path, certificate-password)");
        Check(store, "kv.resp.namespace", options.Strings, Datatype.None);
        Check(store, "kv.resp.hash-namespace", options.Hashes, Datatype.Hash);
        Check(store, "kv.resp.set-namespace", options.Sets, Datatype.Set);
        Check(store, "kv.resp.list-namespace", options.Lists, Datatype.List);
        if (options.MaxQueryBuffer < store.MaxObjectBytes + 1024)
            throw new ConfigException($"kv.resp.max-query-buffer = {options.MaxQueryBuffer} must hold a value of kv.max-object-size ({store.MaxObjectBytes}) and its command");
        return options;
    }

    private static void Check(KvNodeOptions store, string key, string ns, Datatype expected)
    {
        if (!store.Namespaces.TryGetValue(ns, out var props))
            throw new ConfigException($"{key} = {ns}: not a namespace declared under kv.namespaces");
        if (props.Datatype != expected)
            throw new ConfigException($"{key} = {ns}: that namespace's datatype is {CrdtValues.Name(props.Datatype)}, not {CrdtValues.Name(expected)}");
    }
}
