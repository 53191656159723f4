using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>What a RESP reply is.</summary>
public enum RespKind
{
    Simple,
    Error,
    Integer,
    Bulk,
    Null,
    Array,
    Map,
    Set,
    Double,
}

/// <summary>
/// One reply, written in RESP2 or RESP3 (per connection, HELLO): a map is a flat array in RESP2, a
/// set an array, a null $-1 (a null array *-1 is not used).
/// </summary>
public sealed class RespReply
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();

    public static readonly RespReply Ok = Simple("OK");
    public static readonly RespReply Pong = Simple("PONG");
    public static readonly RespReply Nil = new(RespKind.Null);
    public static readonly RespReply Zero = Integer(0);
    public static readonly RespReply One = Integer(1);
    public static readonly RespReply EmptyArray = Array([]);

    private RespReply(RespKind kind) => Kind = kind;

    public RespKind Kind { get; }

    public string? Text { get; private init; }

    public long Number { get; private init; }

    public byte[]? Bytes { get; private init; }

    public IReadOnlyList<RespReply>? Items { get; private init; }

    public static RespReply Simple(string text) => new(RespKind.Simple) { Text = text };

    /// <summary>An error; <paramref name="text"/> starts with its code (ERR, WRONGTYPE, NOAUTH...).</summary>
    public static RespReply Error(string text) => new(RespKind.Error) { Text = text.Replace('\r', ' ').Replace('\n', ' ') };

    public static RespReply Integer(long n) => new(RespKind.Integer) { Number = n };

    public static RespReply Bulk(byte[]? bytes) => bytes is null ? Nil : new(RespKind.Bulk) { Bytes = bytes };

    public static RespReply Bulk(string? text) => text is null ? Nil : Bulk(Encoding.UTF8.GetBytes(text));

    public static RespReply Array(IReadOnlyList<RespReply> items) => new(RespKind.Array) { Items = items };

    /// <summary>Key/value pairs (flattened: k1, v1, k2, v2...).</summary>
    public static RespReply Map(IReadOnlyList<RespReply> flat) => new(RespKind.Map) { Items = flat };

    public static RespReply Set(IReadOnlyList<RespReply> items) => new(RespKind.Set) { Items = items };

    public static RespReply Double(double d) => new(RespKind.Double) { Text = Format(d) };

    public bool IsError => Kind == RespKind.Error;

    /// <summary>A double as Redis prints it (shortest round-trip form, inf / -inf).</summary>
    public static string Format(double d) =>
        double.IsPositiveInfinity(d) ? "inf" : double.IsNegativeInfinity(d) ? "-inf" : d.ToString("R", CultureInfo.InvariantCulture);

    public void Write(IBufferWriter<byte> w, int protocol)
    {
        switch (Kind)
        {
            case RespKind.Simple:
                Line(w, (byte)'+', Text!);
                break;
            case RespKind.Error:
                Line(w, (byte)'-', Text!);
                break;
            case RespKind.Integer:
                Header(w, (byte)':', Number);
                break;
            case RespKind.Bulk:
                Header(w, (byte)'$', Bytes!.Length);
                w.Write(Bytes);
                w.Write(Crlf);
                break;
            case RespKind.Null:
                if (protocol >= 3)
                    w.Write("_\r\n"u8);
                else
                    w.Write("$-1\r\n"u8);
                break;
            case RespKind.Double:
                if (protocol >= 3)
                    Line(w, (byte)',', Text!);
                else
                    Bulk(Text).Write(w, protocol);
                break;
            case RespKind.Map when protocol >= 3:
                Header(w, (byte)'%', Items!.Count / 2);
                foreach (var item in Items)
                    item.Write(w, protocol);
                break;
            case RespKind.Set when protocol >= 3:
                Header(w, (byte)'~', Items!.Count);
                foreach (var item in Items)
                    item.Write(w, protocol);
                break;
            default:
                Header(w, (byte)'*', Items!.Count);
                foreach (var item in Items)
                    item.Write(w, protocol);
                break;
        }
    }

    private static void Line(IBufferWriter<byte> w, byte prefix, string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length) + 3;
        var span = w.GetSpan(max);
        span[0] = prefix;
        int n = Encoding.UTF8.GetBytes(text, span[1..]);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        w.Advance(n + 3);
    }

    private static void Header(IBufferWriter<byte> w, byte prefix, long n)
    {
        var span = w.GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(n, span[1..], out int written);
        span[written + 1] = (byte)'\r';
        span[written + 2] = (byte)'\n';
        w.Advance(written + 3);
    }
}
