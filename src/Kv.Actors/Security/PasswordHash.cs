using System.Security.Cryptography;
using System.Text;

namespace Kv.Actors.Security;

/// <summary>Salted PBKDF2-SHA256 password hashes: a 16-byte random salt and a 32-byte hash.</summary>
public static class PasswordHash
{
    public const int DefaultIterations = 100_000;

    public const int SaltBytes = 16;

    public const int HashBytes = 32;

    /// <summary>A new random salt and the hash of <paramref name="password"/> with it.</summary>
    public static (byte[] Salt, byte[] Hash) Create(string password, int iterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        byte[] salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return (salt, Derive(password, salt, iterations));
    }

    public static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);

    /// <summary>Whether <paramref name="password"/> hashes to <paramref name="hash"/> (constant-time comparison).</summary>
    public static bool Verify(string password, byte[] salt, byte[] hash, int iterations) =>
        CryptographicOperations.FixedTimeEquals(Derive(password, salt, iterations), hash);

    /// <summary>Checks a new password: 1..1024 characters.</summary>
    public static string? Problem(string? password) =>
        string.IsNullOrEmpty(password) ? "a password must not be empty"
        : password.Length > 1024 ? "a password must be at most 1024 characters"
        : null;
}
