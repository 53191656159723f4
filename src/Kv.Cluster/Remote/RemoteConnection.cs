using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Kv.Cluster.Remote;

/// <summary>One TCP connection (optionally TLS) with its pipes.</summary>
internal sealed class RemoteConnection : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private RemoteConnection(Socket socket, Stream stream)
    {
        Socket = socket;
        Stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: BufferSize, minimumReadSize: 4096, leaveOpen: true));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: BufferSize, leaveOpen: true));
    }

    public Socket Socket { get; }

    public Stream Stream { get; }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public string Endpoint => Socket.RemoteEndPoint?.ToString() ?? "?";

    public static async Task<RemoteConnection> ConnectAsync(string host, int port, X509Certificate2? certificate, RemoteCertificateValidationCallback? validate, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (certificate is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = host,
                    ClientCertificates = [certificate],
                    RemoteCertificateValidationCallback = validate,
                }, cancellationToken).ConfigureAwait(false);
                stream = ssl;
            }
            return new RemoteConnection(socket, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task<RemoteConnection> AcceptAsync(Socket socket, X509Certificate2? certificate, RemoteCertificateValidationCallback? validate, CancellationToken cancellationToken)
    {
        socket.NoDelay = true;
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (certificate is not null)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateRequired = true,
                    RemoteCertificateValidationCallback = validate,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            stream = ssl;
        }
        return new RemoteConnection(socket, stream);
    }

    /// <summary>Closes with a TCP reset (fault injection, quarantine).</summary>
    public void Abort()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception)
        {
            // already closed
        }
        Socket.Close();
    }

    /// <summary>Releases everything; never throws (a broken connection must not break the loop that owns it).</summary>
    public void Dispose()
    {
        var closed = new IOException("connection closed");
        try
        {
            Input.Complete(closed);
        }
        catch (Exception)
        {
            // best effort
        }
        try
        {
            // Completing with an exception discards buffered bytes instead of writing them to a dead socket.
            Output.Complete(closed);
        }
        catch (Exception)
        {
            // best effort
        }
        try
        {
            Stream.Dispose();
        }
        catch (Exception)
        {
            // best effort
        }
    }
}
