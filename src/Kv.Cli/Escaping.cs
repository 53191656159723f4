using System.Text;

namespace Kv.Cli;

/// <summary>Prints keys and values on one line: printable ASCII as is; tab, newline, backslash and other bytes escaped.</summary>
public static class Escaping
{
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            switch (b)
            {
                case (byte)'\\':
                    sb.Append(@"\\");
                    break;
                case (byte)'\t':
                    sb.Append(@"\t");
                    break;
                case (byte)'\n':
                    sb.Append(@"\n");
                    break;
                case >= 0x20 and < 0x7F:
                    sb.Append((char)b);
                    break;
                default:
                    sb.Append(@"\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }
        return sb.ToString();
    }
}
