using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Timepoint.Flash.Stub.Timepoints;

namespace Timepoint.Flash.Stub.Storage;

/// <summary>Timepoints in <c>flashdb</c>: a few columns to filter on, the rest as the JSON document clients get.</summary>
public sealed class TimepointStore(NpgsqlDataSource dataSource, IOptions<JsonOptions> json)
{
    private JsonSerializerOptions Json => json.Value.SerializerOptions;

    public async Task InsertAsync(Guid ownerId, TimepointDocument timepoint, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO timepoints (id, owner_id, visibility, status, created_at, document) VALUES ($1, $2, $3, $4, $5, $6)");
        command.Parameters.AddWithValue(timepoint.Id);
        command.Parameters.AddWithValue(ownerId);
        command.Parameters.AddWithValue(timepoint.Visibility);
        command.Parameters.AddWithValue(timepoint.Status);
        command.Parameters.AddWithValue(timepoint.CreatedAt);
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(timepoint, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Replaces a processing timepoint with its completed form; false when it is gone or already completed.</summary>
    public async Task<bool> CompleteAsync(TimepointDocument timepoint, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE timepoints SET status = $2, document = $3 WHERE id = $1 AND status = 'processing'");
        command.Parameters.AddWithValue(timepoint.Id);
        command.Parameters.AddWithValue(timepoint.Status);
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(timepoint, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>The timepoint if <paramref name="viewerId"/> may see it: its own, or anyone's public one.</summary>
    public async Task<TimepointDocument?> FindVisibleAsync(Guid id, Guid viewerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT document FROM timepoints WHERE id = $1 AND (owner_id = $2 OR visibility = 'public')");
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(viewerId);
        return await command.ExecuteScalarAsync(cancellationToken) is string document
            ? JsonSerializer.Deserialize<TimepointDocument>(document, Json)
            : null;
    }

    /// <summary>The owner's timepoints, newest first.</summary>
    public async Task<TimepointPage> ListAsync(Guid ownerId, int limit, int offset, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT document, count(*) OVER () FROM timepoints
            WHERE owner_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3
            """);
        command.Parameters.AddWithValue(ownerId);
        command.Parameters.AddWithValue(limit);
        command.Parameters.AddWithValue(offset);
        var items = new List<TimepointDocument>();
        long total = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(JsonSerializer.Deserialize<TimepointDocument>(reader.GetString(0), Json)!);
                total = reader.GetInt64(1);
            }
        }

        if (items.Count == 0 && offset > 0)
        {
            // Past the end there is no row to carry the window count.
            await using var count = dataSource.CreateCommand("SELECT count(*) FROM timepoints WHERE owner_id = $1");
            count.Parameters.AddWithValue(ownerId);
            total = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
        }

        return new TimepointPage(items, total, limit, offset);
    }

    /// <summary>Deletes one timepoint, only if <paramref name="ownerId"/> owns it (any owner when null).</summary>
    public async Task<bool> DeleteAsync(Guid id, Guid? ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM timepoints WHERE id = $1 AND ($2::uuid IS NULL OR owner_id = $2)");
        command.Parameters.AddWithValue(id);
        command.Parameters.Add(new NpgsqlParameter { Value = ownerId.HasValue ? ownerId.Value : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<int> DeleteAllOfAsync(Guid ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM timepoints WHERE owner_id = $1");
        command.Parameters.AddWithValue(ownerId);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<TimepointDocument>> ProcessingAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT document FROM timepoints WHERE status = 'processing'");
        var pending = new List<TimepointDocument>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            pending.Add(JsonSerializer.Deserialize<TimepointDocument>(reader.GetString(0), Json)!);
        }

        return pending;
    }
}
