namespace Kv.Node;

/// <summary>
/// Checks that a HOCON text's brackets, braces and quoted strings are closed before Akka's parser
/// sees it. Akka.NET 1.5.75's parser does not stop on some unclosed structures (an array left open
/// at the end of the file makes it loop, allocating, until the process runs out of memory), so a
/// node given such a file would hang instead of naming the mistake. This is a scan, not a parser:
/// it follows quoted and triple-quoted strings, # and // comments, and the nesting of { } and [ ]
/// (a substitution's <c>${</c> counts as a brace); everything else is left to Akka.
/// </summary>
public static class HoconShape
{
    /// <summary>Null when the shape is sound; otherwise "line L, column C: what is wrong".</summary>
    public static string? Problem(string text)
    {
        var open = new Stack<(char Opener, int Line, int Column)>();
        int line = 1, column = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            column++;
            if (c == '\n')
            {
                line++;
                column = 0;
                continue;
            }
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n')
                    i++;
                continue;
            }
            if (c == '"')
            {
                int startLine = line, startColumn = column;
                bool triple = i + 2 < text.Length && text[i + 1] == '"' && text[i + 2] == '"';
                if (triple)
                {
                    int end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                    if (end < 0)
                        return $"line {startLine}, column {startColumn}: a \"\"\" string is never closed";
                    // A triple-quoted string may end with more quotes ("""a""""): they belong to it.
                    while (end + 3 < text.Length && text[end + 3] == '"')
                        end++;
                    Advance(text, i, end + 2, ref line, ref column);
                    i = end + 2;
                    continue;
                }
                int j = i + 1;
                for (; j < text.Length && text[j] != '"' && text[j] != '\n'; j++)
                {
                    if (text[j] == '\\')
                        j++; // an escape: the next character is part of the string
                }
                if (j >= text.Length || text[j] != '"')
                    return $"line {startLine}, column {startColumn}: a quoted string is not closed on its line";
                column += j - i;
                i = j;
                continue;
            }
            switch (c)
            {
                case '{':
                case '[':
                    open.Push((c, line, column));
                    break;
                case '}':
                case ']':
                    char expected = c == '}' ? '{' : '[';
                    if (open.Count == 0)
                        return $"line {line}, column {column}: '{c}' closes nothing";
                    var top = open.Pop();
                    if (top.Opener != expected)
                        return $"line {line}, column {column}: '{c}' where the '{top.Opener}' opened at line {top.Line}, column {top.Column} should be closed";
                    break;
            }
        }
        if (open.Count > 0)
        {
            var top = open.Peek();
            return $"line {top.Line}, column {top.Column}: '{top.Opener}' is never closed";
        }
        return null;
    }

    private static void Advance(string text, int from, int to, ref int line, ref int column)
    {
        for (int k = from + 1; k <= to; k++)
        {
            if (text[k] == '\n')
            {
                line++;
                column = 0;
            }
            else
            {
                column++;
            }
        }
    }
}
