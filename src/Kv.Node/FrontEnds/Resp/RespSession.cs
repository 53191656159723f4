using System.Net;
using Kv.Actors.Security;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>Where a SCAN cursor is: which keyspace, the store's scan token there, and its filter.</summary>
public sealed record RespScanState(int Phase, string? Token, string Prefix, bool Exact, string? Type);

/// <summary>
/// One RESP connection's state: who it is (null until AUTH when anonymous access is refused), its
/// protocol version (HELLO), its strings namespace (SELECT) and its open SCAN cursors (at most
/// <see cref="MaxCursors"/>, the oldest forgotten first).
/// </summary>
public sealed class RespSession(long id, EndPoint? remote, FrontEndContext ctx)
{
    public const int MaxCursors = 256;

    private readonly Dictionary<long, RespScanState> _cursors = [];
    private readonly Queue<long> _cursorOrder = new();
    private long _nextCursor;

    public long Id { get; } = id;

    public EndPoint? Remote { get; } = remote;

    public Principal? Principal { get; set; } = ctx.Access.AnonymousFor(remote);

    public int Protocol { get; set; } = 2;

    public string Namespace { get; set; } = ctx.Settings.RespOptions.Strings;

    public string? Name { get; set; }

    public bool Quit { get; set; }

    public long SaveCursor(RespScanState state)
    {
        long id = ++_nextCursor;
        _cursors[id] = state;
        _cursorOrder.Enqueue(id);
        while (_cursorOrder.Count > MaxCursors)
            _cursors.Remove(_cursorOrder.Dequeue());
        return id;
    }

    public RespScanState? TakeCursor(long id) => _cursors.Remove(id, out var state) ? state : null;
}
