namespace Kv.Chaos.Nemeses;

/// <summary>
/// A way to injure the cluster. The schedule calls <see cref="StartAsync"/> and later
/// <see cref="HealAsync"/>, one fault at a time; <see cref="HealAllAsync"/> at the end undoes
/// whatever is left. Each returns a line saying what it did (for the history).
/// </summary>
public interface INemesis
{
    string Name { get; }

    /// <summary>Faults injected so far (a campaign whose nemesis never acted proves little).</summary>
    int Actions { get; }

    Task<string> StartAsync(CancellationToken ct);

    Task<string> HealAsync(CancellationToken ct);

    Task<string> HealAllAsync(CancellationToken ct);
}
