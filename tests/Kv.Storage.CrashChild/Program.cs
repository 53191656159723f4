using System.Globalization;
using System.Text;
using Kv.Storage;

// Crash-test child: opens the engine in args[0] and writes round args[1]'s keys r{round}/{i:D8}
// in order, one durable write (or a durable batch of several) at a time, printing "ack N" for the
// highest i acknowledged. Runs until killed. Small memtables make flushes and compactions happen
// while it writes, so kills land in those too.
string dir = args[0];
int round = int.Parse(args[1], CultureInfo.InvariantCulture);
var rng = new Random(round * 7919 + 1);
using var engine = LsmEngine.Open(dir, new StorageOptions
{
    WriteBufferSize = 128 << 10,
    TargetFileSize = 128 << 10,
    L1MaxBytes = 1 << 20,
});
var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
stdout.WriteLine("ready");
var value = new byte[200];
for (long i = 0; ; )
{
    int n = rng.Next(4) == 0 ? rng.Next(2, 6) : 1;
    var batch = new WriteBatch();
    for (int j = 0; j < n; j++, i++)
    {
        rng.NextBytes(value);
        Encoding.ASCII.GetBytes($"{round}:{i}|").CopyTo(value, 0);
        batch.Put(Encoding.ASCII.GetBytes($"r{round:D3}/{i:D8}"), value);
    }
    engine.Write(batch, durable: true);
    stdout.WriteLine($"ack {i - 1}");
}
