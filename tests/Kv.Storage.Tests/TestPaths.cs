namespace Kv.Storage.Tests;

/// <summary>Paths of sibling build outputs and scratch directories.</summary>
internal static class TestPaths
{
    /// <summary>The dll of a project built beside this test assembly, in the same configuration.</summary>
    public static string SiblingDll(string projectDir, string assembly)
    {
        // BaseDirectory = <repo>/tests/Kv.Storage.Tests/bin/<Configuration>/<tfm>/
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string tfm = baseDir.Name;
        string configuration = baseDir.Parent!.Name;
        string repo = baseDir.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string path = Path.Combine(repo, projectDir, "bin", configuration, tfm, assembly + ".dll");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"build output not found: {path}");
        }
        return path;
    }

    public static string NewTempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
