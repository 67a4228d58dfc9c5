using Timepoint.ServiceDefaults;

namespace Timepoint.Credits.Ledger;

/// <summary>
/// Usage per user and per API key. Credits charged are read from the reservations themselves (those not refunded), so
/// they are the money; requests and refusals are the edge's per-day counts (<see cref="RecordUsageAsync"/>).
/// Days are UTC; every day of a range is answered, with zeros when nothing happened.
/// </summary>
public sealed partial class CreditLedger
{
    /// <summary>Adds the edge's counts to the per-day rows, one statement for the lot; counts of deleted users are dropped.</summary>
    public async Task RecordUsageAsync(IReadOnlyList<UsageCount> counts, CancellationToken cancellationToken)
    {
        // One row per (user, key, day): ON CONFLICT may touch a row only once per statement.
        var rows = counts.GroupBy(c => (c.UserId, Key: c.ApiKeyId ?? Guid.Empty, c.Date))
            .Select(g => (g.Key, Requests: g.Sum(c => c.Requests), Refused: g.Sum(c => c.Refused))).ToArray();
        if (rows.Length == 0)
        {
            return;
        }

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var upsert = new Tx(connection, null).Sql("""
            INSERT INTO usage_daily (user_id, api_key_id, day, requests, refused)
            SELECT u.user_id, u.api_key_id, u.day, u.requests, u.refused
            FROM unnest(@users, @keys, @days, @requests, @refused) AS u(user_id, api_key_id, day, requests, refused)
            WHERE NOT EXISTS (SELECT 1 FROM deleted_users d WHERE d.user_id = u.user_id)
            ORDER BY u.user_id, u.day, u.api_key_id
            ON CONFLICT (user_id, day, api_key_id) DO UPDATE
              SET requests = usage_daily.requests + EXCLUDED.requests, refused = usage_daily.refused + EXCLUDED.refused
            """, ("users", rows.Select(r => r.Key.UserId).ToArray()), ("keys", rows.Select(r => r.Key.Key).ToArray()),
            ("days", rows.Select(r => r.Key.Date).ToArray()), ("requests", rows.Select(r => r.Requests).ToArray()),
            ("refused", rows.Select(r => r.Refused).ToArray()));
        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>What each of the user's keys has spent (reservations not refunded) this UTC day, this UTC month and ever.</summary>
    public async Task<IReadOnlyList<KeySpending>> KeySpendingAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var query = new Tx(connection, null).Sql($"""
            SELECT api_key_id,
                   COALESCE(sum(amount) FILTER (WHERE {PeriodStart("'day'")}), 0)::bigint,
                   COALESCE(sum(amount) FILTER (WHERE {PeriodStart("'month'")}), 0)::bigint,
                   sum(amount)::bigint
            FROM reservations WHERE user_id = @user AND api_key_id IS NOT NULL AND status <> 'refunded'
            GROUP BY api_key_id
            """, ("user", userId));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var spending = new List<KeySpending>();
        while (await reader.ReadAsync(cancellationToken))
        {
            spending.Add(new KeySpending(reader.GetGuid(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        return spending;
    }

    /// <summary>One key's days: requests and refusals the edge counted, credits its calls were charged.</summary>
    public async Task<IReadOnlyList<KeyUsageDay>> KeyUsageAsync(Guid userId, Guid keyId, UsageRange range, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var query = new Tx(connection, null).Sql("""
            SELECT d.day::date,
                   COALESCE((SELECT u.requests FROM usage_daily u WHERE u.user_id = @user AND u.api_key_id = @key AND u.day = d.day::date), 0),
                   COALESCE((SELECT u.refused FROM usage_daily u WHERE u.user_id = @user AND u.api_key_id = @key AND u.day = d.day::date), 0),
                   COALESCE((SELECT sum(r.amount) FROM reservations r
                             WHERE r.user_id = @user AND r.api_key_id = @key AND r.status <> 'refunded'
                               AND r.created_at >= d.day AT TIME ZONE 'UTC'
                               AND r.created_at < (d.day + interval '1 day') AT TIME ZONE 'UTC'), 0)::bigint
            FROM generate_series(@from::timestamp, @to::timestamp, interval '1 day') AS d(day)
            ORDER BY 1
            """, ("user", userId), ("key", keyId), ("from", range.From), ("to", range.To));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var days = new List<KeyUsageDay>();
        while (await reader.ReadAsync(cancellationToken))
        {
            days.Add(new KeyUsageDay(reader.GetFieldValue<DateOnly>(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        return days;
    }

    /// <summary>
    /// The user's charged calls (reservations not refunded) in the range, grouped by UTC day (every day, zeros included),
    /// by operation or by API key (null: the user's access tokens); groups without calls are left out but for days.
    /// </summary>
    public async Task<IReadOnlyList<UsageRow>> UserUsageAsync(Guid userId, UsageRange range, string groupBy, CancellationToken cancellationToken)
    {
        var sql = groupBy switch
        {
            UsageGroups.Day => """
                SELECT to_char(d.day, 'YYYY-MM-DD'), COALESCE(sum(r.amount), 0)::bigint, count(r.id)
                FROM generate_series(@from::timestamp, @to::timestamp, interval '1 day') AS d(day)
                LEFT JOIN reservations r ON r.user_id = @user AND r.status <> 'refunded'
                    AND r.created_at >= d.day AT TIME ZONE 'UTC' AND r.created_at < (d.day + interval '1 day') AT TIME ZONE 'UTC'
                GROUP BY d.day ORDER BY d.day
                """,
            UsageGroups.Operation => """
                SELECT operation, sum(amount)::bigint, count(*) FROM reservations
                WHERE user_id = @user AND status <> 'refunded'
                  AND created_at >= @from::timestamp AT TIME ZONE 'UTC' AND created_at < (@to::timestamp + interval '1 day') AT TIME ZONE 'UTC'
                GROUP BY operation ORDER BY operation
                """,
            _ => """
                SELECT api_key_id::text, sum(amount)::bigint, count(*) FROM reservations
                WHERE user_id = @user AND status <> 'refunded'
                  AND created_at >= @from::timestamp AT TIME ZONE 'UTC' AND created_at < (@to::timestamp + interval '1 day') AT TIME ZONE 'UTC'
                GROUP BY api_key_id ORDER BY api_key_id NULLS FIRST
                """,
        };

        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var query = new Tx(connection, null).Sql(sql, ("user", userId), ("from", range.From), ("to", range.To));
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new UsageRow(reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return rows;
    }
}

public sealed record KeySpending(Guid ApiKeyId, long Day, long Month, long Total);

public sealed record KeyUsageDay(DateOnly Date, long Requests, long Refused, long CreditsCharged);

/// <param name="Group">The day (YYYY-MM-DD), the operation, or the API key id (null: the user's access tokens).</param>
public sealed record UsageRow(string? Group, long CreditsCharged, long Calls);
