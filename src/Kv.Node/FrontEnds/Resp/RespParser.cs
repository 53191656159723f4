using System.Buffers;
using System.Buffers.Text;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>How far a parse got.</summary>
public enum RespParse
{
    /// <summary>A command was read (possibly empty: an empty inline line or *0, to be skipped).</summary>
    Complete,

    /// <summary>More bytes are needed; nothing was consumed.</summary>
    Incomplete,

    /// <summary>The bytes break the protocol or a limit; the connection answers the error and closes.</summary>
    Error,
}

/// <summary>
/// Reads client commands: RESP arrays of bulk strings (*N, then N times $LEN + bytes) or inline
/// lines (words separated by spaces, as telnet sends). Hard limits: at most
/// <see cref="RespOptions.MaxArguments"/> arguments, bulk strings of at most the given length, no
/// nested aggregates (a command is a flat array), header lines of at most 32 bytes and inline lines
/// of at most <see cref="RespOptions.MaxInlineBytes"/>. Nothing is allocated from a declared
/// length: an argument is copied only once all its bytes are there.
/// </summary>
public static class RespParser
{
    private const int MaxHeaderLine = 32;

    public static RespParse TryParse(ref SequenceReader<byte> reader, long maxBulk, out byte[][] args, out string? error)
    {
        args = [];
        error = null;
        if (!reader.TryPeek(out byte first))
            return RespParse.Incomplete;
        long start = reader.Consumed;
        var result = first == (byte)'*' ? ParseArray(ref reader, maxBulk, out args, out error) : ParseInline(ref reader, out args, out error);
        if (result == RespParse.Incomplete)
            reader.Rewind(reader.Consumed - start);
        return result;
    }

    private static RespParse ParseArray(ref SequenceReader<byte> reader, long maxBulk, out byte[][] args, out string? error)
    {
        args = [];
        reader.Advance(1);
        var header = ReadNumber(ref reader, out long count, out error, "invalid multibulk length");
        if (header != RespParse.Complete)
            return header;
        if (count <= 0)
            return RespParse.Complete;
        if (count > RespOptions.MaxArguments)
        {
            error = $"Protocol error: invalid multibulk length (at most {RespOptions.MaxArguments} arguments)";
            return RespParse.Error;
        }
        // Check every argument is there before copying any (a declared count allocates nothing).
        long consumedAtMark = reader.Consumed;
        for (long i = 0; i < count; i++)
        {
            var arg = SkipBulk(ref reader, maxBulk, out long checkedLen, out error);
            if (arg != RespParse.Complete)
                return arg;
            reader.Advance(checkedLen + 2);
        }
        reader.Rewind(reader.Consumed - consumedAtMark);
        var list = new byte[count][];
        for (long i = 0; i < count; i++)
        {
            SkipBulk(ref reader, maxBulk, out long len, out _);
            var bytes = new byte[len];
            reader.Sequence.Slice(reader.Position, len).CopyTo(bytes);
            list[i] = bytes;
            reader.Advance(len + 2);
        }
        args = list;
        return RespParse.Complete;
    }

    /// <summary>Reads a bulk string's header and checks its bytes and CRLF are there; on Complete the reader is at its first byte.</summary>
    private static RespParse SkipBulk(ref SequenceReader<byte> reader, long maxBulk, out long len, out string? error)
    {
        len = 0;
        error = null;
        if (!reader.TryRead(out byte prefix))
            return RespParse.Incomplete;
        if (prefix != (byte)'$')
        {
            error = prefix == (byte)'*'
                ? "Protocol error: nested arrays are not commands"
                : $"Protocol error: expected '$', got '{(prefix is >= 32 and < 127 ? ((char)prefix).ToString() : "\\x" + prefix.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))}'";
            return RespParse.Error;
        }
        var header = ReadNumber(ref reader, out len, out error, "invalid bulk length");
        if (header != RespParse.Complete)
            return header;
        if (len < 0 || len > maxBulk)
        {
            error = $"Protocol error: invalid bulk length (at most {maxBulk} bytes)";
            return RespParse.Error;
        }
        if (reader.Remaining < len + 2)
            return RespParse.Incomplete;
        var tail = reader.Sequence.Slice(reader.Position).Slice(len, 2);
        Span<byte> crlf = stackalloc byte[2];
        tail.CopyTo(crlf);
        if (crlf[0] != (byte)'\r' || crlf[1] != (byte)'\n')
        {
            error = "Protocol error: a bulk string does not end with CRLF";
            return RespParse.Error;
        }
        return RespParse.Complete;
    }

    private static RespParse ReadNumber(ref SequenceReader<byte> reader, out long value, out string? error, string what)
    {
        value = 0;
        error = null;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            if (reader.Remaining > MaxHeaderLine)
            {
                error = "Protocol error: " + what;
                return RespParse.Error;
            }
            return RespParse.Incomplete;
        }
        Span<byte> buf = stackalloc byte[MaxHeaderLine];
        if (line.Length < 2 || line.Length > MaxHeaderLine)
        {
            error = "Protocol error: " + what;
            return RespParse.Error;
        }
        line.CopyTo(buf);
        var text = buf[..(int)line.Length];
        if (text[^1] != (byte)'\r' || !Utf8Parser.TryParse(text[..^1], out value, out int used) || used != text.Length - 1)
        {
            error = "Protocol error: " + what;
            return RespParse.Error;
        }
        return RespParse.Complete;
    }

    private static RespParse ParseInline(ref SequenceReader<byte> reader, out byte[][] args, out string? error)
    {
        args = [];
        error = null;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
        {
            if (reader.Remaining > RespOptions.MaxInlineBytes)
            {
                error = "Protocol error: too big inline request";
                return RespParse.Error;
            }
            return RespParse.Incomplete;
        }
        if (line.Length > RespOptions.MaxInlineBytes)
        {
            error = "Protocol error: too big inline request";
            return RespParse.Error;
        }
        var bytes = line.ToArray().AsSpan();
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
            bytes = bytes[..^1];
        var words = new List<byte[]>();
        int i = 0;
        while (i < bytes.Length)
        {
            while (i < bytes.Length && bytes[i] is (byte)' ' or (byte)'\t')
                i++;
            if (i >= bytes.Length)
                break;
            if (bytes[i] is (byte)'"' or (byte)'\'')
            {
                byte quote = bytes[i++];
                int close = bytes[i..].IndexOf(quote);
                if (close < 0)
                {
                    error = "Protocol error: unbalanced quotes in request";
                    return RespParse.Error;
                }
                words.Add(bytes.Slice(i, close).ToArray());
                i += close + 1;
                continue;
            }
            int s = i;
            while (i < bytes.Length && bytes[i] is not ((byte)' ' or (byte)'\t'))
                i++;
            words.Add(bytes[s..i].ToArray());
        }
        args = [.. words];
        return RespParse.Complete;
    }
}
