using System.Text;
using System.Text.RegularExpressions;

namespace Timepoint.Gateway.Metering;

/// <summary>
/// Passes the backend's response through untouched while watching it: for a stream, whether the <c>done</c> event got
/// through; for an idempotent request, a bounded copy of the body to replay to retries.
/// </summary>
public sealed partial class OutcomeStream(Stream inner, bool watchForDone, bool capture) : Stream
{
    private const int MaxCapture = 256 * 1024;
    private readonly MemoryStream? captured = capture ? new MemoryStream() : null;
    private string tail = "";
    private bool overflow;

    public Stream Inner { get; } = inner;

    public bool SawDone { get; private set; }

    /// <summary>The body as sent, or null when it was too large to keep.</summary>
    public byte[]? Captured => captured is null || overflow ? null : captured.ToArray();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Observe(buffer.Span);
        await Inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Observe(buffer.AsSpan(offset, count));
        Inner.Write(buffer, offset, count);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public override void Flush() => Inner.Flush();

    private void Observe(ReadOnlySpan<byte> bytes)
    {
        if (captured is not null && !overflow)
        {
            if (captured.Length + bytes.Length > MaxCapture)
            {
                overflow = true;
            }
            else
            {
                captured.Write(bytes);
            }
        }

        if (watchForDone && !SawDone)
        {
            // Keep a little of the previous chunk so a marker split across writes is still seen.
            var text = tail + Encoding.UTF8.GetString(bytes);
            SawDone = DoneEvent().IsMatch(text);
            tail = text.Length > 64 ? text[^64..] : text;
        }
    }

    [GeneratedRegex("\"event\"\\s*:\\s*\"done\"|^event:\\s*done\\s*$", RegexOptions.Multiline)]
    private static partial Regex DoneEvent();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
