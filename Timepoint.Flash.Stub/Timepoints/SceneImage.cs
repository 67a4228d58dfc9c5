using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Timepoint.Flash.Stub.Timepoints;

/// <summary>
/// The stub's "generated image": a small PNG (a sky-to-ground gradient in colours seeded by the query), encoded here
/// so no image model or file is needed. Deterministic: the same query gives the same bytes.
/// </summary>
public static class SceneImage
{
    public const int Width = 160;
    public const int Height = 90;
    private static readonly uint[] CrcTable = BuildCrcTable();

    public static byte[] Render(string query)
    {
        var random = SeededRandom.From("image:" + TimepointGenerator.Normalize(query));
        var sky = Colour(random);
        var ground = Colour(random);
        var horizon = random.Next(Height / 3, Height * 2 / 3);

        // Raw scanlines: a filter byte (0, none) then RGB triples.
        var raw = new byte[Height * (1 + Width * 3)];
        for (var y = 0; y < Height; y++)
        {
            var row = y * (1 + Width * 3);
            var (from, to, t) = y < horizon ? (sky, Lighten(sky), y / (double)horizon) : (ground, Darken(ground), (y - horizon) / (double)(Height - horizon));
            for (var x = 0; x < Width; x++)
            {
                var p = row + 1 + x * 3;
                raw[p] = Mix(from.R, to.R, t);
                raw[p + 1] = Mix(from.G, to.G, t);
                raw[p + 2] = Mix(from.B, to.B, t);
            }
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type: truecolour RGB
        WriteChunk(png, "IHDR", header);
        WriteChunk(png, "IDAT", Compress(raw));
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static (byte R, byte G, byte B) Colour(SeededRandom random) =>
        ((byte)random.Next(40, 216), (byte)random.Next(40, 216), (byte)random.Next(40, 216));

    private static (byte R, byte G, byte B) Lighten((byte R, byte G, byte B) c) =>
        ((byte)Math.Min(255, c.R + 40), (byte)Math.Min(255, c.G + 40), (byte)Math.Min(255, c.B + 40));

    private static (byte R, byte G, byte B) Darken((byte R, byte G, byte B) c) =>
        ((byte)(c.R * 2 / 3), (byte)(c.G * 2 / 3), (byte)(c.B * 2 / 3));

    private static byte Mix(byte from, byte to, double t) => (byte)Math.Round(from + (to - from) * t);

    private static byte[] Compress(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return output.ToArray();
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, data.Length);
        png.Write(buffer);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(buffer, Crc(typeBytes, data));
        png.Write(buffer);
    }

    private static uint Crc(byte[] type, byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in type.Concat(data))
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc ^ 0xFFFFFFFFu;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
