using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kv.Chaos;

/// <summary>
/// The campaign's history: every operation as it completes, kept in memory for the checkers and
/// appended to a JSONL file (one object per line) in the run directory.
/// </summary>
public sealed class History : IDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a file for people too: "<->", not "\u003C-\u003E"
    };

    private readonly List<Op> _ops = [];
    private readonly StreamWriter? _file;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>A history written to <paramref name="path"/> (null: memory only).</summary>
    public History(string? path)
    {
        if (path is not null)
            _file = new StreamWriter(path, append: false) { AutoFlush = false };
    }

    /// <summary>Milliseconds since the history started.</summary>
    public double Now => _clock.Elapsed.TotalMilliseconds;

    public void Add(Op op)
    {
        lock (_ops)
        {
            _ops.Add(op);
            _file?.WriteLine(JsonSerializer.Serialize(op, Json));
        }
    }

    /// <summary>A nemesis event (its start and end times, ok or fail).</summary>
    public void Nemesis(string what, string detail, double invoke, Outcome outcome, string? error = null) =>
        Add(new Op(Op.NemesisClient, what, "", detail, null, invoke, Now, outcome, error));

    public IReadOnlyList<Op> Snapshot()
    {
        lock (_ops)
            return _ops.ToList();
    }

    public void Flush()
    {
        lock (_ops)
            _file?.Flush();
    }

    public static string Serialize(Op op) => JsonSerializer.Serialize(op, Json);

    public static Op Parse(string line) => JsonSerializer.Deserialize<Op>(line, Json) ?? throw new FormatException("empty history line");

    public void Dispose()
    {
        lock (_ops)
            _file?.Dispose();
    }
}
