//! The database a test runs on: SQLite in the test's own directory, or, with
//! `KEYWARD_TEST_BACKEND=postgres`, a fresh database in the PostgreSQL cluster that
//! `KEYWARD_TEST_POSTGRES_URL` names (`cargo xtask test` starts one and sets both).

use sqlx::Connection;
use std::path::Path;

/// Whether the HTTP suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("KEYWARD_TEST_BACKEND").as_deref() == Ok("postgres")
}

/// A database URL for one test: SQLite in `dir` or a fresh PostgreSQL database.
pub async fn fresh_url(dir: &Path) -> String {
    if on_postgres() {
        fresh_postgres().await
    } else {
        format!("sqlite://{}", dir.join("keyward.db").display())
    }
}

/// A new, empty PostgreSQL database in the test cluster.
pub async fn fresh_postgres() -> String {
    let admin = std::env::var("KEYWARD_TEST_POSTGRES_URL")
        .expect("KEYWARD_TEST_POSTGRES_URL is not set: the PostgreSQL tests need `cargo xtask test`, which starts a cluster");
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the test PostgreSQL at {admin}: {error}"));
    let name = format!("keyward_{}", uuid::Uuid::new_v4().simple());
    // The name is ours (a UUID), not input: it may be spliced into the statement.
    let create = sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"));
    sqlx::query(create).execute(&mut connection).await.expect("CREATE DATABASE");
    let (server, _) = admin.rsplit_once('/').expect("a database URL");
    format!("{server}/{name}")
}
