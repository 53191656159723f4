namespace Kv.Chaos.Workloads;

/// <summary>A checker's verdict: its counts (in order, for the summary) and a few examples of what is wrong.</summary>
public sealed record CheckResult(string Checker, bool Valid, IReadOnlyList<KeyValuePair<string, long>> Counts, IReadOnlyList<string> Examples)
{
    public long this[string name] => Counts.FirstOrDefault(c => c.Key == name).Value;
}
