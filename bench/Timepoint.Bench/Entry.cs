namespace Timepoint.Bench;

/// <summary>The bench's helpers: <c>otlp-sink</c>, <c>api-key-verification</c> and <c>revocation-check</c> (see bench/README.md).</summary>
public static class Entry
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "otlp-sink" when args.Length == 2:
                await OtlpSink.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
                return 0;
            case "api-key-verification" when args.Length == 5:
                await ApiKeyVerification.RunAsync(new Uri(args[1]), args[2], args[3], int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
                return 0;
            case "revocation-check" when args.Length == 2:
                var (hit, miss, empty) = await RevocationCheck.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
                Console.WriteLine(ApiKeyVerification.Row("session listed (10,000 revoked)", hit));
                Console.WriteLine(ApiKeyVerification.Row("session not listed (10,000 revoked)", miss));
                Console.WriteLine(ApiKeyVerification.Row("empty list", empty));
                return 0;
            default:
                await Console.Error.WriteLineAsync(
                    "usage: Timepoint.Bench otlp-sink <port> | api-key-verification <identity-url> <identity-service-key> <api-key> <iterations>"
                    + " | revocation-check <iterations>");
                return 2;
        }
    }
}
