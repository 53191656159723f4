using System.Globalization;
using System.Text;
using Kv.Actors.Objects;

namespace Kv.Client;

/// <summary>
/// The causal context of an object (Riak's vclock): opaque to callers. Pass the context of a read
/// back with the next put or delete of that key, so the write supersedes what was read instead
/// of becoming a sibling. <see cref="ToString"/> gives a printable token that <see cref="Parse"/> reads.
/// </summary>
public sealed class CausalContext : IEquatable<CausalContext>
{
    public static readonly CausalContext Empty = new(VersionVector.Empty);

    internal CausalContext(VersionVector vector) => Vector = vector;

    internal VersionVector Vector { get; }

    public bool IsEmpty => Vector.Counters.Count == 0;

    /// <summary>A base64url token (empty for the empty context).</summary>
    public override string ToString()
    {
        if (IsEmpty)
            return "";
        string text = string.Join(';', Vector.Counters.Select(c => $"{c.Key}={c.Value.ToString(CultureInfo.InvariantCulture)}"));
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>Reads a token made by <see cref="ToString"/>. Throws <see cref="FormatException"/> on anything else.</summary>
    public static CausalContext Parse(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length == 0)
            return Empty;
        string b64 = token.Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
        string text;
        try
        {
            text = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
        }
        catch (FormatException)
        {
            throw new FormatException($"'{token}' is not a causal context (take it from a get's output)");
        }
        var entries = new List<(string, long)>();
        foreach (string part in text.Split(';'))
        {
            int eq = part.LastIndexOf('=');
            if (eq <= 0 || !long.TryParse(part.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long counter) || counter < 1)
                throw new FormatException($"'{token}' is not a causal context (take it from a get's output)");
            entries.Add((part[..eq], counter));
        }
        if (entries.Select(e => e.Item1).Distinct(StringComparer.Ordinal).Count() != entries.Count)
            throw new FormatException($"'{token}' is not a causal context (repeated entry)");
        return new CausalContext(VersionVector.Of([.. entries]));
    }

    public bool Equals(CausalContext? other) => other is not null && Vector.Equals(other.Vector);

    public override bool Equals(object? obj) => Equals(obj as CausalContext);

    public override int GetHashCode() => Vector.GetHashCode();
}
