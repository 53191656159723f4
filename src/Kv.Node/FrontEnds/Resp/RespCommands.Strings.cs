using System.Globalization;
using System.Text;
using Kv.Actors.Scans;
using Kv.Actors.Security;
using Kv.Client;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>Strings, keys, TTL and SCAN.</summary>
public sealed partial class RespCommands
{
    private bool IsLww(string ns) => _ctx.Settings.Store.Namespaces.TryGetValue(ns, out var p) && p.LastWriteWins;

    private async Task<KvObject> ReadStringAsync(KvClient c, RespSession s, string key)
    {
        var obj = await c.GetAsync(s.Namespace, key).ConfigureAwait(false);
        if (obj.Found && obj.HasSiblings)
            throw Siblings(obj);
        return obj;
    }

    private static TimeSpan? Left(KvObject obj)
    {
        if (!obj.Found || obj.Value.ExpiresAt is not { } at)
            return null;
        var left = at - DateTimeOffset.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }

    private static Task<KvWriteResult> WriteAsync(KvClient c, string ns, string key, byte[] value, TimeSpan? ttl, CausalContext? context, string contentType = "application/octet-stream") =>
        ttl is { } t ? c.PutAsync(ns, key, value, t, context, null, contentType) : c.PutAsync(ns, key, value, context, null, contentType);

    private async Task<RespReply> TypeAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        string key = Text(a[1]);
        return RespReply.Simple(await OtherTypeAsync(s, key, "") ?? "none");
    }

    private async Task<RespReply> GetAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        Allow(s, Permission.Read, s.Namespace, a[0]);
        string key = Text(a[1]);
        var c = await Client().ConfigureAwait(false);
        var obj = await ReadStringAsync(c, s, key).ConfigureAwait(false);
        if (obj.Found)
            return RespReply.Bulk(obj.Value.Value);
        await MissAsync(s, key, "string").ConfigureAwait(false);
        return RespReply.Nil;
    }

    private async Task<RespReply> SetAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3);
        bool nx = false, xx = false, get = false, keepTtl = false;
        TimeSpan? ttl = null;
        for (int i = 3; i < a.Length; i++)
        {
            string option = Word(a[i]);
            switch (option)
            {
                case "NX" when !xx:
                    nx = true;
                    break;
                case "XX" when !nx:
                    xx = true;
                    break;
                case "GET":
                    get = true;
                    break;
                case "KEEPTTL" when ttl is null:
                    keepTtl = true;
                    break;
                case "EX" or "PX" or "EXAT" or "PXAT" when ttl is null && !keepTtl && i + 1 < a.Length:
                    long n = Long(a[++i]);
                    if (n <= 0)
                        throw new RespError("ERR invalid expire time in 'set' command");
                    var now = DateTimeOffset.UtcNow;
                    ttl = option switch
                    {
                        "EX" => n <= 100L * 365 * 86400 ? TimeSpan.FromSeconds(n) : throw new RespError("ERR invalid expire time in 'set' command"),
                        "PX" => n <= 100L * 365 * 86400_000 ? TimeSpan.FromMilliseconds(n) : throw new RespError("ERR invalid expire time in 'set' command"),
                        "EXAT" => n <= 253402300799 ? DateTimeOffset.FromUnixTimeSeconds(n) - now : throw new RespError("ERR invalid expire time in 'set' command"),
                        _ => n <= 253402300799999 ? DateTimeOffset.FromUnixTimeMilliseconds(n) - now : throw new RespError("ERR invalid expire time in 'set' command"),
                    };
                    if (ttl <= TimeSpan.Zero)
                        ttl = TimeSpan.FromMilliseconds(1);
                    break;
                default:
                    throw new RespError("ERR syntax error");
            }
        }
        Allow(s, Permission.Write, s.Namespace, a[0]);
        if (nx || xx || get || keepTtl)
            Allow(s, Permission.Read, s.Namespace, a[0]);
        string key = Text(a[1]);
        var value = a[2];
        var c = await Client().ConfigureAwait(false);
        if (!(nx || xx || get || keepTtl) && IsLww(s.Namespace))
        {
            // The hot path: a blind write, the newest timestamp wins.
            await WriteAsync(c, s.Namespace, key, value, ttl, null).ConfigureAwait(false);
            return RespReply.Ok;
        }
        // Read first: for the condition, the old value, the TTL to keep, or the context that
        // replaces (not adds a sibling to) what a namespace keeping siblings holds.
        var obj = await c.GetAsync(s.Namespace, key).ConfigureAwait(false);
        if (get && obj.Found && obj.HasSiblings)
            throw Siblings(obj);
        if (get && !obj.Found)
            await MissAsync(s, key, "string").ConfigureAwait(false);
        var old = get && obj.Found ? RespReply.Bulk(obj.Value.Value) : RespReply.Nil;
        if ((nx && obj.Found) || (xx && !obj.Found))
            return get ? old : RespReply.Nil;
        if (keepTtl && obj.Found && !obj.HasSiblings)
            ttl = Left(obj);
        await WriteAsync(c, s.Namespace, key, value, ttl, obj.Found ? obj.Context : null).ConfigureAwait(false);
        return get ? old : RespReply.Ok;
    }

    private async Task<RespReply> MGetAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2);
        Allow(s, Permission.Read, s.Namespace, a[0]);
        var keys = a.Skip(1).Select(k => Text(k)).ToList();
        var c = await Client().ConfigureAwait(false);
        var results = await c.GetManyAsync(s.Namespace, keys).ConfigureAwait(false);
        var items = new List<RespReply>(results.Count);
        foreach (var r in results)
        {
            if (r.Error is { } e)
                items.Add(RespReply.Error(ErrorOf(e)));
            else if (!r.Result!.Found)
                items.Add(RespReply.Nil);
            else if (r.Result.HasSiblings)
                items.Add(RespReply.Error(Siblings(r.Result).Message));
            else
                items.Add(RespReply.Bulk(r.Result.Value.Value));
        }
        return RespReply.Array(items);
    }

    private async Task<RespReply> MSetAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3);
        if (a.Length % 2 == 0)
            throw new RespError("ERR wrong number of arguments for 'mset' command");
        Allow(s, Permission.Write, s.Namespace, a[0]);
        var keys = new List<string>();
        for (int i = 1; i < a.Length; i += 2)
            keys.Add(Text(a[i]));
        var c = await Client().ConfigureAwait(false);
        IReadOnlyList<KvOutcome<KvObject>>? current = null;
        if (!IsLww(s.Namespace))
            current = await c.GetManyAsync(s.Namespace, keys).ConfigureAwait(false);
        var items = new List<KvPutItem>(keys.Count);
        for (int i = 0; i < keys.Count; i++)
        {
            var context = current?[i].Result is { Found: true } o ? o.Context : null;
            items.Add(new KvPutItem(keys[i], a[2 + 2 * i], context));
        }
        var results = await c.PutManyAsync(s.Namespace, items).ConfigureAwait(false);
        var failed = results.Where(r => !r.Ok).ToList();
        if (failed.Count > 0)
            return RespReply.Error($"{ErrorOf(failed[0].Error!)} ({failed.Count} of {results.Count} keys not written, the others were)");
        return RespReply.Ok;
    }

    private async Task<RespReply> DelAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2);
        var spaces = Keyspaces(s);
        foreach (var (ns, _) in spaces)
            Allow(s, Permission.Write, ns, a[0]);
        var c = await Client().ConfigureAwait(false);
        var keys = a.Skip(1).Select(k => Text(k)).Distinct(StringComparer.Ordinal).ToList();
        var deleted = await Task.WhenAll(keys.Select(async key =>
        {
            var found = await Task.WhenAll(spaces.Select(sp => c.GetAsync(sp.Ns, key))).ConfigureAwait(false);
            bool any = false;
            for (int i = 0; i < spaces.Length; i++)
            {
                if (!found[i].Found)
                    continue;
                any = any || spaces[i].Type == "string" || await HoldsAsync(c, spaces[i].Ns, spaces[i].Type, key).ConfigureAwait(false);
                await c.DeleteAsync(spaces[i].Ns, key, found[i].Context).ConfigureAwait(false);
            }
            return any ? 1 : 0;
        })).ConfigureAwait(false);
        return RespReply.Integer(deleted.Sum());
    }

    private async Task<RespReply> ExistsAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2);
        Allow(s, Permission.Read, s.Namespace, a[0]);
        var keys = a.Skip(1).Select(k => Text(k)).ToList();
        var held = await Task.WhenAll(keys.Select(k => OtherTypeAsync(s, k, ""))).ConfigureAwait(false);
        return RespReply.Integer(held.Count(t => t is not null));
    }

    private async Task<RespReply> IncrAsync(RespSession s, byte[][] a, int arity, long sign)
    {
        Arity(a, arity, arity);
        long by = arity == 3 ? Long(a[2]) : 1;
        if (sign < 0)
            by = by == long.MinValue ? throw new RespError("ERR decrement would overflow") : -by;
        Allow(s, Permission.Read, s.Namespace, a[0]);
        Allow(s, Permission.Write, s.Namespace, a[0]);
        string key = Text(a[1]);
        var c = await Client().ConfigureAwait(false);
        var obj = await ReadStringAsync(c, s, key).ConfigureAwait(false);
        long current = 0;
        if (obj.Found)
            current = Long(obj.Value.Value);
        else
            await MissAsync(s, key, "string").ConfigureAwait(false);
        long next;
        try
        {
            next = checked(current + by);
        }
        catch (OverflowException)
        {
            throw new RespError("ERR increment or decrement would overflow");
        }
        await WriteAsync(c, s.Namespace, key, Encoding.ASCII.GetBytes(next.ToString(CultureInfo.InvariantCulture)), Left(obj), obj.Found ? obj.Context : null).ConfigureAwait(false);
        return RespReply.Integer(next);
    }

    private static double Float(byte[] b)
    {
        string text = Encoding.ASCII.GetString(b);
        if (b.Length is 0 or > 64 || text != text.Trim() || !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || double.IsNaN(v))
            throw new RespError("ERR value is not a valid float");
        return v;
    }

    private async Task<RespReply> IncrByFloatAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3, 3);
        double by = Float(a[2]);
        Allow(s, Permission.Read, s.Namespace, a[0]);
        Allow(s, Permission.Write, s.Namespace, a[0]);
        string key = Text(a[1]);
        var c = await Client().ConfigureAwait(false);
        var obj = await ReadStringAsync(c, s, key).ConfigureAwait(false);
        double current = 0;
        if (obj.Found)
            current = Float(obj.Value.Value);
        else
            await MissAsync(s, key, "string").ConfigureAwait(false);
        double next = current + by;
        if (double.IsNaN(next) || double.IsInfinity(next))
            throw new RespError("ERR increment would produce NaN or Infinity");
        string text = RespReply.Format(next);
        await WriteAsync(c, s.Namespace, key, Encoding.ASCII.GetBytes(text), Left(obj), obj.Found ? obj.Context : null).ConfigureAwait(false);
        return RespReply.Bulk(text);
    }

    private async Task<RespReply> ExpireAsync(RespSession s, byte[][] a, long unitMs)
    {
        Arity(a, 3, 4);
        long n = Long(a[2]);
        string? option = a.Length == 4 ? Word(a[3]) : null;
        if (option is not (null or "NX" or "XX" or "GT" or "LT"))
            throw new RespError($"ERR Unsupported option {Printable(a[3])}");
        if (n > long.MaxValue / unitMs / 2 || n < long.MinValue / unitMs / 2)
            throw new RespError($"ERR invalid expire time in '{Encoding.ASCII.GetString(a[0]).ToLowerInvariant()}' command");
        Allow(s, Permission.Read, s.Namespace, a[0]);
        Allow(s, Permission.Write, s.Namespace, a[0]);
        string key = Text(a[1]);
        var c = await Client().ConfigureAwait(false);
        var obj = await ReadStringAsync(c, s, key).ConfigureAwait(false);
        if (!obj.Found)
        {
            if (await OtherTypeAsync(s, key, "string").ConfigureAwait(false) is { } type)
                throw new RespError($"ERR {Encoding.ASCII.GetString(a[0]).ToUpperInvariant()} on a {type}: only strings take a TTL here");
            return RespReply.Zero;
        }
        var current = Left(obj);
        var ttl = TimeSpan.FromMilliseconds(n * unitMs);
        bool skip = option switch
        {
            "NX" => current is not null,
            "XX" => current is null,
            "GT" => current is null || ttl <= current,
            "LT" => current is not null && ttl >= current,
            _ => false,
        };
        if (skip)
            return RespReply.Zero;
        if (ttl <= TimeSpan.Zero)
            await c.DeleteAsync(s.Namespace, key, obj.Context).ConfigureAwait(false);
        else
            await WriteAsync(c, s.Namespace, key, obj.Value.Value, ttl, obj.Context, obj.Value.ContentType).ConfigureAwait(false);
        return RespReply.One;
    }

    private async Task<RespReply> TtlAsync(RespSession s, byte[][] a, long unitMs)
    {
        Arity(a, 2, 2);
        Allow(s, Permission.Read, s.Namespace, a[0]);
        string key = Text(a[1]);
        var c = await Client().ConfigureAwait(false);
        var obj = await ReadStringAsync(c, s, key).ConfigureAwait(false);
        if (!obj.Found)
            return RespReply.Integer(await OtherTypeAsync(s, key, "string").ConfigureAwait(false) is null ? -2 : -1);
        if (Left(obj) is not { } left)
            return RespReply.Integer(-1);
        long ms = (long)Math.Ceiling(left.TotalMilliseconds);
        return RespReply.Integer(unitMs == 1 ? ms : (ms + 500) / 1000);
    }

    private async Task<RespReply> PersistAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        Allow(s, Permission.Read, s.Namespace, a[0]);
        Allow(s, Permission.Write, s.Namespace, a[0]);
        string key = Text(a[1]);
        var c = await Client().ConfigureAwait(false);
        var obj = await ReadStringAsync(c, s, key).ConfigureAwait(false);
        if (!obj.Found || Left(obj) is null)
            return RespReply.Zero;
        await WriteAsync(c, s.Namespace, key, obj.Value.Value, null, obj.Context, obj.Value.ContentType).ConfigureAwait(false);
        return RespReply.One;
    }

    private async Task<RespReply> ScanAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2);
        long cursor = Long(a[1], "ERR invalid cursor");
        string? pattern = null;
        string? type = null;
        int count = 10;
        for (int i = 2; i < a.Length; i++)
        {
            string option = Word(a[i]);
            if (i + 1 >= a.Length)
                throw new RespError("ERR syntax error");
            switch (option)
            {
                case "MATCH":
                    pattern = Text(a[++i], "patterns");
                    break;
                case "COUNT":
                    long n = Long(a[++i]);
                    if (n < 1)
                        throw new RespError("ERR syntax error");
                    count = (int)Math.Min(n, ScanLimits.MaxLimit);
                    break;
                case "TYPE":
                    type = Encoding.UTF8.GetString(a[++i]).ToLowerInvariant();
                    break;
                default:
                    throw new RespError("ERR syntax error");
            }
        }
        var spaces = Keyspaces(s);
        RespScanState state;
        if (cursor == 0)
        {
            string prefix = "";
            bool exact = false;
            if (pattern is not null)
            {
                int glob = pattern.IndexOfAny(['*', '?', '[', '\\']);
                if (glob < 0)
                    (prefix, exact) = (pattern, true);
                else if (glob == pattern.Length - 1 && pattern[glob] == '*')
                    prefix = pattern[..^1];
                else
                    throw new RespError("ERR SCAN here matches only prefix* patterns (or a whole key)");
            }
            state = new RespScanState(0, null, prefix, exact, type);
        }
        else
        {
            state = s.TakeCursor(cursor) ?? throw new RespError("ERR invalid cursor");
        }
        var c = await Client().ConfigureAwait(false);
        var keys = new List<RespReply>();
        while (state.Phase < spaces.Length)
        {
            var (ns, spaceType) = spaces[state.Phase];
            if ((state.Type is not null && state.Type != spaceType) || !_ctx.Access.IsAllowed(s.Principal!, Permission.Read, ns))
            {
                state = state with { Phase = state.Phase + 1, Token = null };
                continue;
            }
            var range = state.Prefix.Length == 0 ? ScanRange.All : ScanRange.WithPrefix(state.Prefix);
            var page = await c.ScanAsync(ns, range, count, state.Token).ConfigureAwait(false);
            foreach (var item in page.Items)
                if (item.Found && (!state.Exact || item.Key == state.Prefix))
                    keys.Add(RespReply.Bulk(item.Key));
            state = page.NextToken is { } next ? state with { Token = next } : state with { Phase = state.Phase + 1, Token = null };
            break;
        }
        long nextCursor = state.Phase >= spaces.Length ? 0 : s.SaveCursor(state);
        return RespReply.Array([RespReply.Bulk(nextCursor.ToString(CultureInfo.InvariantCulture)), RespReply.Array(keys)]);
    }
}
