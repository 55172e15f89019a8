//! The two native database drivers behind one small query interface: [`query`] and
//! [`query_scalar`] build a statement, [`Query::bind`] adds an [`Arg`], and `execute`,
//! `fetch_one`, `fetch_optional` and `fetch_all` run it on an [`Executor`] (the [`Pool`], or a
//! write transaction: `&mut *tx`) on SQLite (rusqlite, statements run inline: `lite.rs` says
//! how) or PostgreSQL (sqlx's driver), whichever the executor belongs to. Rows come back as a
//! [`Row`], read with [`Row::try_get`] and [`Row::json`].
//!
//! Each [`Arg`] is bound as its database stores it:
//!
//! | value | SQLite | PostgreSQL |
//! |---|---|---|
//! | text, `i64`, `f64`, bytes | `TEXT`, `INTEGER`, `REAL`, `BLOB` | `TEXT`, `BIGINT`, `DOUBLE PRECISION`, `BYTEA` |
//! | `bool` | `INTEGER` 0 / 1 | `BOOLEAN` |
//! | `DateTime<Utc>` | `TEXT`, the wire format (naive UTC, six fractional digits), which sorts as time | `TIMESTAMPTZ` |
//! | JSON (`JsonDoc`, `serde_json::Value`) | `TEXT` (compact JSON) | `JSONB` |
//!
//! and [`Row::try_get`] reads either encoding back: a `DateTime<Utc>` from `TIMESTAMPTZ`,
//! `TIMESTAMP` or text, a `serde_json::Value` from `JSONB`, `JSON` or text, an `i64` from any
//! integer type (`SELECT 1` is an `INTEGER` on PostgreSQL), a `bool` from `BOOLEAN` or an integer.
//!
//! # Writing a query
//!
//! One SQL text serves both databases where their dialects agree (`$1`-style placeholders,
//! `TRUE`/`FALSE` for boolean literals, `ON CONFLICT ... DO UPDATE`); what differs comes from
//! `Dialect` (`db.rs`). A query written in the style of sqlx's `Any` driver converts like this:
//!
//! - `sqlx::query(` → `query(`, `sqlx::query_scalar::<_, T>(` → `query_scalar::<T>(`, and drop
//!   `use sqlx::Row` (the executors stay: `&self.db.pool`, `&mut *tx`, `&mut **tx`; instead of a
//!   connection from `self.db.pool.acquire()`, pass `&self.db.pool`; instead of
//!   `sqlx::query_as`, read the columns of a [`Row`]).
//! - Bind values, not their text: a timestamp as the `DateTime<Utc>` (`.bind(ts(&t))` still
//!   compiles, `ts` returns it), a JSON document as a `serde_json::Value` (`.bind(to_json(&x))`
//!   still compiles, `to_json` returns one; replace `.bind(v.to_string())` of a JSON value by
//!   `.bind(v)`), a boolean as the `bool` (not `i64::from(b)`), and write boolean literals in
//!   SQL as `TRUE`/`FALSE`, not `1`/`0`.
//! - Read values, not their text: `parse_ts(&r.try_get::<String, _>("c")?)?` →
//!   `r.try_get::<DateTime<Utc>, _>("c")?` (`Option<DateTime<Utc>>` for a nullable column),
//!   `obj(&r.try_get::<String, _>("c")?)?` / `read_json(...)` → `r.json::<T>("c")?` (a nullable
//!   column: `r.json::<Option<T>>("c")?`), `r.try_get::<i64, _>("flag")? != 0` →
//!   `r.try_get::<bool, _>("flag")?`.
//! - In the PostgreSQL migration of a new table, declare timestamps `TIMESTAMPTZ`, JSON
//!   documents `JSONB` and booleans `BOOLEAN` (SQLite keeps `TEXT`, `TEXT` and `INTEGER`). A
//!   timestamp compared with `''` or another sentinel text needs another condition instead
//!   (see `events_after`), and so does a `LIKE` over a JSON document's text, which `JSONB` does
//!   not take (see `depends_on_holds` in `graph.rs`).

use std::borrow::Cow;
use std::marker::PhantomData;

#[cfg(feature = "postgres")]
use chrono::NaiveDateTime;
use chrono::{DateTime, Utc};
use openintent_types::time::parse_timestamp;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;
use sqlx::error::{BoxDynError, UnexpectedNullError};
#[cfg(feature = "postgres")]
use sqlx::{
    Decode, Row as _, Transaction, TypeInfo, ValueRef,
    postgres::{PgConnection, PgPool, PgRow, PgValueRef, Postgres},
};

mod arg;
mod lite;

pub(crate) use arg::{Arg, JsonDoc};
pub(crate) use lite::LitePool;
use lite::{Collect, LiteIndex, LiteRow, LiteTx};

use super::error::{StoreError, StoreResult, TooDeep};

/// The connection pool of the database, SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// An SQLite file or in-memory database.
    Sqlite(LitePool),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

impl Pool {
    /// Closes the connections (waits for running queries).
    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// The open connections of the pool, and how many of them are idle.
    pub(crate) fn usage(&self) -> (u32, usize) {
        match self {
            Pool::Sqlite(p) => p.usage(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => (p.size(), p.num_idle()),
        }
    }

    /// Begins a transaction with `BEGIN IMMEDIATE` on SQLite (takes the write lock up front),
    /// `BEGIN` on PostgreSQL.
    pub(crate) async fn begin_write(&self) -> Result<DbTx, sqlx::Error> {
        match self {
            Pool::Sqlite(p) => p.begin().await.map(DbTx::Sqlite),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => p.begin().await.map(DbTx::Postgres),
        }
    }
}

/// An open transaction of either database (rolled back when dropped uncommitted).
#[derive(Debug)]
pub(crate) enum DbTx {
    /// On SQLite.
    Sqlite(LiteTx),
    /// On PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(Transaction<'static, Postgres>),
}

impl DbTx {
    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            DbTx::Sqlite(t) => t.commit(),
            #[cfg(feature = "postgres")]
            DbTx::Postgres(t) => t.commit().await,
        }
    }
}

/// What a statement runs on, as the native driver takes it.
pub(crate) enum Target<'c> {
    SqlitePool(&'c LitePool),
    Sqlite(&'c mut LiteTx),
    #[cfg(feature = "postgres")]
    PostgresPool(&'c PgPool),
    #[cfg(feature = "postgres")]
    Postgres(&'c mut PgConnection),
}

/// Something a [`Query`] runs on: `&Pool` (a connection of the pool, one statement), or a
/// transaction: `&mut DbTx`, or `&mut WriteTx` (`db.rs`).
pub(crate) trait Executor<'c>: Send {
    /// The native pool or connection.
    fn target(self) -> Target<'c>;
}

impl<'c> Executor<'c> for &'c Pool {
    fn target(self) -> Target<'c> {
        match self {
            Pool::Sqlite(p) => Target::SqlitePool(p),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => Target::PostgresPool(p),
        }
    }
}

impl<'c> Executor<'c> for &'c mut DbTx {
    fn target(self) -> Target<'c> {
        match self {
            DbTx::Sqlite(t) => Target::Sqlite(t),
            #[cfg(feature = "postgres")]
            DbTx::Postgres(t) => Target::Postgres(t),
        }
    }
}

/// Binds a serialized JSON document as `JSONB` (version 1 of its binary form: the text).
#[cfg(feature = "postgres")]
struct Jsonb(String);

#[cfg(feature = "postgres")]
impl sqlx::Type<Postgres> for Jsonb {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <sqlx::types::Json<Value> as sqlx::Type<Postgres>>::type_info()
    }
}

#[cfg(feature = "postgres")]
impl sqlx::Encode<'_, Postgres> for Jsonb {
    fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<sqlx::encode::IsNull, BoxDynError> {
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(sqlx::encode::IsNull::No)
    }
}

/// The rows a statement changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done(u64);

impl Done {
    /// How many rows the statement inserted, updated or deleted.
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// A statement and its arguments; see the module documentation.
#[must_use = "a query does nothing until it is executed or fetched"]
pub(crate) struct Query<'q> {
    sql: &'q str,
    args: Vec<Arg<'q>>,
    /// The first JSON argument nested deeper than `MAX_JSON_DEPTH` (its position, from 0):
    /// the statement is refused instead of run.
    too_deep: Option<(usize, usize)>,
}

/// A statement to run on either database, with `$1`-style placeholders.
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new(), too_deep: None }
}

/// The column placeholder `$n` is bound to, as the SQL text says: `column = $n`, or the `n`-th
/// column of `INSERT INTO t (columns) VALUES (..., $n, ...)`.
fn column_of(sql: &str, n: usize) -> Option<String> {
    let token = format!("${n}");
    let at = sql
        .match_indices(&token)
        .map(|(i, _)| i)
        .find(|i| !sql[i + token.len()..].starts_with(|c: char| c.is_ascii_digit()))?;
    let ident = |text: &str| {
        let name: String = text
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        (!name.is_empty()).then_some(name)
    };
    if let Some(lhs) = sql[..at].trim_end().strip_suffix('=') {
        return ident(lhs);
    }
    let upper = sql.to_ascii_uppercase();
    let values = upper.find("VALUES")?;
    let into = upper.find("INSERT INTO")?;
    if at < values || into > values {
        return None;
    }
    let open = values + sql[values..].find('(')?;
    let (mut depth, mut position) = (0_i32, 0_usize);
    for c in sql[open..at].chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 1 => position += 1,
            _ => {}
        }
    }
    let columns_open = into + sql[into..values].find('(')?;
    let columns_close = columns_open + sql[columns_open..values].find(')')?;
    sql[columns_open + 1..columns_close].split(',').nth(position).map(|c| c.trim().to_owned())
}

/// A statement whose rows are read as their first column, a `T`.
pub(crate) fn query_scalar<T: Column>(sql: &str) -> QueryScalar<'_, T> {
    QueryScalar { query: query(sql), _column: PhantomData }
}

#[cfg(feature = "postgres")]
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

impl<'q> Query<'q> {
    /// Binds the next placeholder (`$1`, then `$2`, ...). A JSON document nested deeper than
    /// [`MAX_JSON_DEPTH`](openintent_types::limits::MAX_JSON_DEPTH) makes the statement fail
    /// with [`TooDeep`] when it is run, before it reaches the database: this is the one place
    /// every stored JSON document passes.
    pub(crate) fn bind(mut self, value: impl Into<Arg<'q>>) -> Self {
        let arg = value.into();
        if let (Arg::Json(Some(text)), None) = (&arg, self.too_deep) {
            let depth = openintent_types::limits::json_text_depth(text);
            if depth > openintent_types::limits::MAX_JSON_DEPTH {
                self.too_deep = Some((self.args.len(), depth));
            }
        }
        self.args.push(arg);
        self
    }

    /// Refuses a statement with a JSON argument nested too deep.
    fn check(&self) -> Result<(), sqlx::Error> {
        match self.too_deep {
            None => Ok(()),
            Some((position, depth)) => {
                let column = column_of(self.sql, position + 1).unwrap_or_else(|| "body".to_owned());
                let field = column.strip_suffix("_doc").unwrap_or(&column).to_owned();
                Err(sqlx::Error::Encode(Box::new(TooDeep { field, depth })))
            }
        }
    }

    /// Runs the statement on SQLite.
    async fn sqlite(self, on: Target<'_>, collect: Collect) -> Result<lite::Ran, sqlx::Error> {
        match on {
            Target::SqlitePool(p) => p.run(self.sql, &self.args, collect).await,
            Target::Sqlite(t) => t.run(self.sql, &self.args, collect),
            #[cfg(feature = "postgres")]
            Target::PostgresPool(_) | Target::Postgres(_) => unreachable!("a PostgreSQL target"),
        }
    }

    #[cfg(feature = "postgres")]
    fn postgres(self) -> PgQuery<'q> {
        let mut q = sqlx::query::<Postgres>(self.sql);
        for arg in self.args {
            q = match arg {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v.map(Cow::into_owned)),
                Arg::Timestamp(v) => q.bind(v),
                Arg::Json(v) => q.bind(v.map(Jsonb)),
            };
        }
        q
    }

    /// Runs the statement; returns how many rows it changed.
    pub(crate) async fn execute<'c>(self, on: impl Executor<'c>) -> Result<Done, sqlx::Error> {
        self.check()?;
        Ok(Done(match on.target() {
            #[cfg(feature = "postgres")]
            Target::PostgresPool(p) => self.postgres().execute(p).await?.rows_affected(),
            #[cfg(feature = "postgres")]
            Target::Postgres(c) => self.postgres().execute(c).await?.rows_affected(),
            lite => self.sqlite(lite, Collect::None).await?.changes,
        }))
    }

    /// The first row; `sqlx::Error::RowNotFound` when there is none.
    pub(crate) async fn fetch_one<'c>(self, on: impl Executor<'c>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional<'c>(self, on: impl Executor<'c>) -> Result<Option<Row>, sqlx::Error> {
        self.check()?;
        Ok(match on.target() {
            #[cfg(feature = "postgres")]
            Target::PostgresPool(p) => self.postgres().fetch_optional(p).await?.map(Row::Postgres),
            #[cfg(feature = "postgres")]
            Target::Postgres(c) => self.postgres().fetch_optional(c).await?.map(Row::Postgres),
            lite => self.sqlite(lite, Collect::First).await?.rows.into_iter().next().map(Row::Sqlite),
        })
    }

    /// Every row.
    pub(crate) async fn fetch_all<'c>(self, on: impl Executor<'c>) -> Result<Vec<Row>, sqlx::Error> {
        self.check()?;
        Ok(match on.target() {
            #[cfg(feature = "postgres")]
            Target::PostgresPool(p) => self.postgres().fetch_all(p).await?.into_iter().map(Row::Postgres).collect(),
            #[cfg(feature = "postgres")]
            Target::Postgres(c) => self.postgres().fetch_all(c).await?.into_iter().map(Row::Postgres).collect(),
            lite => self.sqlite(lite, Collect::All).await?.rows.into_iter().map(Row::Sqlite).collect(),
        })
    }
}

/// A [`Query`] whose rows are read as their first column.
#[must_use = "a query does nothing until it is fetched"]
pub(crate) struct QueryScalar<'q, T> {
    query: Query<'q>,
    _column: PhantomData<fn() -> T>,
}

impl<'q, T: Column> QueryScalar<'q, T> {
    /// Binds the next placeholder.
    pub(crate) fn bind(self, value: impl Into<Arg<'q>>) -> Self {
        QueryScalar { query: self.query.bind(value), _column: PhantomData }
    }

    /// The first column of the first row; `sqlx::Error::RowNotFound` when there is none.
    pub(crate) async fn fetch_one<'c>(self, on: impl Executor<'c>) -> Result<T, sqlx::Error> {
        self.query.fetch_one(on).await?.try_get(0)
    }

    /// The first column of the first row, if there is a row.
    pub(crate) async fn fetch_optional<'c>(self, on: impl Executor<'c>) -> Result<Option<T>, sqlx::Error> {
        self.query.fetch_optional(on).await?.map(|r| r.try_get(0)).transpose()
    }
}

/// A row of either database.
pub(crate) enum Row {
    /// From SQLite.
    Sqlite(LiteRow),
    /// From PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgRow),
}

/// A column of a [`Row`]: its name or its position (from 0).
#[cfg(feature = "postgres")]
pub(crate) trait Index: LiteIndex + sqlx::ColumnIndex<PgRow> + std::fmt::Debug {}
#[cfg(feature = "postgres")]
impl<I: LiteIndex + sqlx::ColumnIndex<PgRow> + std::fmt::Debug> Index for I {}
/// A column of a [`Row`]: its name or its position (from 0).
#[cfg(not(feature = "postgres"))]
pub(crate) trait Index: LiteIndex + std::fmt::Debug {}
#[cfg(not(feature = "postgres"))]
impl<I: LiteIndex + std::fmt::Debug> Index for I {}

impl Row {
    /// Column `index` as a `T` (see [`Column`] for what reads what).
    pub(crate) fn try_get<T: Column, I: Index>(&self, index: I) -> Result<T, sqlx::Error> {
        let decoded = match self {
            Row::Sqlite(r) => match r.value(&index)? {
                SqlValue::Null => T::null(),
                v => T::from_sqlite(v),
            },
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => {
                let v = r.try_get_raw(&index)?;
                if v.is_null() { T::null() } else { T::from_postgres(v) }
            }
        };
        decoded.map_err(|source| sqlx::Error::ColumnDecode { index: format!("{index:?}"), source })
    }

    /// Column `index`, a JSON document (`JSONB`, `JSON` or text), as a `T`; SQL `NULL` reads as
    /// JSON `null` (so `Option<T>` reads it as `None`).
    pub(crate) fn json<T: serde::de::DeserializeOwned, I: Index>(&self, index: I) -> StoreResult<T> {
        let decoded: Result<T, BoxDynError> = match self {
            Row::Sqlite(r) => match r.value(&index)? {
                SqlValue::Null => serde_json::from_value(Value::Null).map_err(Into::into),
                v => lite_text(v).and_then(|s| Ok(serde_json::from_str(&s)?)),
            },
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => {
                let v = r.try_get_raw(&index)?;
                if v.is_null() {
                    serde_json::from_value(Value::Null).map_err(Into::into)
                } else {
                    match pg_type(&v).as_str() {
                        "JSONB" | "JSON" => <sqlx::types::Json<T> as Decode<Postgres>>::decode(v).map(|j| j.0),
                        _ => String::from_postgres(v).and_then(|s| Ok(serde_json::from_str(&s)?)),
                    }
                }
            }
        };
        decoded.map_err(|e| StoreError::Corrupt(format!("stored JSON ({index:?}) could not be read: {e}")))
    }
}

/// A type [`Row::try_get`] reads from either database.
///
/// `String`, `i64` (any integer column), `f64` (any float column), `bool` (`BOOLEAN`, or an
/// integer: not 0), `Vec<u8>`, `DateTime<Utc>` (`TIMESTAMPTZ`, `TIMESTAMP` read as UTC, or text
/// in any form `openintent_types::time::parse_timestamp` takes), `serde_json::Value` (`JSONB`,
/// `JSON`, or text), and `Option` of each (SQL `NULL` is `None`).
pub(crate) trait Column: Sized {
    /// The value of SQL `NULL` (an error, except for `Option`).
    fn null() -> Result<Self, BoxDynError> {
        Err(Box::new(UnexpectedNullError))
    }

    /// Decodes a non-null SQLite value.
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError>;

    /// Decodes a non-null PostgreSQL value.
    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError>;
}

impl<T: Column> Column for Option<T> {
    fn null() -> Result<Self, BoxDynError> {
        Ok(None)
    }

    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        T::from_sqlite(v).map(Some)
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        T::from_postgres(v).map(Some)
    }
}

/// The PostgreSQL type name of `v` (`INT8`, `TIMESTAMPTZ`, ...).
#[cfg(feature = "postgres")]
fn pg_type(v: &PgValueRef<'_>) -> String {
    v.type_info().name().to_owned()
}

#[cfg(feature = "postgres")]
fn mismatch(what: &str, v: &PgValueRef<'_>) -> BoxDynError {
    format!("cannot read a {what} from a PostgreSQL {} column", pg_type(v)).into()
}

/// An SQLite value as text, as `sqlite3_value_text` converts it.
fn lite_text(v: &SqlValue) -> Result<Cow<'_, str>, BoxDynError> {
    Ok(match v {
        SqlValue::Text(s) => Cow::Borrowed(s),
        SqlValue::Integer(n) => Cow::Owned(n.to_string()),
        SqlValue::Real(x) => Cow::Owned(x.to_string()),
        SqlValue::Blob(b) => Cow::Owned(String::from_utf8(b.clone())?),
        SqlValue::Null => return Err(Box::new(UnexpectedNullError)),
    })
}

/// An SQLite value as an integer, as `sqlite3_value_int64` converts a number or a numeric text.
fn lite_int(v: &SqlValue) -> Result<i64, BoxDynError> {
    match v {
        SqlValue::Integer(n) => Ok(*n),
        #[allow(clippy::cast_possible_truncation)]
        SqlValue::Real(x) => Ok(*x as i64),
        other => {
            let text = lite_text(other)?;
            Ok(text.trim().parse::<i64>().or_else(|_| text.trim().parse::<f64>().map(|x| x as i64))?)
        }
    }
}

impl Column for String {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        lite_text(v).map(Cow::into_owned)
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => <String as Decode<Postgres>>::decode(v),
            _ => Err(mismatch("text", &v)),
        }
    }
}

impl Column for i64 {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        lite_int(v)
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "INT8" => <i64 as Decode<Postgres>>::decode(v),
            "INT4" => <i32 as Decode<Postgres>>::decode(v).map(i64::from),
            "INT2" => <i16 as Decode<Postgres>>::decode(v).map(i64::from),
            _ => Err(mismatch("64-bit integer", &v)),
        }
    }
}

impl Column for f64 {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        match v {
            SqlValue::Real(x) => Ok(*x),
            #[allow(clippy::cast_precision_loss)]
            SqlValue::Integer(n) => Ok(*n as f64),
            other => Ok(lite_text(other)?.trim().parse::<f64>()?),
        }
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "FLOAT8" => <f64 as Decode<Postgres>>::decode(v),
            "FLOAT4" => <f32 as Decode<Postgres>>::decode(v).map(f64::from),
            _ => Err(mismatch("float", &v)),
        }
    }
}

impl Column for bool {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        lite_int(v).map(|n| n != 0)
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "BOOL" => <bool as Decode<Postgres>>::decode(v),
            _ => i64::from_postgres(v).map(|n| n != 0),
        }
    }
}

impl Column for Vec<u8> {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        match v {
            SqlValue::Blob(b) => Ok(b.clone()),
            other => Ok(lite_text(other)?.into_owned().into_bytes()),
        }
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "BYTEA" => <Vec<u8> as Decode<Postgres>>::decode(v),
            _ => Err(mismatch("byte string", &v)),
        }
    }
}

impl Column for DateTime<Utc> {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        Ok(parse_timestamp(&lite_text(v)?)?)
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "TIMESTAMPTZ" => <DateTime<Utc> as Decode<Postgres>>::decode(v),
            "TIMESTAMP" => <NaiveDateTime as Decode<Postgres>>::decode(v).map(|n| n.and_utc()),
            _ => Ok(parse_timestamp(&String::from_postgres(v)?)?),
        }
    }
}

impl Column for Value {
    fn from_sqlite(v: &SqlValue) -> Result<Self, BoxDynError> {
        Ok(serde_json::from_str(&lite_text(v)?)?)
    }

    #[cfg(feature = "postgres")]
    fn from_postgres(v: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        match pg_type(&v).as_str() {
            "JSONB" | "JSON" => <sqlx::types::Json<Value> as Decode<Postgres>>::decode(v).map(|j| j.0),
            _ => Ok(serde_json::from_str(&String::from_postgres(v)?)?),
        }
    }
}

#[cfg(test)]
mod tests;
