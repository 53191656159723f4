using System.Text.Json.Serialization;

namespace Kv.Chaos;

/// <summary>
/// How an operation ended: ok (it happened), fail (it certainly did not happen), info
/// (indeterminate: it may have happened, now or later).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome
{
    [JsonStringEnumMemberName("ok")]
    Ok,

    [JsonStringEnumMemberName("fail")]
    Fail,

    [JsonStringEnumMemberName("info")]
    Info,
}

/// <summary>
/// One line of the history. <see cref="Client"/> is c1..cN for workload clients, "final" for the
/// final read phase, "nemesis" for faults. <see cref="Value"/> is what a write wrote; <see cref="Values"/>
/// what a successful read saw (sibling values or set elements; empty when not found). Times are
/// milliseconds since the campaign started.
/// </summary>
public sealed record Op(
    string Client,
    string Kind,
    string Key,
    string? Value,
    IReadOnlyList<string>? Values,
    double Invoke,
    double Complete,
    Outcome Outcome,
    string? Error = null)
{
    public const string FinalClient = "final";
    public const string NemesisClient = "nemesis";
    public const string FinalRead = "final-read";

    /// <summary>A compare-and-swap's expected value (null: it expected the key absent, or not a CAS).</summary>
    public string? Expected { get; init; }

    /// <summary>A completed compare-and-swap: whether it applied (<see cref="Values"/> holds the value after it, empty when absent).</summary>
    public bool? Applied { get; init; }
}
