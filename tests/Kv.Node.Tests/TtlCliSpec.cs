namespace Kv.Node.Tests;

/// <summary>`kv put --ttl`, `kv ttl`, `kv exists`: what the command refuses before it talks to any node, and how it prints time left.</summary>
public sealed class TtlCliSpec
{
    private static (int Code, string Out, string Err) Kv(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Cli.Program.Run(args, new StringReader(""), stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("0s", "positive")]
    [InlineData("0", "positive")]
    [InlineData("-5s", "--ttl needs a duration")]
    [InlineData("4000d", "at most 3650 days")]
    [InlineData("soon", "--ttl needs a duration")]
    [InlineData("100us", "at least 1 ms")]
    public void A_bad_ttl_is_a_usage_error_and_nothing_is_sent(string ttl, string says)
    {
        // No node listens on port 1: a request sent would fail as unavailable (5), not as a usage error.
        var r = Kv("put", "default", "k", "v", "--ttl", ttl, "--nodes", "127.0.0.1:1");
        Assert.Equal(2, r.Code);
        Assert.Contains(says, r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Exists_and_ttl_need_a_namespace_and_a_key()
    {
        Assert.Equal(2, Kv("exists", "default").Code);
        Assert.Equal(2, Kv("ttl").Code);
        Assert.Equal(2, Kv("exists", "default", "k", "extra").Code);
        Assert.Contains("kv exists NS KEY", Cli.Program.Usage, StringComparison.Ordinal);
        Assert.Contains("--ttl 30s", Cli.Program.Usage, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_left_prints_as_seconds_with_milliseconds_or_none()
    {
        Assert.Equal("12.345s", Cli.TtlCommands.Format(TimeSpan.FromMilliseconds(12_345)));
        Assert.Equal("0.000s", Cli.TtlCommands.Format(TimeSpan.Zero));
        Assert.Equal("none", Cli.TtlCommands.Format(null));
    }
}
