using System.Net.Sockets;
using Google.Protobuf;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;
using Kv.Cluster.Remote.Protos;
using Kv.Cluster.Remote.Serialization;

namespace Kv.Cluster.Remote;

/// <summary>
/// A connection another system dialled to us: handshake (secret check both ways), then a read
/// loop that delivers envelopes and answers heartbeats. Anything malformed ends this connection
/// only, with one log line naming the peer and a counter.
/// </summary>
internal sealed class InboundConnection(RemoteTransport transport, Socket socket)
{
    private readonly string _endpoint = socket.RemoteEndPoint?.ToString() ?? "?";
    private RemoteConnection? _connection;
    private volatile bool _aborted;

    public Address? RemoteAddress { get; private set; }

    public ulong RemoteUid { get; private set; }

    public void Abort()
    {
        _aborted = true;
        if (_connection is { } c)
            c.Abort();
        else
            socket.Close();
    }

    public async Task RunAsync(CancellationToken shutdown)
    {
        try
        {
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(shutdown))
            {
                timeout.CancelAfter(transport.Options.HandshakeTimeout);
                _connection = await RemoteConnection.AcceptAsync(socket, transport.Certificate, transport.CertificateValidation, timeout.Token).ConfigureAwait(false);
                if (_aborted)
                    return;
                if (!await HandshakeAsync(_connection, timeout.Token).ConfigureAwait(false))
                    return;
            }
            await ReadLoopAsync(_connection, shutdown).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MalformedFrameException or UnknownTypeException or InvalidProtocolBufferException)
        {
            transport.ReportBadInput(_endpoint, RemoteAddress, e);
        }
        catch (OperationCanceledException) when (!shutdown.IsCancellationRequested && RemoteAddress is null)
        {
            transport.ReportBadInput(_endpoint, null, new TimeoutException("no complete handshake within remote.handshake-timeout"));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException
            or System.Security.Authentication.AuthenticationException)
        {
            if (!_aborted && !shutdown.IsCancellationRequested)
            {
                if (RemoteAddress is null)
                    transport.ReportBadInput(_endpoint, null, new IOException($"connection ended before the handshake completed: {e.Message}", e));
                else
                    transport.Log.Debug($"inbound connection from {RemoteAddress} closed: {e.Message}");
            }
        }
        finally
        {
            _connection?.Dispose();
            socket.Dispose();
        }
    }

    private async Task<bool> HandshakeAsync(RemoteConnection connection, CancellationToken ct)
    {
        var options = transport.Options;
        var frame = await FrameCodec.ReadOneAsync(connection.Input, options.MaximumFrameSize, ct).ConfigureAwait(false)
            ?? throw new MalformedFrameException("connection closed before the handshake");
        if (frame.Kind != FrameKind.Hello)
            throw new MalformedFrameException($"expected Hello, got {frame.Kind}");
        var hello = Hello.Parser.ParseFrom(frame.Body);
        if (hello.From is null || !ActorPath.IsValidName(hello.From.System) || string.IsNullOrEmpty(hello.From.Host) || hello.From.Port is 0 or > 65535 || hello.Nonce.Length != 16)
            throw new MalformedFrameException("Hello without a valid address and nonce");
        var from = new Address(hello.From.System, hello.From.Host, (int)hello.From.Port);
        var local = transport.LocalAddress;
        string? refusal = null;
        if (hello.ProtocolVersion != Handshake.ProtocolVersion)
            refusal = $"protocol version {hello.ProtocolVersion} is not supported (this system speaks {Handshake.ProtocolVersion})";
        else if (hello.ToSystem != local.System)
            refusal = $"this is system {local.System}, not {hello.ToSystem}";
        else if (transport.IsQuarantined(hello.Uid))
            refusal = $"quarantined: {local} quarantined this incarnation (uid {hello.Uid}); restart it";
        if (refusal is not null)
        {
            await RefuseAsync(connection, from, refusal, ct).ConfigureAwait(false);
            return false;
        }
        var nonce = Handshake.NewNonce();
        FrameCodec.Write(connection.Output, FrameKind.HelloAck, new HelloAck
        {
            From = new AddressData { System = local.System, Host = local.Host, Port = (uint)local.Port!.Value },
            Uid = transport.System.Uid,
            Nonce = ByteString.CopyFrom(nonce),
            Proof = ByteString.CopyFrom(Handshake.Prove(options.Secret, hello.Nonce.Span, transport.System.Uid)),
        });
        await connection.Output.FlushAsync(ct).ConfigureAwait(false);
        var second = await FrameCodec.ReadOneAsync(connection.Input, options.MaximumFrameSize, ct).ConfigureAwait(false);
        if (second is null)
        {
            transport.Log.Debug($"{from} closed the connection during the handshake");
            return false;
        }
        if (second.Value.Kind == FrameKind.Refused)
        {
            Interlocked.Increment(ref transport.Stats._refusedHandshakes);
            transport.Log.Warning($"{from} ({_endpoint}) refused to associate: {Refused.Parser.ParseFrom(second.Value.Body).Reason}");
            return false;
        }
        if (second.Value.Kind != FrameKind.Proof)
            throw new MalformedFrameException($"expected Proof, got {second.Value.Kind}");
        var proof = Proof.Parser.ParseFrom(second.Value.Body);
        if (!Handshake.Verify(options.Secret, nonce, hello.Uid, proof.Proof_.Span))
        {
            await RefuseAsync(connection, from, "wrong secret", ct).ConfigureAwait(false);
            return false;
        }
        if (!transport.OnHandshake(from, hello.Uid))
        {
            await RefuseAsync(connection, from, $"quarantined: {local} quarantined this incarnation (uid {hello.Uid}); restart it", ct).ConfigureAwait(false);
            return false;
        }
        RemoteAddress = from;
        RemoteUid = hello.Uid;
        return true;
    }

    private async Task RefuseAsync(RemoteConnection connection, Address from, string reason, CancellationToken ct)
    {
        Interlocked.Increment(ref transport.Stats._refusedHandshakes);
        transport.Log.Warning($"refused connection from {_endpoint} ({from}): {reason}");
        FrameCodec.Write(connection.Output, FrameKind.Refused, new Refused { Reason = reason });
        await connection.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private void Deliver(in System.Buffers.ReadOnlySequence<byte> body)
    {
        if (body.IsSingleSegment)
        {
            transport.Deliver(body.First);
            return;
        }
        // A frame split across two of the connection's buffers (rare): deliver from a copy.
        var copy = System.Buffers.ArrayPool<byte>.Shared.Rent((int)body.Length);
        try
        {
            System.Buffers.BuffersExtensions.CopyTo(body, copy);
            transport.Deliver(copy.AsMemory(0, (int)body.Length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private async Task ReadLoopAsync(RemoteConnection connection, CancellationToken ct)
    {
        var input = connection.Input;
        var stats = transport.Stats;
        int max = transport.Options.MaximumFrameSize;
        var from = RemoteAddress!;
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool ackHeartbeat = false;
            try
            {
                long before = buffer.Length;
                while (FrameCodec.TryRead(ref buffer, max, out var kind, out var body))
                {
                    bool drop = transport.Rules.Get(from).DropsReceive;
                    switch (kind)
                    {
                        case FrameKind.Envelope:
                            if (drop)
                                Interlocked.Increment(ref stats._droppedByRules);
                            else
                                Deliver(body);
                            break;
                        case FrameKind.Heartbeat:
                            FrameCodec.Parse(Heartbeat.Parser, body);
                            ackHeartbeat |= !drop;
                            break;
                        default:
                            throw new MalformedFrameException($"unexpected {kind} frame after the handshake");
                    }
                }
                Interlocked.Add(ref stats._bytesReceived, before - buffer.Length);
                if (result.IsCompleted)
                {
                    if (buffer.Length > 0)
                        throw new MalformedFrameException($"connection closed inside a frame ({buffer.Length} bytes pending)");
                    return;
                }
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (ackHeartbeat)
            {
                FrameCodec.Write(connection.Output, FrameKind.HeartbeatAck, new Heartbeat());
                await connection.Output.FlushAsync(ct).ConfigureAwait(false);
            }
        }
    }
}
