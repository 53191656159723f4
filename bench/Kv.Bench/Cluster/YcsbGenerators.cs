namespace Kv.Bench.Cluster;

/// <summary>
/// YCSB's key choosers, ported from its CoreWorkload: FNV-1a 64 hashing of key numbers, the
/// zipfian generator of Gray et al. (constant 0.99) and the scrambled zipfian one (a zipfian over
/// 10^10 items, hashed onto the record count, so hot keys are spread over the key space).
/// </summary>
public static class YcsbGenerators
{
    private const long FnvOffsetBasis64 = unchecked((long)0xCBF29CE484222325UL);
    private const long FnvPrime64 = 1099511628211L;

    /// <summary>YCSB's Utils.fnvhash64.</summary>
    public static long FnvHash64(long value)
    {
        long hash = FnvOffsetBasis64;
        for (int i = 0; i < 8; i++)
        {
            long octet = value & 0xff;
            value >>= 8;
            hash ^= octet;
            hash = unchecked(hash * FnvPrime64);
        }
        return Math.Abs(hash);
    }

    /// <summary>YCSB's key name for record <paramref name="n"/> with insertorder=hashed.</summary>
    public static string KeyName(long n) => "user" + FnvHash64(n).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>YCSB's ScrambledZipfianGenerator over [0, items).</summary>
public sealed class ScrambledZipfian
{
    private const long ItemCount = 10_000_000_000L;
    private const double ZetanFor10e10 = 26.46902820178302;
    private const double Theta = 0.99;
    private readonly long _items;
    private readonly double _alpha;
    private readonly double _eta;
    private readonly double _zetan;
    private readonly double _half;

    public ScrambledZipfian(long items)
    {
        _items = items;
        _zetan = ZetanFor10e10;
        double zeta2 = 1 + Math.Pow(0.5, Theta);
        _alpha = 1.0 / (1.0 - Theta);
        _eta = (1 - Math.Pow(2.0 / ItemCount, 1 - Theta)) / (1 - (zeta2 / _zetan));
        _half = 1 + Math.Pow(0.5, Theta);
    }

    public long Next(Random random)
    {
        double u = random.NextDouble();
        double uz = u * _zetan;
        long z = uz < 1 ? 0 : uz < _half ? 1 : (long)(ItemCount * Math.Pow((_eta * u) - _eta + 1, _alpha));
        return YcsbGenerators.FnvHash64(z) % _items;
    }
}
