using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Kv.Cluster.Configuration;

/// <summary>One HOCON document for <see cref="HoconConfigurationSource"/>: a file, or text with a name.</summary>
public sealed record HoconDocument(string Name, string? Text = null, bool Optional = false)
{
    public static HoconDocument File(string path, bool optional = false) => new(path, null, optional);

    public static HoconDocument FromText(string name, string text) => new(name, text);

    internal HoconObject? Parse()
    {
        if (Text is not null)
            return HoconParser.Parse(Text, Name);
        if (!System.IO.File.Exists(Name))
        {
            if (Optional)
                return null;
            throw new HoconException(new HoconPosition(Name, 0, 0), "configuration file not found");
        }
        return HoconParser.ParseFile(Name);
    }
}

/// <summary>
/// HOCON for Microsoft.Extensions.Configuration: the documents are merged in order (later ones
/// win, objects merge, as a file merges over reference.conf in Akka), substitutions are resolved
/// over the merged tree, and the result is flattened to keys such as <c>kv:remote:port</c>
/// (array elements as <c>kv:cluster:seed-nodes:0</c>). Providers added after this one
/// (environment variables, command line) override it in the usual .NET way.
/// </summary>
public sealed class HoconConfigurationSource : IConfigurationSource
{
    public List<HoconDocument> Documents { get; } = [];

    public Func<string, string?>? Environment { get; init; }

    public IConfigurationProvider Build(IConfigurationBuilder builder) => new HoconConfigurationProvider(this);

    /// <summary>Parses, merges and resolves the documents.</summary>
    public HoconObject Load()
    {
        var root = new HoconObject(new HoconPosition(Documents.FirstOrDefault()?.Name ?? "(empty)", 1, 1));
        foreach (var doc in Documents)
        {
            var parsed = doc.Parse();
            if (parsed is not null)
                HoconParser.MergeInto(root, parsed);
        }
        return HoconResolver.Resolve(root, Environment);
    }
}

/// <summary>The provider for <see cref="HoconConfigurationSource"/>.</summary>
public sealed class HoconConfigurationProvider(HoconConfigurationSource source) : ConfigurationProvider
{
    public override void Load()
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(source.Load(), null, data);
        Data = data;
    }

    /// <summary>Adds every leaf of <paramref name="value"/> under <paramref name="prefix"/> to <paramref name="into"/>.</summary>
    public static void Flatten(HoconValue value, string? prefix, IDictionary<string, string?> into)
    {
        string Key(string k) => prefix is null ? k : prefix + ConfigurationPath.KeyDelimiter + k;
        switch (value)
        {
            case HoconObject o:
                foreach (var (k, v) in o.Fields)
                    Flatten(v, Key(k), into);
                break;
            case HoconArray a:
                for (int i = 0; i < a.Items.Count; i++)
                    Flatten(a.Items[i], Key(i.ToString(CultureInfo.InvariantCulture)), into);
                break;
            case HoconString s when prefix is not null:
                into[prefix] = s.Value;
                break;
            case HoconNull when prefix is not null:
                into[prefix] = null;
                break;
        }
    }
}

/// <summary>Registration helpers.</summary>
public static class HoconConfigurationExtensions
{
    /// <summary>Adds HOCON documents, merged in the order given, as one configuration source.</summary>
    public static IConfigurationBuilder AddHocon(this IConfigurationBuilder builder, params HoconDocument[] documents)
    {
        var source = new HoconConfigurationSource();
        source.Documents.AddRange(documents);
        return builder.Add(source);
    }
}
