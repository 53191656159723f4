namespace Kv.Node;

/// <summary>
/// The node's command line: <c>--config FILE</c>, <c>--data-dir DIR</c>, <c>--host H</c>,
/// <c>--port P</c>, <c>--seed ADDRESS</c> (repeatable), and any setting as
/// <c>--kv.remote.port=2552</c> or <c>--kv.remote.port 2552</c>.
/// </summary>
public sealed record NodeArguments(string? ConfigFile, IReadOnlyDictionary<string, string?> Overrides, IReadOnlyList<string> Seeds, bool Help)
{
    public const string Usage = """
        usage: Kv.Node [--config FILE] [--data-dir DIR] [--host HOST] [--port PORT] [--seed ADDRESS]... [--kv.SETTING VALUE]...

        Starts a Kv node. With no arguments: a single-node cluster on 127.0.0.1:2551 with data under ./data.
          --config FILE     a HOCON file merged over the built-in reference.conf (see hocon/)
          --data-dir DIR    kv.data-directory
          --host HOST       kv.remote.hostname
          --port PORT       kv.remote.port
          --seed ADDRESS    replaces kv.cluster.seed-nodes (repeat for several), e.g. akka.tcp://kv@127.0.0.1:2551
          --kv.X.Y VALUE    any setting of reference.conf, e.g. --kv.namespaces.default.n-val 2
        Environment variables override the file too: KV__REMOTE__PORT=2552 (__ for '.', _ for '-').
        SIGTERM or Ctrl-C: hand off this node's partitions, leave the cluster, flush and exit 0.
        """;

    public static NodeArguments Parse(IReadOnlyList<string> args)
    {
        string? config = null;
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var seeds = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help")
                return new NodeArguments(null, overrides, seeds, true);
            if (!arg.StartsWith("--", StringComparison.Ordinal))
                throw new ConfigException($"unexpected argument '{arg}' (options start with --; see --help)");
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            if (value is null)
                throw new ConfigException($"--{name} needs a value");
            switch (name)
            {
                case "config":
                    config = value;
                    break;
                case "data-dir":
                    overrides["kv:data-directory"] = value;
                    break;
                case "host":
                    overrides["kv:remote:hostname"] = value;
                    break;
                case "port":
                    overrides["kv:remote:port"] = value;
                    break;
                case "seed":
                    seeds.Add(value);
                    break;
                default:
                    if (!name.StartsWith("kv.", StringComparison.Ordinal))
                        throw new ConfigException($"unknown option --{name} (see --help)");
                    overrides[name.Replace('.', ':')] = value;
                    break;
            }
        }
        return new NodeArguments(config, overrides, seeds, false);
    }
}
