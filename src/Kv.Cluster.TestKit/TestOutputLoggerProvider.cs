using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Kv.Cluster.TestKit;

/// <summary>Writes logs to the xunit test output (lines after the test ended are dropped).</summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper? output, LogLevel minimum = LogLevel.Information) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new OutputLogger(output, minimum);

    public void Dispose()
    {
    }

    private sealed class OutputLogger(ITestOutputHelper? output, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => output is not null && logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            try
            {
                output!.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{logLevel}] {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
            }
            catch (InvalidOperationException)
            {
                // the test has finished
            }
        }
    }
}
