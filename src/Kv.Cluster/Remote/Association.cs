using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using Kv.Cluster.Actor;
using Kv.Cluster.Event;
using Kv.Cluster.Remote.Protos;

namespace Kv.Cluster.Remote;

/// <summary>
/// The outbound half of the link to one remote system: a bounded queue of serialized frames and
/// one writer loop over one connection, so everything sent to that system leaves in order. The
/// loop connects lazily, handshakes, then writes frames in batches: it flushes whenever the queue
/// runs dry (no added latency on an idle link) or a batch reaches WriteBatchBytes. A broken
/// connection is re-dialled with exponential backoff: once at once, then, if that fails, when there
/// is something to send or a watch on that system; frames in flight on it are lost (at-most-once),
/// queued ones go out on the next connection.
/// </summary>
internal sealed class Association
{
    private readonly RemoteTransport _transport;
    private readonly Channel<OutboundFrame> _queue;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private volatile RemoteConnection? _connection;
    private long _lastHeard = Environment.TickCount64;
    private ICancelable? _heartbeats;
    private string? _lastFailure;

    public Association(RemoteTransport transport, Address remote)
    {
        _transport = transport;
        Remote = remote;
        _queue = Channel.CreateBounded<OutboundFrame>(
            new BoundedChannelOptions(transport.Options.SendQueueCapacity)
            {
                SingleReader = true,
                SingleWriter = false,
                FullMode = BoundedChannelFullMode.DropWrite,
                AllowSynchronousContinuations = false,
            },
            OnDropped);
    }

    public Address Remote { get; }

    /// <summary>Uid of the incarnation the current connection reached (0 before the first handshake).</summary>
    public ulong RemoteUid { get; private set; }

    /// <summary>Time since the remote last answered (handshake or heartbeat).</summary>
    public TimeSpan Silence => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastHeard));

    private ILoggingAdapter Log => _transport.Log;

    public void Start() => _loop = Task.Run(RunAsync);

    public void Enqueue(in OutboundFrame frame)
    {
        if (!_queue.Writer.TryWrite(frame))
            ToDeadLetters(frame);
    }

    private void OnDropped(OutboundFrame frame)
    {
        if (frame.IsHeartbeat)
            return;
        Interlocked.Increment(ref _transport.Stats._queueOverflows);
        ToDeadLetters(frame);
    }

    private void ToDeadLetters(in OutboundFrame frame)
    {
        if (frame.Message is not null && frame.Recipient is not null)
            _transport.System.DeadLetters.Tell(new DeadLetter(frame.Message, frame.Sender, frame.Recipient), frame.Sender);
    }

    public void AbortConnection() => _connection?.Abort();

    public async Task CloseAsync(TimeSpan grace)
    {
        _queue.Writer.TryComplete();
        if (await Task.WhenAny(_loop, Task.Delay(grace)).ConfigureAwait(false) != _loop)
            _stop.Cancel();
        _connection?.Abort();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var options = _transport.Options;
        var backoff = options.ReconnectMinBackoff;
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested && !_queue.Reader.Completion.IsCompleted)
        {
            RemoteConnection? connection = null;
            bool refused = false;
            bool wasConnected = false;
            try
            {
                connection = await ConnectAsync(ct).ConfigureAwait(false);
                if (connection is null)
                {
                    refused = true;
                }
                else
                {
                    _connection = connection;
                    wasConnected = true;
                    backoff = options.ReconnectMinBackoff;
                    _lastFailure = null;
                    await PumpAsync(connection, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                string reason = e is OperationCanceledException ? "handshake timed out" : e.Message;
                if (_connection is not null)
                {
                    Log.Warning($"association with {Remote} lost: {reason}");
                    _transport.System.EventStream.Publish(new DisassociatedEvent(Remote, reason));
                }
                else if (_lastFailure != reason)
                {
                    Log.Info($"cannot reach {Remote}: {reason}; retrying with backoff");
                }
                _lastFailure = reason;
            }
            finally
            {
                _heartbeats?.Cancel();
                _connection = null;
                connection?.Abort();
                connection?.Dispose();
            }
            if (_queue.Reader.Completion.IsCompleted)
                break;
            var delay = refused ? options.ReconnectMaxBackoff : backoff;
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.ReconnectMaxBackoff.Ticks));
            try
            {
                await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 1 + (int)(delay.TotalMilliseconds / 5))), ct).ConfigureAwait(false);
                // A lost connection is re-dialled once at once (what was in flight may have been
                // lost, and the peer may have something to say, such as a quarantine); after a
                // failed dial, only when the link is needed.
                if (!wasConnected && !await NeedsConnectionAsync(ct).ConfigureAwait(false))
                    break;
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        while (_queue.Reader.TryRead(out var left))
        {
            if (!left.IsHeartbeat)
                ToDeadLetters(left);
        }
    }

    /// <summary>
    /// Waits until the link is needed again: something to send, or a watch on that system (whose
    /// failure detection needs the link's heartbeats). A departed client, or any peer nobody talks
    /// to any more, is then not dialled every few seconds forever; members are re-dialled at once,
    /// as the cluster's own heartbeats to them keep coming. False when the association is closing.
    /// </summary>
    private async Task<bool> NeedsConnectionAsync(CancellationToken ct)
    {
        Task<bool>? queued = null; // one wait for the queue, kept across the rechecks
        while (true)
        {
            // A heartbeat queued for the lost connection is stale (a new one sends its own) and no
            // reason to dial: left in the queue, it had a departed peer re-dialled forever.
            while (_queue.Reader.TryPeek(out var head) && head.IsHeartbeat)
                _queue.Reader.TryRead(out _);
            if (_queue.Reader.Count > 0 || _transport.Watcher.Watches(Remote))
                return true;
            ct.ThrowIfCancellationRequested();
            queued ??= _queue.Reader.WaitToReadAsync(ct).AsTask();
            // No exception per recheck: the delay simply elapses.
            if (await Task.WhenAny(queued, Task.Delay(_transport.Options.ReconnectMaxBackoff, ct)).ConfigureAwait(false) == queued)
            {
                if (!await queued.ConfigureAwait(false))
                    return false;
                queued = null; // something arrived: look at what
            }
        }
    }

    /// <summary>Connects and handshakes; null when the peer refused or failed the secret check.</summary>
    private async Task<RemoteConnection?> ConnectAsync(CancellationToken ct)
    {
        var options = _transport.Options;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.HandshakeTimeout);
        var connection = await RemoteConnection.ConnectAsync(Remote.Host!, Remote.Port!.Value, _transport.Certificate, _transport.CertificateValidation, timeout.Token).ConfigureAwait(false);
        try
        {
            var local = _transport.LocalAddress;
            var nonce = Handshake.NewNonce();
            FrameCodec.Write(connection.Output, FrameKind.Hello, new Hello
            {
                ProtocolVersion = Handshake.ProtocolVersion,
                From = new AddressData { System = local.System, Host = local.Host, Port = (uint)local.Port!.Value },
                Uid = _transport.System.Uid,
                Nonce = Google.Protobuf.ByteString.CopyFrom(nonce),
                ToSystem = Remote.System,
            });
            await connection.Output.FlushAsync(timeout.Token).ConfigureAwait(false);
            var frame = await FrameCodec.ReadOneAsync(connection.Input, options.MaximumFrameSize, timeout.Token).ConfigureAwait(false)
                ?? throw new IOException("connection closed during the handshake");
            if (frame.Kind == FrameKind.Refused)
            {
                OnRefused(Refused.Parser.ParseFrom(frame.Body).Reason);
                connection.Dispose();
                return null;
            }
            if (frame.Kind != FrameKind.HelloAck)
                throw new MalformedFrameException($"expected HelloAck, got {frame.Kind}");
            var ack = HelloAck.Parser.ParseFrom(frame.Body);
            string? problem = null;
            if (!Handshake.Verify(options.Secret, nonce, ack.Uid, ack.Proof.Span))
                problem = "wrong secret";
            else if (ack.From is null || ack.From.System != Remote.System)
                problem = $"expected system {Remote.System} but {ack.From?.System ?? "?"} answered";
            else if (!_transport.OnHandshake(Remote, ack.Uid))
                problem = $"quarantined: {_transport.LocalAddress} quarantined this incarnation (uid {ack.Uid}); restart it";
            if (problem is not null)
            {
                Interlocked.Increment(ref _transport.Stats._refusedHandshakes);
                Log.Warning($"not associating with {Remote}: {problem}");
                FrameCodec.Write(connection.Output, FrameKind.Refused, new Refused { Reason = problem });
                await connection.Output.FlushAsync(timeout.Token).ConfigureAwait(false);
                connection.Dispose();
                if (problem.StartsWith("quarantined", StringComparison.Ordinal))
                    DropQueued();
                return null;
            }
            FrameCodec.Write(connection.Output, FrameKind.Proof, new Proof { Proof_ = Google.Protobuf.ByteString.CopyFrom(Handshake.Prove(options.Secret, ack.Nonce.Span, _transport.System.Uid)) });
            await connection.Output.FlushAsync(timeout.Token).ConfigureAwait(false);
            RemoteUid = ack.Uid;
            Interlocked.Exchange(ref _lastHeard, Environment.TickCount64);
            Log.Debug($"associated with {Remote} (uid {ack.Uid})");
            _transport.System.EventStream.Publish(new AssociatedEvent(Remote, ack.Uid));
            _transport.ResendWatches(Remote);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void OnRefused(string reason)
    {
        Interlocked.Increment(ref _transport.Stats._refusedHandshakes);
        Log.Warning($"{Remote} refused the association: {reason}");
        if (reason.StartsWith("quarantined", StringComparison.Ordinal))
        {
            _transport.System.EventStream.Publish(new ThisActorSystemQuarantinedEvent(Remote, reason));
            DropQueued();
        }
    }

    private void DropQueued()
    {
        while (_queue.Reader.TryRead(out var frame))
        {
            if (!frame.IsHeartbeat)
                ToDeadLetters(frame);
        }
    }

    private async Task PumpAsync(RemoteConnection connection, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var interval = _transport.Options.HeartbeatInterval;
        _heartbeats = _transport.System.Scheduler.ScheduleRepeatedly(interval, interval, () => _queue.Writer.TryWrite(OutboundFrame.Heartbeat));
        var reading = ReadAcksAsync(connection, linked.Token);
        var writing = WriteAsync(connection, linked.Token);
        var first = await Task.WhenAny(reading, writing).ConfigureAwait(false);
        await linked.CancelAsync().ConfigureAwait(false);
        connection.Abort();
        try
        {
            await Task.WhenAll(reading, writing).ConfigureAwait(false);
        }
        catch (Exception) when (first.IsFaulted)
        {
            await first.ConfigureAwait(false); // report the first failure
        }
        catch (OperationCanceledException) when (_queue.Reader.Completion.IsCompleted)
        {
        }
        await first.ConfigureAwait(false);
    }

    private async Task WriteAsync(RemoteConnection connection, CancellationToken ct)
    {
        var reader = _queue.Reader;
        var output = connection.Output;
        var stats = _transport.Stats;
        int batchLimit = _transport.Options.WriteBatchBytes;
        long pending = 0;
        ulong heartbeat = 0;
        while (true)
        {
            if (!reader.TryRead(out var frame))
            {
                if (pending > 0)
                {
                    await FlushAsync(output, ct).ConfigureAwait(false);
                    pending = 0;
                }
                if (!await reader.WaitToReadAsync(ct).ConfigureAwait(false))
                    return; // closed: everything queued went out
                continue;
            }
            var rule = _transport.Rules.Get(Remote);
            if (frame.IsHeartbeat)
            {
                if (rule.DropsSend)
                    continue;
                FrameCodec.Write(output, FrameKind.Heartbeat, new Heartbeat { Sequence = ++heartbeat });
                pending += 16;
            }
            else
            {
                if (rule.DropsSend)
                {
                    Interlocked.Increment(ref stats._droppedByRules);
                    continue;
                }
                if (!rule.IsPassThrough)
                {
                    if (pending > 0)
                    {
                        await FlushAsync(output, ct).ConfigureAwait(false);
                        pending = 0;
                    }
                    await ApplyDelayAsync(rule, frame, ct).ConfigureAwait(false);
                }
                output.Write(frame.Span);
                pending += frame.Length;
                Interlocked.Increment(ref stats._messagesSent);
                Interlocked.Add(ref stats._bytesSent, frame.Length);
            }
            if (pending >= batchLimit)
            {
                await FlushAsync(output, ct).ConfigureAwait(false);
                pending = 0;
            }
        }
    }

    private long _throttleAvailableAt;

    private async Task ApplyDelayAsync(FaultRule rule, OutboundFrame frame, CancellationToken ct)
    {
        if (rule.SendDelay > TimeSpan.Zero)
        {
            var due = frame.EnqueuedAt + (long)(rule.SendDelay.TotalSeconds * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, ct).ConfigureAwait(false);
        }
        if (rule.SendBytesPerSecond > 0)
        {
            // Each frame occupies the link for length / rate seconds.
            long now = Stopwatch.GetTimestamp();
            long start = Math.Max(now, _throttleAvailableAt);
            _throttleAvailableAt = start + (long)((double)frame.Length / rule.SendBytesPerSecond * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(now, start);
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, ct).ConfigureAwait(false);
        }
    }

    private static async ValueTask FlushAsync(System.IO.Pipelines.PipeWriter output, CancellationToken ct)
    {
        var result = await output.FlushAsync(ct).ConfigureAwait(false);
        if (result.IsCanceled || result.IsCompleted)
            throw new IOException("connection closed");
    }

    private async Task ReadAcksAsync(RemoteConnection connection, CancellationToken ct)
    {
        var input = connection.Input;
        int max = _transport.Options.MaximumFrameSize;
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                while (FrameCodec.TryRead(ref buffer, max, out var kind, out var body))
                {
                    switch (kind)
                    {
                        case FrameKind.HeartbeatAck:
                            if (!_transport.Rules.Get(Remote).DropsReceive)
                                Interlocked.Exchange(ref _lastHeard, Environment.TickCount64);
                            break;
                        case FrameKind.Refused:
                            var reason = FrameCodec.Parse(Refused.Parser, body).Reason;
                            OnRefused(reason);
                            throw new IOException($"refused: {reason}");
                        default:
                            throw new MalformedFrameException($"unexpected {kind} frame on an outbound connection");
                    }
                }
                if (result.IsCompleted)
                    throw new IOException("connection closed by the peer");
            }
            finally
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }
}
