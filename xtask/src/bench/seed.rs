//! Filler keys written straight into the database, so that the figures can be taken with a
//! million keys stored without a million argon2 hashes. Filler keys are created keys with
//! unique names and client ids whose secret hash matches no secret: they occupy the tables and
//! indexes like real keys and never authenticate.

use sqlx::{Connection, Executor};

/// Writes filler keys numbered `first..=last` (numbers must not repeat within one database),
/// older than every real key, into profile `profile` or, with `spread` above one, across the
/// profiles `<profile>0` to `<profile><spread - 1>`.
pub async fn filler(
    database_url: &str,
    profile: &str,
    spread: u64,
    first: u64,
    last: u64,
) -> anyhow::Result<()> {
    let spread = i64::try_from(spread.max(1))?;
    let (first, last) = (i64::try_from(first)?, i64::try_from(last)?);
    if database_url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(database_url).await?;
        connection.execute("PRAGMA busy_timeout = 60000").await?;
        sqlx::query(
            "INSERT INTO api_keys (id, profile_id, name, client_id, secret_hash, key_for, created, last_modified)
             WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
             SELECT printf('00000000-0000-4000-8000-%012d', i),
                    CASE WHEN ?4 = 1 THEN ?3 ELSE ?3 || (i % ?4) END,
                    'filler-' || i, printf('f%031d', i), '$argon2id$filler', 'GENERIC',
                    ?5 - i, ?5 - i
             FROM n",
        )
        .bind(first)
        .bind(last)
        .bind(profile)
        .bind(spread)
        .bind(OLDEST_REAL_KEY_MICROS)
        .execute(&mut connection)
        .await?;
        connection.close().await?;
    } else {
        let mut connection = sqlx::PgConnection::connect(database_url).await?;
        sqlx::query(
            "INSERT INTO api_keys (id, profile_id, name, client_id, secret_hash, key_for, created, last_modified)
             SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
                    CASE WHEN $4 = 1 THEN $3 ELSE $3 || (i % $4) END,
                    'filler-' || i, 'f' || lpad(i::text, 31, '0'), '$argon2id$filler', 'GENERIC',
                    to_timestamp(($5 - i) / 1e6), to_timestamp(($5 - i) / 1e6)
             FROM generate_series($1::bigint, $2::bigint) AS i",
        )
        .bind(first)
        .bind(last)
        .bind(profile)
        .bind(spread)
        .bind(OLDEST_REAL_KEY_MICROS)
        .execute(&mut connection)
        .await?;
        // What autovacuum would do after such a load, done now so that plans are not measured
        // before it gets round to it.
        connection.execute("ANALYZE api_keys").await?;
        connection.close().await?;
    }
    Ok(())
}

/// 2020-01-01T00:00:00Z in microseconds: filler keys are older than any key made by a run.
const OLDEST_REAL_KEY_MICROS: i64 = 1_577_836_800_000_000;
