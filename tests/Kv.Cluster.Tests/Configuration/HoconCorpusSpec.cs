using System.Text.RegularExpressions;
using Kv.Cluster.Configuration;
using Microsoft.Extensions.Configuration;

namespace Kv.Cluster.Tests.Configuration;

/// <summary>
/// The HOCON parser against a corpus (HoconCorpus/): every valid file flattens to exactly the keys
/// and values of its .expected file; every invalid file fails with the line, column and message
/// its first line names.
/// </summary>
public sealed partial class HoconCorpusSpec
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "HoconCorpus");

    private static string? Env(string name) => name == "KV_TEST_SET_VARIABLE" ? "from the environment" : null;

    public static TheoryData<string> ValidFiles() => new(Directory.GetFiles(Path.Combine(Corpus, "valid"), "*.conf").Select(Path.GetFileName)!);

    public static TheoryData<string> InvalidFiles() => new(Directory.GetFiles(Path.Combine(Corpus, "invalid"), "*.conf").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(ValidFiles))]
    public void Valid_files_flatten_to_their_expected_settings(string file)
    {
        string path = Path.Combine(Corpus, "valid", file);
        var root = HoconResolver.Resolve(HoconParser.ParseFile(path), Env);
        var actual = new Dictionary<string, string?>();
        HoconConfigurationProvider.Flatten(root, null, actual);
        var expected = File.ReadAllLines(Path.ChangeExtension(path, ".expected"))
            .Where(l => l.Length > 0)
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1] == "<null>" ? null : p[1].Replace("\\n", "\\n", StringComparison.Ordinal));
        Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), actual.OrderBy(kv => kv.Key, StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(InvalidFiles))]
    public void Invalid_files_fail_with_file_line_and_column(string file)
    {
        string path = Path.Combine(Corpus, "invalid", file);
        var want = ErrorLine().Match(File.ReadLines(path).First());
        Assert.True(want.Success, $"{file} must start with '# error LINE:COL text'");
        var e = Assert.Throws<HoconException>(() => HoconResolver.Resolve(HoconParser.ParseFile(path), Env));
        Assert.Equal(path, e.Position.File);
        Assert.Equal((int.Parse(want.Groups[1].Value), int.Parse(want.Groups[2].Value)), (e.Position.Line, e.Position.Column));
        Assert.Contains(want.Groups[3].Value, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{path}:{e.Position.Line}:{e.Position.Column}: ", e.Message, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^# error (\d+):(\d+) (.+)$")]
    private static partial Regex ErrorLine();

    [Fact]
    public void Documents_merge_in_order_and_resolve_over_the_merged_tree()
    {
        var config = new ConfigurationBuilder()
            .AddHocon(
                HoconDocument.FromText("reference.conf", "kv { port = 2551, host = \"a\", address = ${kv.host}\":\"${kv.port} }"),
                HoconDocument.FromText("node.conf", "kv.port = 2552"))
            .Build();
        Assert.Equal("2552", config["kv:port"]);
        Assert.Equal("a:2552", config["kv:address"]);
    }

    [Fact]
    public void A_missing_optional_file_is_skipped_and_a_missing_required_one_named()
    {
        var ok = new ConfigurationBuilder().AddHocon(HoconDocument.File("/no/such/file.conf", optional: true)).Build();
        Assert.Empty(ok.AsEnumerable());
        var e = Assert.Throws<HoconException>(() => new ConfigurationBuilder().AddHocon(HoconDocument.File("/no/such/file.conf")).Build());
        Assert.Contains("/no/such/file.conf", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Include_cycles_are_reported_not_followed_forever()
    {
        string dir = Directory.CreateTempSubdirectory("hocon-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "a.conf"), "include \"b.conf\"\nx = 1\n");
            File.WriteAllText(Path.Combine(dir, "b.conf"), "include \"a.conf\"\ny = 2\n");
            var e = Assert.Throws<HoconException>(() => HoconParser.ParseFile(Path.Combine(dir, "a.conf")));
            Assert.Contains("nested more than", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("5s", 5000)]
    [InlineData("250 ms", 250)]
    [InlineData("2 minutes", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("100", 100)]
    [InlineData("1.5s", 1500)]
    public void Durations(string text, double ms)
    {
        Assert.True(HoconUnits.TryParseDuration(text, out var d));
        Assert.Equal(ms, d.TotalMilliseconds);
    }

    [Theory]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("64 M", 64L << 20)]
    [InlineData("4KiB", 4096)]
    [InlineData("1GB", 1_000_000_000)]
    [InlineData("1 kB", 1000)]
    [InlineData("512", 512)]
    [InlineData("2 gibibytes", 2L << 30)]
    public void Sizes(string text, long bytes)
    {
        Assert.True(HoconUnits.TryParseSize(text, out long b));
        Assert.Equal(bytes, b);
    }

    [Theory]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("5 parsecs")]
    [InlineData("-1s")]
    [InlineData("1.5.2s")]
    public void Bad_durations_are_refused(string text) => Assert.False(HoconUnits.TryParseDuration(text, out _));

    [Theory]
    [InlineData("1.5B")]
    [InlineData("lots")]
    [InlineData("10 XB")]
    public void Bad_sizes_are_refused(string text) => Assert.False(HoconUnits.TryParseSize(text, out _));
}
