using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Kv.Node.FrontEnds.Resp;

/// <summary>
/// One RESP connection on Kestrel: reads as many complete commands as have arrived (pipelining),
/// runs them (a run of plain GETs and SETs on distinct keys concurrently, everything else one after
/// another, so the effects keep the order they were sent in) and writes the replies in order. A
/// protocol error or a command larger than kv.resp.max-query-buffer answers -ERR Protocol error
/// and closes the connection; an exception in a command answers -ERR and the connection goes on.
/// </summary>
public sealed class RespConnectionHandler(FrontEndContext ctx, ILoggerFactory loggers) : ConnectionHandler
{
    private const int MaxBatch = 512;
    private static long _connected;
    private static long _received;
    private static long _commands;
    private static long _errors;
    private readonly ILogger _log = loggers.CreateLogger("Kv.Resp");
    private readonly RespCommands _commandsImpl = RespCommands.For(ctx, loggers);

    /// <summary>Open RESP connections on this node.</summary>
    public static long Connected => Interlocked.Read(ref _connected);

    /// <summary>RESP connections accepted since the node started.</summary>
    public static long Received => Interlocked.Read(ref _received);

    /// <summary>Commands run since the node started.</summary>
    public static long Commands => Interlocked.Read(ref _commands);

    /// <summary>Error replies sent since the node started (protocol errors included), as Redis's total_error_replies.</summary>
    public static long ErrorReplies => Interlocked.Read(ref _errors);

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        Interlocked.Increment(ref _connected);
        long id = Interlocked.Increment(ref _received);
        var session = new RespSession(id, connection.RemoteEndPoint, ctx);
        try
        {
            await RunAsync(connection, session).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or OperationCanceledException or ConnectionAbortedException)
        {
            _log.LogDebug("RESP connection {Id} from {Remote} ended: {Error}", id, connection.RemoteEndPoint, e.Message);
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "RESP connection {Id} from {Remote} failed", id, connection.RemoteEndPoint);
        }
        finally
        {
            Interlocked.Decrement(ref _connected);
        }
    }

    private async Task RunAsync(ConnectionContext connection, RespSession session)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        long maxBulk = ctx.Settings.Store.MaxObjectBytes;
        long maxQuery = ctx.Settings.RespOptions.MaxQueryBuffer;
        var batch = new List<byte[][]>(16);
        var ct = connection.ConnectionClosed;
        while (true)
        {
            var read = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = read.Buffer;
            batch.Clear();
            var (consumed, error) = Parse(buffer, maxBulk, batch);
            bool full = batch.Count >= MaxBatch;
            if (error is null && batch.Count == 0 && buffer.Slice(consumed).Length > maxQuery)
                error = $"Protocol error: a command of more than {maxQuery} bytes (kv.resp.max-query-buffer)";
            input.AdvanceTo(consumed, full || error is not null ? consumed : buffer.End);
            if (batch.Count > 0)
            {
                Interlocked.Add(ref _commands, batch.Count);
                int errors = 0;
                if (batch.Count == 1)
                {
                    // Unpipelined: one command, no list of replies.
                    var reply = await _commandsImpl.RunAsync(session, batch[0]).ConfigureAwait(false);
                    reply.Write(output, session.Protocol);
                    errors = reply.IsError ? 1 : 0;
                }
                else
                {
                    foreach (var reply in await _commandsImpl.RunBatchAsync(session, batch).ConfigureAwait(false))
                    {
                        reply.Write(output, session.Protocol);
                        if (reply.IsError)
                            errors++;
                    }
                }
                if (errors > 0)
                    Interlocked.Add(ref _errors, errors);
            }
            if (error is not null)
            {
                _log.LogDebug("RESP connection {Id} from {Remote}: {Error}", session.Id, session.Remote, error);
                RespReply.Error("ERR " + error).Write(output, session.Protocol);
                Interlocked.Increment(ref _errors);
                await output.FlushAsync(ct).ConfigureAwait(false);
                return;
            }
            if (batch.Count > 0)
            {
                var flushed = await output.FlushAsync(ct).ConfigureAwait(false);
                if (flushed.IsCompleted)
                    return;
            }
            if (session.Quit || (read.IsCompleted && !full))
                return;
        }
    }

    private static (SequencePosition Consumed, string? Error) Parse(ReadOnlySequence<byte> buffer, long maxBulk, List<byte[][]> batch)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (batch.Count < MaxBatch)
        {
            var status = RespParser.TryParse(ref reader, maxBulk, out var args, out var error);
            if (status == RespParse.Incomplete)
                break;
            if (status == RespParse.Error)
                return (reader.Position, error);
            if (args.Length > 0)
                batch.Add(args);
        }
        return (reader.Position, null);
    }
}
