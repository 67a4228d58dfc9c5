using System.Text;
using System.Text.RegularExpressions;

namespace Timepoint.Gateway.Metering;

/// <summary>
/// Passes the backend's response through untouched while watching it: for a stream, whether the <c>done</c> event got
/// through; for an idempotent request, a bounded copy of the body to replay to retries. Once the client is gone (its
/// request aborted, or a write to it failed) the rest is still watched and kept but no longer sent, so the forwarder
/// reads the backend's answer to its end instead of cancelling it.
/// </summary>
public sealed partial class OutcomeStream(Stream inner, bool watchForDone, bool capture, CancellationToken clientGone) : Stream
{
    private const int MaxCapture = 256 * 1024;
    private readonly MemoryStream? captured = capture ? new MemoryStream() : null;
    private string tail = "";
    private bool overflow;
    private bool clientLeft; // what followed was read from the backend, watched, kept, and dropped

    public Stream Inner { get; } = inner;

    public bool SawDone { get; private set; }

    /// <summary>The body as sent, or null when it was too large to keep.</summary>
    public byte[]? Captured => captured is null || overflow ? null : captured.ToArray();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Observe(buffer.Span);
        if (Gone())
        {
            return;
        }

        try
        {
            await Inner.WriteAsync(buffer, cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever broke the client's side, the backend's answer still decides the charge: keep reading it.
            clientLeft = true;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (Gone())
        {
            return;
        }

        try
        {
            await Inner.FlushAsync(cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            clientLeft = true;
        }
    }

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    private bool Gone() => clientLeft |= clientGone.IsCancellationRequested;

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
