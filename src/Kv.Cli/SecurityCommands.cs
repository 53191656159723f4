using Kv.Actors.Security;
using Kv.Client;

namespace Kv.Cli;

/// <summary>`kv user add|passwd|del|list`, `kv grant`, `kv revoke` (docs/security.md).</summary>
public static class SecurityCommands
{
    public static Task<int> RunAsync(string verb, string[] args, TextWriter stdout, TextWriter stderr) =>
        RunAsync(verb, args, Console.In, stdout, stderr);

    public static async Task<int> RunAsync(string verb, string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var a = CliArgs.Parse(args);
        var options = ClientArgs.Options(a);
        switch (verb)
        {
            case "user":
                return await UserAsync(a, options, stdin, stdout, stderr).ConfigureAwait(false);
            case "grant" or "revoke":
            {
                if (a.Positional.Count != 3)
                    throw new CliException($"usage: kv {verb} USER read|write|admin NAMESPACE|*");
                string user = a.Positional[0];
                var permission = a.Positional[1] switch
                {
                    "read" => Permission.Read,
                    "write" => Permission.Write,
                    "admin" => Permission.Admin,
                    var p => throw new CliException($"kv {verb}: the permission is read, write or admin, not '{p}'"),
                };
                string ns = a.Positional[2];
                a.Done(3);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                var reply = verb == "grant"
                    ? await client.GrantAsync(user, permission, ns).ConfigureAwait(false)
                    : await client.RevokeAsync(user, permission, ns).ConfigureAwait(false);
                return Print(reply, stdout, stderr);
            }
            default:
                throw new CliException($"unknown command '{verb}'");
        }
    }

    private static async Task<int> UserAsync(CliArgs a, KvClientOptions options, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        string sub = a.Positional.Count > 0 ? a.Positional[0] : throw new CliException("usage: kv user add|passwd|del|list ...");
        switch (sub)
        {
            case "add" or "passwd":
            {
                if (a.Positional.Count != 2)
                    throw new CliException($"usage: kv user {sub} NAME [--new-password P] (without it: the password is the first line of stdin)");
                string name = a.Positional[1];
                string? password = a.Option("new-password");
                a.Done(2);
                password ??= (await stdin.ReadLineAsync().ConfigureAwait(false))?.TrimEnd('\r');
                if (string.IsNullOrEmpty(password))
                    throw new CliException($"kv user {sub}: no password (--new-password P, or a line on stdin)");
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                var reply = sub == "add"
                    ? await client.AddUserAsync(name, password).ConfigureAwait(false)
                    : await client.SetPasswordAsync(name, password).ConfigureAwait(false);
                return Print(reply, stdout, stderr);
            }
            case "del":
            {
                if (a.Positional.Count != 2)
                    throw new CliException("usage: kv user del NAME");
                a.Done(2);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                return Print(await client.DeleteUserAsync(a.Positional[1]).ConfigureAwait(false), stdout, stderr);
            }
            case "list":
            {
                a.Done(1);
                await using var client = await KvClient.ConnectAsync(options).ConfigureAwait(false);
                foreach (var u in await client.ListUsersAsync().ConfigureAwait(false))
                    stdout.WriteLine($"{u.Name}\t{(u.Grants.Count == 0 ? "(no grants)" : string.Join(", ", u.Grants))}");
                return ExitCodes.Ok;
            }
            default:
                throw new CliException($"unknown command 'kv user {sub}' (add, passwd, del, list)");
        }
    }

    /// <summary>Done: the message on stdout, exit 0. Refused (exists, no such user, ...) or not confirmed by a majority: on stderr, exit 7.</summary>
    private static int Print(UserAdminReply reply, TextWriter stdout, TextWriter stderr)
    {
        if (reply.Ok)
        {
            stdout.WriteLine(reply.Message);
            return ExitCodes.Ok;
        }
        stderr.WriteLine($"refused: {reply.Message}");
        return ExitCodes.Refused;
    }
}
