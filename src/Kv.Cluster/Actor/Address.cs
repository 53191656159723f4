using System.Globalization;

namespace Kv.Cluster.Actor;

/// <summary>
/// Where an actor system lives: <c>kv://system</c> for a local-only system,
/// <c>kv://system@host:port</c> for one reachable by remoting.
/// </summary>
public sealed record Address(string System, string? Host = null, int? Port = null) : IComparable<Address>
{
    /// <summary>The scheme every Kv address uses.</summary>
    public const string Scheme = "kv";

    private string? _text;

    /// <summary>True when the address names a host and port (a remoting address).</summary>
    public bool HasGlobalScope => Host is not null && Port is not null;

    /// <summary>Parses <c>kv://system</c> or <c>kv://system@host:port</c>.</summary>
    public static Address Parse(string text)
    {
        if (!TryParse(text, out var address, out var rest) || rest.Length != 0)
            throw new FormatException($"'{text}' is not an address; expected kv://system or kv://system@host:port");
        return address;
    }

    /// <summary>Parses the address at the start of <paramref name="text"/>; <paramref name="rest"/> is what follows it (a path).</summary>
    public static bool TryParse(string text, out Address address, out string rest)
    {
        address = null!;
        rest = "";
        const string prefix = Scheme + "://";
        if (!text.StartsWith(prefix, StringComparison.Ordinal))
            return false;
        int start = prefix.Length;
        int slash = text.IndexOf('/', start);
        string authority = slash < 0 ? text[start..] : text[start..slash];
        rest = slash < 0 ? "" : text[slash..];
        int at = authority.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            if (!ActorPath.IsValidName(authority))
                return false;
            address = new Address(authority);
            return true;
        }
        string system = authority[..at];
        string hostPort = authority[(at + 1)..];
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !ActorPath.IsValidName(system))
            return false;
        if (!int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is <= 0 or > 65535)
            return false;
        address = new Address(system, hostPort[..colon], port);
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => _text ??= HasGlobalScope
        ? string.Create(CultureInfo.InvariantCulture, $"{Scheme}://{System}@{Host}:{Port}")
        : $"{Scheme}://{System}";

    /// <summary>Total order by text; the cluster uses it to pick leaders and oldest members.</summary>
    public int CompareTo(Address? other) => other is null ? 1 : string.CompareOrdinal(ToString(), other.ToString());

    /// <inheritdoc />
    public bool Equals(Address? other) =>
        other is not null && string.Equals(System, other.System, StringComparison.Ordinal)
        && string.Equals(Host, other.Host, StringComparison.Ordinal) && Port == other.Port;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(System, Host, Port);
}
