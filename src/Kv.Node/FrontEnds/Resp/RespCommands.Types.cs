using System.Text;
using Kv.Actors.Security;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>Hashes, sets and lists: the store's CRDT data types, each in its namespace.</summary>
public sealed partial class RespCommands
{
    private string Key(RespSession s, byte[][] a, Permission p, string ns)
    {
        Allow(s, p, ns, a[0]);
        return Text(a[1]);
    }

    // ---- hashes ----

    private async Task<RespReply> HSetAsync(RespSession s, byte[][] a, bool legacy)
    {
        Arity(a, 4);
        if (a.Length % 2 != 0)
            throw new RespError($"ERR wrong number of arguments for '{Encoding.ASCII.GetString(a[0]).ToLowerInvariant()}' command");
        string key = Key(s, a, Permission.Write, _o.Hashes);
        var fields = new List<KeyValuePair<string, string>>();
        for (int i = 2; i < a.Length; i += 2)
            fields.Add(KeyValuePair.Create(Text(a[i], "fields"), Text(a[i + 1], "hash values")));
        await GuardAsync(s, key, "hash").ConfigureAwait(false);
        var c = await Client().ConfigureAwait(false);
        long added = await c.HashSetAsync(_o.Hashes, key, fields).ConfigureAwait(false);
        return legacy ? RespReply.Ok : RespReply.Integer(added);
    }

    private async Task<RespReply> HGetAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3, 3);
        string key = Key(s, a, Permission.Read, _o.Hashes);
        var c = await Client().ConfigureAwait(false);
        var value = await c.HashGetAsync(_o.Hashes, key, Text(a[2], "fields")).ConfigureAwait(false);
        if (value is null)
            await MissAsync(s, key, "hash").ConfigureAwait(false);
        return RespReply.Bulk(value);
    }

    private async Task<RespReply> HGetAllAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        string key = Key(s, a, Permission.Read, _o.Hashes);
        var c = await Client().ConfigureAwait(false);
        var all = await c.HashGetAllAsync(_o.Hashes, key).ConfigureAwait(false);
        if (all.Count == 0)
            await MissAsync(s, key, "hash").ConfigureAwait(false);
        return RespReply.Map(all.SelectMany(f => new[] { RespReply.Bulk(f.Key), RespReply.Bulk(f.Value) }).ToList());
    }

    private async Task<RespReply> HDelAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3);
        string key = Key(s, a, Permission.Write, _o.Hashes);
        var fields = a.Skip(2).Select(f => Text(f, "fields")).ToList();
        var c = await Client().ConfigureAwait(false);
        long removed = await c.HashDeleteAsync(_o.Hashes, key, fields).ConfigureAwait(false);
        if (removed == 0)
            await MissAsync(s, key, "hash").ConfigureAwait(false);
        return RespReply.Integer(removed);
    }

    private async Task<RespReply> HIncrByAsync(RespSession s, byte[][] a)
    {
        Arity(a, 4, 4);
        string key = Key(s, a, Permission.Write, _o.Hashes);
        string field = Text(a[2], "fields");
        long by = Long(a[3]);
        await GuardAsync(s, key, "hash").ConfigureAwait(false);
        var c = await Client().ConfigureAwait(false);
        return RespReply.Integer(await c.HashIncrementAsync(_o.Hashes, key, field, by).ConfigureAwait(false));
    }

    // ---- sets ----

    private async Task<RespReply> SAddAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3);
        string key = Key(s, a, Permission.Write, _o.Sets);
        var members = a.Skip(2).Select(m => Text(m, "members")).ToList();
        await GuardAsync(s, key, "set").ConfigureAwait(false);
        var c = await Client().ConfigureAwait(false);
        return RespReply.Integer(await c.SetAddAsync(_o.Sets, key, members).ConfigureAwait(false));
    }

    private async Task<RespReply> SRemAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3);
        string key = Key(s, a, Permission.Write, _o.Sets);
        var members = a.Skip(2).Select(m => Text(m, "members")).ToList();
        var c = await Client().ConfigureAwait(false);
        long removed = await c.SetRemoveAsync(_o.Sets, key, members).ConfigureAwait(false);
        if (removed == 0)
            await MissAsync(s, key, "set").ConfigureAwait(false);
        return RespReply.Integer(removed);
    }

    private async Task<RespReply> SMembersAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        string key = Key(s, a, Permission.Read, _o.Sets);
        var c = await Client().ConfigureAwait(false);
        var members = await c.SetMembersAsync(_o.Sets, key).ConfigureAwait(false);
        if (members.Count == 0)
            await MissAsync(s, key, "set").ConfigureAwait(false);
        return RespReply.Set(members.Select(m => RespReply.Bulk(m)).ToList());
    }

    private async Task<RespReply> SIsMemberAsync(RespSession s, byte[][] a)
    {
        Arity(a, 3, 3);
        string key = Key(s, a, Permission.Read, _o.Sets);
        var c = await Client().ConfigureAwait(false);
        bool member = await c.SetIsMemberAsync(_o.Sets, key, Text(a[2], "members")).ConfigureAwait(false);
        if (!member)
            await MissAsync(s, key, "set").ConfigureAwait(false);
        return member ? RespReply.One : RespReply.Zero;
    }

    private async Task<RespReply> SCardAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        string key = Key(s, a, Permission.Read, _o.Sets);
        var c = await Client().ConfigureAwait(false);
        int n = await c.SetSizeAsync(_o.Sets, key).ConfigureAwait(false);
        if (n == 0)
            await MissAsync(s, key, "set").ConfigureAwait(false);
        return RespReply.Integer(n);
    }

    // ---- lists ----

    private async Task<RespReply> PushAsync(RespSession s, byte[][] a, bool left)
    {
        Arity(a, 3);
        string key = Key(s, a, Permission.Write, _o.Lists);
        var values = a.Skip(2).Select(v => Text(v, "list elements")).ToList();
        await GuardAsync(s, key, "list").ConfigureAwait(false);
        var c = await Client().ConfigureAwait(false);
        long length = left
            ? await c.ListPushLeftAsync(_o.Lists, key, values).ConfigureAwait(false)
            : await c.ListPushRightAsync(_o.Lists, key, values).ConfigureAwait(false);
        return RespReply.Integer(length);
    }

    private async Task<RespReply> PopAsync(RespSession s, byte[][] a, bool left)
    {
        Arity(a, 2, 3);
        string key = Key(s, a, Permission.Write, _o.Lists);
        long count = -1;
        if (a.Length == 3)
        {
            count = Long(a[2], "ERR value is out of range, must be positive");
            if (count < 0)
                throw new RespError("ERR value is out of range, must be positive");
        }
        var c = await Client().ConfigureAwait(false);
        async Task<string?> Pop() => left
            ? await c.ListPopLeftAsync(_o.Lists, key).ConfigureAwait(false)
            : await c.ListPopRightAsync(_o.Lists, key).ConfigureAwait(false);
        if (count < 0)
        {
            var one = await Pop().ConfigureAwait(false);
            if (one is null)
                await MissAsync(s, key, "list").ConfigureAwait(false);
            return RespReply.Bulk(one);
        }
        var popped = new List<RespReply>();
        for (long i = 0; i < Math.Min(count, 10_000); i++)
        {
            if (await Pop().ConfigureAwait(false) is not { } v)
                break;
            popped.Add(RespReply.Bulk(v));
        }
        if (popped.Count == 0)
        {
            await MissAsync(s, key, "list").ConfigureAwait(false);
            return count == 0 ? RespReply.EmptyArray : RespReply.Nil;
        }
        return RespReply.Array(popped);
    }

    private async Task<RespReply> LRangeAsync(RespSession s, byte[][] a)
    {
        Arity(a, 4, 4);
        string key = Key(s, a, Permission.Read, _o.Lists);
        long start = Long(a[2]);
        long stop = Long(a[3]);
        var c = await Client().ConfigureAwait(false);
        var items = await c.ListRangeAsync(_o.Lists, key, start, stop).ConfigureAwait(false);
        if (items.Count == 0)
            await MissAsync(s, key, "list").ConfigureAwait(false);
        return RespReply.Array(items.Select(i => RespReply.Bulk(i)).ToList());
    }

    private async Task<RespReply> LLenAsync(RespSession s, byte[][] a)
    {
        Arity(a, 2, 2);
        string key = Key(s, a, Permission.Read, _o.Lists);
        var c = await Client().ConfigureAwait(false);
        int n = await c.ListLengthAsync(_o.Lists, key).ConfigureAwait(false);
        if (n == 0)
            await MissAsync(s, key, "list").ConfigureAwait(false);
        return RespReply.Integer(n);
    }
}
