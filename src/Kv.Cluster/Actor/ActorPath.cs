using System.Text;

namespace Kv.Cluster.Actor;

/// <summary>
/// The name of an actor: its system's address and the chain of names from the root guardian,
/// e.g. <c>kv://node@127.0.0.1:4000/user/ring</c>. Immutable; the text form is built once.
/// </summary>
public sealed class ActorPath : IEquatable<ActorPath>
{
    private string? _text;
    private string? _elementsText;
    private byte[]? _utf8;

    private ActorPath(Address address, ActorPath? parent, string name)
    {
        Address = address;
        Parent = parent;
        Name = name;
        Depth = parent is null ? 0 : parent.Depth + 1;
    }

    /// <summary>The address of the system the actor lives in.</summary>
    public Address Address { get; }

    /// <summary>The parent path; null for the root.</summary>
    public ActorPath? Parent { get; }

    /// <summary>The last element (empty for the root).</summary>
    public string Name { get; }

    /// <summary>Number of elements below the root.</summary>
    public int Depth { get; }

    /// <summary>The root path of a system.</summary>
    public static ActorPath Root(Address address) => new(address, null, "");

    /// <summary>A child path.</summary>
    public ActorPath Child(string name) => new(Address, this, name);

    /// <summary>Elements from the root, e.g. ["user", "ring"].</summary>
    public IReadOnlyList<string> Elements
    {
        get
        {
            var list = new string[Depth];
            var p = this;
            for (int i = Depth - 1; i >= 0; i--, p = p.Parent!)
                list[i] = p.Name;
            return list;
        }
    }

    /// <summary>The path without the address, e.g. <c>/user/ring</c>.</summary>
    public string ToStringWithoutAddress()
    {
        if (_elementsText is not null)
            return _elementsText;
        if (Depth == 0)
            return _elementsText = "/";
        var sb = new StringBuilder();
        foreach (var e in Elements)
            sb.Append('/').Append(e);
        return _elementsText = sb.ToString();
    }

    /// <summary>The path with another address in front (local paths sent to remote systems).</summary>
    public string ToStringWithAddress(Address address) => address + ToStringWithoutAddress();

    /// <inheritdoc />
    public override string ToString() => _text ??= Address + ToStringWithoutAddress();

    /// <summary>UTF-8 of <see cref="ToString"/>, made once (remoting sends it with every message from this actor).</summary>
    internal byte[] Utf8 => _utf8 ??= Encoding.UTF8.GetBytes(ToString());

    /// <summary>Parses a full path such as <c>kv://sys@host:1/user/a</c>.</summary>
    public static bool TryParse(string text, out ActorPath path)
    {
        path = null!;
        if (!Address.TryParse(text, out var address, out var rest))
            return false;
        path = Root(address);
        if (rest.Length == 0 || rest == "/")
            return true;
        foreach (var element in rest.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!IsValidName(element))
                return false;
            path = path.Child(element);
        }
        return true;
    }

    /// <summary>Parses a full path or throws <see cref="FormatException"/>.</summary>
    public static ActorPath Parse(string text) =>
        TryParse(text, out var path) ? path : throw new FormatException($"'{text}' is not an actor path");

    /// <summary>Actor and system names: 1..255 chars of letters, digits and <c>-_.$+:@&amp;=,!~';*</c>.</summary>
    public static bool IsValidName(string name)
    {
        if (name.Length is 0 or > 255)
            return false;
        foreach (char c in name)
        {
            if (char.IsAsciiLetterOrDigit(c))
                continue;
            if ("-_.$+:@&=,!~';*".IndexOf(c, StringComparison.Ordinal) < 0)
                return false;
        }
        return true;
    }

    /// <inheritdoc />
    public bool Equals(ActorPath? other) =>
        other is not null && (ReferenceEquals(this, other) || string.Equals(ToString(), other.ToString(), StringComparison.Ordinal));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ActorPath);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}
