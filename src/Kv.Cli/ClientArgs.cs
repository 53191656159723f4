using Kv.Actors.Coordinators;
using System.Globalization;
using Kv.Actors;
using Kv.Client;

namespace Kv.Cli;

/// <summary>Options shared by the commands that talk to a cluster.</summary>
public static class ClientArgs
{
    /// <summary>Contact points when neither --nodes nor KV_NODES is given: the default node and the local dev cluster.</summary>
    public const string DefaultNodes = "127.0.0.1:2551,127.0.0.1:2552,127.0.0.1:2553";

    public static KvClientOptions Options(CliArgs args) =>
        Options(args.Option("nodes"), args.Option("system"), args.Option("cert"), args.Option("cert-password"), args.Option("ca"), Duration(args, "timeout"), args.Option("user"), args.Option("password"));

    /// <summary>The client options from parsed values (null: the environment variable or the default).</summary>
    public static KvClientOptions Options(string? nodesOption, string? system, string? certOption, string? passwordOption, string? caOption, TimeSpan? timeout, string? userOption = null, string? userPasswordOption = null)
    {
        string nodes = nodesOption ?? Environment.GetEnvironmentVariable("KV_NODES") ?? DefaultNodes;
        var contacts = nodes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (contacts.Length == 0)
            throw new CliException("--nodes needs at least one host:port");
        foreach (string c in contacts)
        {
            try
            {
                KvClientActor.NodeAddress(c, "kv");
            }
            catch (FormatException)
            {
                throw new CliException($"--nodes: '{c}' is not host:port");
            }
        }
        var (user, password) = Credentials(userOption, userPasswordOption);
        return new KvClientOptions
        {
            User = user,
            Password = password,
            ContactPoints = contacts,
            SystemName = system ?? "kv",
            Certificate = Certificate(certOption, passwordOption, caOption),
            // Long enough for a second handshake attempt (remote handshake timeout 5 s) on a busy machine.
            ConnectTimeout = TimeSpan.FromSeconds(10),
            RequestTimeout = timeout is null ? TimeSpan.FromSeconds(20) : timeout.Value + TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>
    /// The `secure` profile: --cert FILE.pfx --cert-password PW --ca ca.pem (or KV_CERT, KV_CERT_PASSWORD,
    /// KV_CA); none of them: plain TCP.
    /// </summary>
    private static KvClientCertificate? Certificate(string? certOption, string? passwordOption, string? caOption)
    {
        string? cert = certOption ?? Environment.GetEnvironmentVariable("KV_CERT");
        string? password = passwordOption ?? Environment.GetEnvironmentVariable("KV_CERT_PASSWORD");
        string? ca = caOption ?? Environment.GetEnvironmentVariable("KV_CA");
        if (cert is null && ca is null)
            return null;
        if (cert is null || ca is null)
            throw new CliException("the secure profile needs both --cert FILE.pfx and --ca CA.pem (or KV_CERT and KV_CA)");
        if (!File.Exists(cert))
            throw new CliException($"--cert: no file {cert}");
        if (!File.Exists(ca))
            throw new CliException($"--ca: no file {ca}");
        return new KvClientCertificate(Path.GetFullPath(cert), password ?? "", Path.GetFullPath(ca));
    }

    /// <summary>
    /// Who to log in as: --user NAME --password P (or KV_USER, KV_PASSWORD); none: no login
    /// (anonymous, where the cluster allows it). docs/security.md.
    /// </summary>
    private static (string? User, string? Password) Credentials(string? userOption, string? passwordOption)
    {
        string? user = userOption ?? Environment.GetEnvironmentVariable("KV_USER");
        string? password = passwordOption ?? Environment.GetEnvironmentVariable("KV_PASSWORD");
        if (string.IsNullOrEmpty(user))
            return password is null ? (null, null) : throw new CliException("--password (or KV_PASSWORD) needs --user (or KV_USER)");
        if (password is null)
            throw new CliException($"--user {user} needs --password P (or KV_PASSWORD)");
        return (user, password);
    }

    public static TimeSpan? Duration(CliArgs args, string name)
    {
        string? v = args.Option(name);
        return v is null ? null : ParseDuration(name, v, out var d) is { } error ? throw new CliException(error) : d;
    }

    /// <summary>A positive duration such as 500ms or 5s: null and the value, or the error message for --<paramref name="name"/>.</summary>
    public static string? ParseDuration(string name, string text, out TimeSpan value) =>
        Units.TryParseDuration(text, out value) && value > TimeSpan.Zero ? null : $"--{name} needs a duration such as 500ms or 5s, not '{text}'";

    public static int? Quorum(CliArgs args, string name)
    {
        string? v = args.Option(name);
        return v is null ? null : ParseQuorum(name, v, out int n) is { } error ? throw new CliException(error) : n;
    }

    /// <summary>A quorum override (0..1000): null and the value, or the error message for --<paramref name="name"/>.</summary>
    public static string? ParseQuorum(string name, string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value <= 1000 ? null : $"--{name} needs a small whole number, not '{text}'";

    public static RequestOptions Request(CliArgs args) => new()
    {
        R = Quorum(args, "r"),
        W = Quorum(args, "w"),
        DW = Quorum(args, "dw"),
        PR = Quorum(args, "pr"),
        PW = Quorum(args, "pw"),
        Timeout = Duration(args, "timeout"),
    };
}
