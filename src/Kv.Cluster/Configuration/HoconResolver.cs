namespace Kv.Cluster.Configuration;

/// <summary>
/// Replaces every substitution in a parsed tree with its value, in place. <c>${a.b}</c> is looked
/// up from the root, then in the environment (<c>${HOME}</c>); <c>${?a.b}</c> may be missing: the
/// field then keeps the value it had before (<c>port = 2551</c>, <c>port = ${?KV_PORT}</c>) or is
/// dropped. A field that refers to itself (<c>path = ${path} [x]</c>, <c>+=</c>) sees its previous
/// value. Cycles and missing required substitutions are errors naming where they were written.
/// </summary>
public sealed class HoconResolver
{
    private readonly HoconObject _root;
    private readonly Func<string, string?> _environment;
    private readonly HashSet<HoconConcat> _resolving = new(ReferenceEqualityComparer.Instance);

    private HoconResolver(HoconObject root, Func<string, string?> environment) => (_root, _environment) = (root, environment);

    /// <summary>Resolves <paramref name="root"/> in place and returns it.</summary>
    public static HoconObject Resolve(HoconObject root, Func<string, string?>? environment = null)
    {
        new HoconResolver(root, environment ?? Environment.GetEnvironmentVariable).ResolveObject(root, []);
        return root;
    }

    private void ResolveObject(HoconObject obj, List<string> path)
    {
        foreach (var (key, value) in obj.Fields.ToList())
        {
            var fieldPath = new List<string>(path) { key };
            var resolved = ResolveValue(value, fieldPath);
            if (resolved is null)
                obj.Remove(key);
            else if (!ReferenceEquals(resolved, value))
                obj.Set(key, resolved);
            if (resolved is HoconObject child)
                ResolveObject(child, fieldPath);
        }
    }

    private HoconValue? ResolveValue(HoconValue value, List<string> path)
    {
        switch (value)
        {
            case HoconConcat concat:
                return ResolveConcat(concat, path);
            case HoconArray array:
                for (int i = 0; i < array.Items.Count; i++)
                    array.Items[i] = ResolveValue(array.Items[i], path) ?? new HoconNull(array.Items[i].Position);
                return array;
            default:
                return value;
        }
    }

    private HoconValue? ResolveConcat(HoconConcat concat, List<string> path)
    {
        if (!_resolving.Add(concat))
            throw new HoconException(concat.Position, $"a cycle of substitutions through '{string.Join('.', path)}'");
        try
        {
            var pieces = new List<HoconValue>();
            foreach (var part in concat.Parts)
            {
                switch (part)
                {
                    case HoconSubstitution s:
                        var found = Substitute(s, concat, path);
                        if (found is not null)
                            pieces.Add(found);
                        break;
                    case HoconObject o:
                        ResolveObject(o, path);
                        pieces.Add(o);
                        break;
                    default:
                        pieces.Add(ResolveValue(part, path) ?? new HoconNull(part.Position));
                        break;
                }
            }
            if (!pieces.Any(p => p is not HoconSpace))
                return concat.Previous is null ? null : ResolveValue(concat.Previous, path);
            return HoconParser.Combine(concat.Position, pieces);
        }
        finally
        {
            _resolving.Remove(concat);
        }
    }

    private HoconValue? Substitute(HoconSubstitution s, HoconConcat owner, List<string> path)
    {
        if (s.Path.SequenceEqual(path))
            return owner.Previous is null ? null : ResolveValue(owner.Previous, path);
        var found = Lookup(s.Path);
        if (found is not null)
            return found;
        string? env = _environment(s.DottedPath);
        if (env is not null)
            return new HoconString(s.Position, env, quoted: true);
        if (s.Optional)
            return null;
        throw new HoconException(s.Position, $"cannot resolve ${{{s.DottedPath}}}: no such setting and no such environment variable");
    }

    /// <summary>The resolved value at <paramref name="target"/>, resolving what lies on the way.</summary>
    private HoconValue? Lookup(IReadOnlyList<string> target)
    {
        HoconValue current = _root;
        var walked = new List<string>();
        foreach (string key in target)
        {
            if (current is not HoconObject obj || !obj.TryGet(key, out var next))
                return null;
            walked.Add(key);
            if (next is HoconConcat c)
            {
                var resolved = ResolveConcat(c, new List<string>(walked));
                if (resolved is null)
                {
                    obj.Remove(key);
                    return null;
                }
                obj.Set(key, resolved);
                next = resolved;
            }
            current = next;
        }
        if (current is HoconObject o)
            ResolveObject(o, walked);
        return current;
    }
}
