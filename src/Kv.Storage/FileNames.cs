using System.Globalization;

namespace Kv.Storage;

/// <summary>Names of the files in an engine's directory.</summary>
internal static class FileNames
{
    public const string Current = "CURRENT";
    public const string LockFile = "LOCK";
    public const string LogIdFile = "LOGID";

    public static string Table(string dir, long number) => Path.Combine(dir, $"{number:D6}.sst");

    public static string Wal(string dir, long number) => Path.Combine(dir, $"{number:D6}.log");

    public static string Manifest(string dir, long number) => Path.Combine(dir, $"MANIFEST-{number:D6}");

    public static string Temp(string dir, long number) => Path.Combine(dir, $"{number:D6}.dbtmp");

    public enum Kind
    {
        Unknown,
        Table,
        Wal,
        Manifest,
        Temp,
        Current,
        Lock,
        Corrupt,
    }

    /// <summary>Classifies a file name found in the directory.</summary>
    public static Kind Parse(string name, out long number)
    {
        number = 0;
        if (name == Current)
        {
            return Kind.Current;
        }
        if (name == LockFile)
        {
            return Kind.Lock;
        }
        if (name.EndsWith(".corrupt", StringComparison.Ordinal))
        {
            return Kind.Corrupt;
        }
        if (name.StartsWith("MANIFEST-", StringComparison.Ordinal))
        {
            return long.TryParse(name.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out number) ? Kind.Manifest : Kind.Unknown;
        }
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !long.TryParse(name.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out number))
        {
            return Kind.Unknown;
        }
        return name[dot..] switch
        {
            ".sst" => Kind.Table,
            ".log" => Kind.Wal,
            ".dbtmp" => Kind.Temp,
            _ => Kind.Unknown,
        };
    }
}
