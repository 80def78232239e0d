//! The PostgreSQL adapter: a shared store for workers and servers on many
//! hosts.
//!
//! Same contract as the SQLite adapter, kept by the database rather than by
//! one process's mutex: every state change is a compare-and-set `UPDATE` in
//! a transaction with its event; claims of work lock the candidate row with
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers pass each other instead of
//! queueing; the few writes that must see the whole table at once (claiming
//! a delivery's records, merging an order list) take a table lock that only
//! other such writes wait for. The event log is append-only by trigger.
//!
//! The sync `postgres` client behind an `r2d2` pool: the store's port is
//! blocking, and an async client would need a runtime inside every call.
//! Callers on an async runtime use `spawn_blocking`, as they do for SQLite.
//! No TLS: the connection string's `sslmode` must allow a plain connection.

use std::collections::HashMap;
use std::time::Duration;

use postgres::{Client, Config, NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2::{Pool, PooledConnection};
use scan2dms_core::{Batch, BatchState};
use scan2dms_model::{AcceptanceReport, BatchId, OrderId, RecordId};

use crate::StateStore;
use crate::lease::{self, ClaimRequest, Lease};
use crate::schema::POSTGRES_MIGRATIONS;
use crate::types::*;

/// A pool of connections to one database (and schema).
pub struct PostgresStore {
    pool: Pool<PostgresConnectionManager<NoTls>>,
    /// Where the store lives, for messages; never the password.
    name: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Connections per store: a worker host runs a few stage slots, each
/// holding one connection for a short transaction at a time.
const POOL_SIZE: u32 = 8;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db` or
    /// `host=... dbname=...`) and migrates it. The tables live in the
    /// connection's default schema (usually `public`).
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let config = parse_config(url)?;
        let name = describe(&config, None);
        Self::setup(config, name)
    }

    /// Like [`open`](Self::open), in `schema`, created when missing: several
    /// installations (or test runs) in one database without seeing each
    /// other. The name is a plain lowercase identifier.
    pub fn open_in_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with("pg_")
            && schema.starts_with(|first: char| first.is_ascii_lowercase() || first == '_')
            && schema.chars().all(|char| char.is_ascii_lowercase() || char.is_ascii_digit() || char == '_');
        if !valid {
            return Err(StoreError::Database(format!(
                "schema name {schema:?} is not a plain identifier (a-z, 0-9, _, at most 63, not pg_...)"
            )));
        }
        let mut config = parse_config(url)?;
        let name = describe(&config, Some(schema));
        let mut client = connect(&config, &name)?;
        client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).context(&format!("create {name}"))?;
        drop(client);
        // Every connection of the pool starts in the schema: the server
        // applies `options` before the first statement.
        let options = match config.get_options() {
            Some(options) => format!("{options} -c search_path={schema}"),
            None => format!("-c search_path={schema}"),
        };
        config.options(&options);
        Self::setup(config, name)
    }

    fn setup(mut config: Config, name: String) -> Result<PostgresStore, StoreError> {
        if config.get_application_name().is_none() {
            config.application_name("scan2dms");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // Connecting once by hand fails fast on a wrong URL or a server that
        // is down, where the pool would retry until its timeout.
        let mut client = connect(&config, &name)?;
        migrate(&mut client, &name)?;
        drop(client);
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|error| StoreError::Database(format!("connection pool for {name}: {error}")))?;
        Ok(PostgresStore { pool, name })
    }

    fn client(&self) -> Result<PooledConnection<PostgresConnectionManager<NoTls>>, StoreError> {
        self.pool.get().map_err(|error| StoreError::Database(format!("no connection to {}: {error}", self.name)))
    }
}

fn parse_config(url: &str) -> Result<Config, StoreError> {
    // The parser's message never repeats the string, so no password leaks.
    url.parse::<Config>()
        .map_err(|error| StoreError::Database(format!("postgres connection string: {}", detail(&error))))
}

fn connect(config: &Config, name: &str) -> Result<Client, StoreError> {
    config.connect(NoTls).context(&format!("connect to {name}"))
}

/// "postgres database test on 127.0.0.1:5432, schema x".
fn describe(config: &Config, schema: Option<&str>) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let host = match host {
                postgres::config::Host::Tcp(host) => host.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(index).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let database = config.get_dbname().or(config.get_user()).unwrap_or("(default)");
    let mut name = format!("postgres database {database} on {}", hosts.join(","));
    if let Some(schema) = schema {
        name.push_str(&format!(", schema {schema}"));
    }
    name
}

/// Applies the missing migrations in one transaction. Two processes starting
/// at once take turns on an advisory lock, so the second finds the first's
/// work done instead of applying it again.
fn migrate(client: &mut Client, name: &str) -> Result<(), StoreError> {
    let mut transaction = client.transaction().context("begin the schema migration")?;
    transaction
        .batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('scan2dms schema ' || current_schema()));
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version       BIGINT PRIMARY KEY,
                 applied_at_ms BIGINT NOT NULL
             );",
        )
        .context(&format!("prepare the schema migration of {name}"))?;
    let found: i64 = transaction
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
        .and_then(|row| row.try_get(0))
        .context("read schema_migrations")?;
    let known = POSTGRES_MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { path: name.to_owned(), found, known });
    }
    for (index, migration) in POSTGRES_MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        transaction.batch_execute(migration).context(&format!("migration {version} of {name}"))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, applied_at_ms)
                 VALUES ($1, (extract(epoch FROM now()) * 1000)::bigint)",
                &[&version],
            )
            .context(&format!("record migration {version}"))?;
    }
    transaction.commit().context(&format!("commit the schema migration of {name}"))
}

/// Errors with what the store was doing when they happened.
trait Context<T> {
    fn context(self, what: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, postgres::Error> {
    fn context(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Database(format!("{what}: {}", detail(&error))))
    }
}

/// The client's message leaves out the server's: add it, with the table and
/// constraint at fault.
fn detail(error: &postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        return match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
    };
    let mut text = format!("{}: {}", db.severity(), db.message());
    if let Some(detail) = db.detail() {
        text.push_str(&format!(" ({detail})"));
    }
    if let Some(table) = db.table() {
        text.push_str(&format!(" [table {table}"));
        if let Some(constraint) = db.constraint() {
            text.push_str(&format!(", constraint {constraint}"));
        }
        text.push(']');
    }
    text
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Integers are `BIGINT` in the database; the row types are narrower.
fn narrow<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| corrupt(format!("{what} {value} is out of range")))
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, index: usize, what: &str) -> Result<T, StoreError> {
    row.try_get(index).map_err(|error| corrupt(format!("{what}: {}", detail(&error))))
}

const BATCH_COLUMNS: &str = "b.batch_id, b.source_name, b.source_path, b.state, b.attempts, b.not_before_ms, \
     b.order_id, b.outcome, b.last_error, b.received_at_ms, b.updated_at_ms, \
     (SELECT COUNT(*) FROM pages p WHERE p.batch_id = b.batch_id), b.lease_owner, b.lease_expires_ms";

fn batch_row(row: &Row) -> Result<BatchRow, StoreError> {
    let batch_id: String = get(row, 0, "batch id")?;
    let what = |column: &str| format!("batch {batch_id}: {column}");
    let state_name: String = get(row, 3, &what("state"))?;
    let state = state_name.parse::<BatchState>().map_err(|error| corrupt(what(&error)))?;
    let attempts = narrow(get(row, 4, &what("attempts"))?, &what("attempts"))?;
    let lease = match get::<Option<String>>(row, 12, &what("lease owner"))? {
        None => None,
        // An owner without an expiry never happens; taken as expired.
        Some(worker_id) => Some(Lease {
            worker_id,
            expires_ms: get::<Option<i64>>(row, 13, &what("lease expiry"))?.unwrap_or(i64::MIN),
        }),
    };
    Ok(BatchRow {
        source_name: get(row, 1, &what("source name"))?,
        source_path: get(row, 2, &what("source path"))?,
        batch: Batch { state, attempts, not_before_ms: get(row, 5, &what("not before"))? },
        order_id: get(row, 6, &what("order id"))?,
        outcome: get(row, 7, &what("outcome"))?,
        last_error: get(row, 8, &what("last error"))?,
        received_at_ms: get(row, 9, &what("received at"))?,
        updated_at_ms: get(row, 10, &what("updated at"))?,
        pages: narrow(get(row, 11, &what("pages"))?, &what("pages"))?,
        lease,
        batch_id,
    })
}

fn select_batch(transaction: &mut Transaction<'_>, batch_id: &str) -> Result<Option<BatchRow>, StoreError> {
    let select = format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE b.batch_id = $1");
    let row = transaction.query_opt(&select, &[&batch_id]).context(&format!("select batch {batch_id}"))?;
    row.as_ref().map(batch_row).transpose()
}

fn insert_event(transaction: &mut Transaction<'_>, event: &NewEvent, now_ms: i64) -> Result<(), StoreError> {
    let page_no = event.page_no.map(i64::from);
    transaction
        .execute(
            "INSERT INTO events (at_ms, batch_id, record_id, page_no, kind, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&now_ms, &event.batch_id, &event.record_id, &page_no, &event.kind, &event.detail],
        )
        .context(&format!("insert event {} of batch {}", event.kind, event.batch_id))?;
    Ok(())
}

/// The compare-and-set at the heart of every state change. A batch that
/// stops running loses its lease; one that starts gets `lease`, if any.
/// The `UPDATE` waits for a concurrent change of the same batch and then
/// checks `from` against what that change left.
fn set_state(
    transaction: &mut Transaction<'_>,
    batch_id: &str,
    from: &Batch,
    to: &Batch,
    last_error: Option<&str>,
    lease: Option<&Lease>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let running = matches!(to.state, BatchState::Running(_));
    let changed = transaction
        .execute(
            "UPDATE batches SET state = $1, attempts = $2, not_before_ms = $3, updated_at_ms = $4,
                    last_error = COALESCE($5, last_error),
                    lease_owner = CASE WHEN $9 THEN COALESCE($10, lease_owner) END,
                    lease_expires_ms = CASE WHEN $9 THEN COALESCE($11, lease_expires_ms) END
             WHERE batch_id = $6 AND state = $7 AND attempts = $8",
            &[
                &to.state.name(),
                &i64::from(to.attempts),
                &to.not_before_ms,
                &now_ms,
                &last_error,
                &batch_id,
                &from.state.name(),
                &i64::from(from.attempts),
                &running,
                &lease.map(|lease| lease.worker_id.as_str()),
                &lease.map(|lease| lease.expires_ms),
            ],
        )
        .context(&format!("update the state of batch {batch_id}"))?;
    if changed == 1 {
        return Ok(());
    }
    let found = transaction
        .query_opt("SELECT state, attempts FROM batches WHERE batch_id = $1", &[&batch_id])
        .context(&format!("select the state of batch {batch_id}"))?;
    match found {
        None => Err(StoreError::UnknownBatch(batch_id.to_owned())),
        Some(row) => {
            let state: String = get(&row, 0, "state")?;
            let attempts: i64 = get(&row, 1, "attempts")?;
            Err(StoreError::Conflict {
                batch_id: batch_id.to_owned(),
                expected: format!("{} (attempt {})", from.state, from.attempts),
                found: format!("{state} (attempt {attempts})"),
            })
        }
    }
}

impl StateStore for PostgresStore {
    fn import_order(&self, order: &NewOrder, now_ms: i64) -> Result<ImportSummary, StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin order import")?;
        // Two imports of one list at once would both find a record new; order
        // lists are imported rarely, so they simply take turns.
        transaction
            .batch_execute("LOCK TABLE orders, order_records IN SHARE ROW EXCLUSIVE MODE")
            .context("lock orders")?;
        let order_id = order.order_id.as_str();
        let known_series: Option<String> = transaction
            .query_opt("SELECT series FROM orders WHERE order_id = $1", &[&order_id])
            .context("select order")?
            .map(|row| get(&row, 0, "series"))
            .transpose()?;
        match known_series {
            Some(series) if series != order.series.as_str() => {
                return Err(StoreError::Database(format!(
                    "order {} was imported as series {series}, the new list says {}",
                    order.order_id, order.series
                )));
            }
            Some(_) => {}
            None => {
                transaction
                    .execute(
                        "INSERT INTO orders (order_id, series, source, imported_at_ms) VALUES ($1, $2, $3, $4)",
                        &[&order_id, &order.series.as_str(), &order.source, &now_ms],
                    )
                    .context("insert into orders")?;
            }
        }
        let mut summary = ImportSummary { added: 0, updated: 0, unchanged: 0 };
        let existing: HashMap<String, (String, String)> = transaction
            .query("SELECT record_id, title, box_id FROM order_records WHERE order_id = $1", &[&order_id])
            .context("select order_records")?
            .iter()
            .map(|row| Ok((get(row, 0, "record id")?, (get(row, 1, "title")?, get(row, 2, "box id")?))))
            .collect::<Result<_, StoreError>>()?;
        let insert = transaction
            .prepare("INSERT INTO order_records (order_id, record_id, title, box_id) VALUES ($1, $2, $3, $4)")
            .context("prepare insert into order_records")?;
        let update = transaction
            .prepare("UPDATE order_records SET title = $3, box_id = $4 WHERE order_id = $1 AND record_id = $2")
            .context("prepare update of order_records")?;
        for record in &order.records {
            let values: [&(dyn postgres::types::ToSql + Sync); 4] =
                [&order_id, &record.record_id.as_str(), &record.title, &record.box_id];
            match existing.get(record.record_id.as_str()) {
                None => {
                    transaction.execute(&insert, &values).context("insert into order_records")?;
                    summary.added += 1;
                }
                Some((title, box_id)) if *title == record.title && *box_id == record.box_id => summary.unchanged += 1,
                Some(_) => {
                    transaction.execute(&update, &values).context("update order_records")?;
                    summary.updated += 1;
                }
            }
        }
        transaction.commit().context("commit order import")?;
        Ok(summary)
    }

    fn order(&self, order_id: &OrderId) -> Result<Option<OrderRow>, StoreError> {
        let mut client = self.client()?;
        let row = client
            .query_opt("SELECT series, imported_at_ms FROM orders WHERE order_id = $1", &[&order_id.as_str()])
            .context("select order")?;
        row.map(|row| {
            let series: String = get(&row, 0, "series")?;
            let series = series.parse().map_err(|error| corrupt(format!("order {order_id}: {error}")))?;
            Ok(OrderRow { order_id: order_id.clone(), series, imported_at_ms: get(&row, 1, "imported at")? })
        })
        .transpose()
    }

    fn order_records(&self, order_id: &OrderId) -> Result<Vec<RecordId>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                "SELECT record_id FROM order_records WHERE order_id = $1 ORDER BY record_id COLLATE \"C\"",
                &[&order_id.as_str()],
            )
            .context("select order_records")?;
        rows.iter()
            .map(|row| {
                let id: String = get(row, 0, "record id")?;
                id.parse().map_err(|error| corrupt(format!("order {order_id}: {error}")))
            })
            .collect()
    }

    fn order_progress(&self) -> Result<Vec<OrderProgress>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                "SELECT o.order_id, o.series, COUNT(r.record_id), COUNT(d.record_id)
                 FROM orders o
                 LEFT JOIN order_records r ON r.order_id = o.order_id
                 LEFT JOIN delivered_records d ON d.record_id = r.record_id
                 GROUP BY o.order_id ORDER BY o.order_id COLLATE \"C\"",
                &[],
            )
            .context("select order progress")?;
        rows.iter()
            .map(|row| {
                Ok(OrderProgress {
                    order_id: get(row, 0, "order id")?,
                    series: get(row, 1, "series")?,
                    records: narrow(get(row, 2, "records")?, "records")?,
                    delivered: narrow(get(row, 3, "delivered")?, "delivered")?,
                })
            })
            .collect()
    }

    fn register_batch(&self, batch: &NewBatch, now_ms: i64) -> Result<Registration, StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin batch registration")?;
        let batch_id = batch.batch_id.as_str();
        // Two intakes registering one delivery at once: the second waits for
        // the first's row and then inserts nothing.
        let inserted = transaction
            .execute(
                "INSERT INTO batches (batch_id, source_name, source_path, state, attempts,
                                      received_at_ms, updated_at_ms)
                 VALUES ($1, $2, $3, $4, 0, $5, $5)
                 ON CONFLICT (batch_id) DO NOTHING",
                &[&batch_id, &batch.source_name, &batch.source_path, &Batch::received().state.name(), &now_ms],
            )
            .context(&format!("insert batch {batch_id}"))?;
        if inserted == 0 {
            let existing = select_batch(&mut transaction, batch_id)?
                .ok_or_else(|| StoreError::Database(format!("batch {batch_id} vanished while registering")))?;
            return Ok(Registration::AlreadyRegistered(existing));
        }
        let event = NewEvent::batch(batch_id, "registered", format!("delivered as {}", batch.source_name));
        insert_event(&mut transaction, &event, now_ms)?;
        let row = select_batch(&mut transaction, batch_id)?
            .ok_or_else(|| StoreError::Database(format!("batch {batch_id} vanished while registering")))?;
        transaction.commit().context("commit batch registration")?;
        Ok(Registration::Registered(row))
    }

    fn batch(&self, batch_id: &str) -> Result<Option<BatchRow>, StoreError> {
        let mut client = self.client()?;
        let select = format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE b.batch_id = $1");
        let row = client.query_opt(&select, &[&batch_id]).context(&format!("select batch {batch_id}"))?;
        row.as_ref().map(batch_row).transpose()
    }

    fn batches(&self, state: Option<&str>) -> Result<Vec<BatchRow>, StoreError> {
        let mut client = self.client()?;
        let select =
            format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE $1::text IS NULL OR b.state = $1 ORDER BY b.seq");
        let rows = client.query(&select, &[&state]).context("select batches")?;
        rows.iter().map(batch_row).collect()
    }

    fn transition(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        event: &NewEvent,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin transition")?;
        let last_error = matches!(event.kind.as_str(), "failed" | "interrupted").then_some(event.detail.as_str());
        set_state(&mut transaction, batch_id, from, to, last_error, None, now_ms)?;
        insert_event(&mut transaction, event, now_ms)?;
        transaction.commit().context(&format!("commit transition of batch {batch_id}"))?;
        Ok(())
    }

    fn finish_validation(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        result: &ValidationResult,
        now_ms: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin finishing validation")?;
        let accepted = result.report.is_accepted();
        if accepted {
            // Two batches claiming one record at once must not both find it
            // free: claims take turns (readers do not wait).
            transaction
                .batch_execute("LOCK TABLE delivered_records IN SHARE ROW EXCLUSIVE MODE")
                .context("lock delivered_records")?;
            let record_ids: Vec<&str> = result.records.iter().map(|record| record.record_id.as_str()).collect();
            let holders: HashMap<String, String> = transaction
                .query(
                    "SELECT record_id, batch_id FROM delivered_records WHERE record_id = ANY($1) AND batch_id <> $2",
                    &[&record_ids, &batch_id],
                )
                .context("select delivered_records")?
                .iter()
                .map(|row| Ok((get(row, 0, "record id")?, get(row, 1, "batch id")?)))
                .collect::<Result<_, StoreError>>()?;
            let mut already = Vec::new();
            for record in &result.records {
                if let Some(other) = holders.get(record.record_id.as_str()) {
                    let other = other.parse::<BatchId>().map_err(|error| corrupt(error.to_string()))?;
                    already.push((record.record_id.clone(), other));
                }
            }
            if !already.is_empty() {
                return Ok(ClaimOutcome::AlreadyDelivered(already));
            }
        }
        set_state(&mut transaction, batch_id, from, to, None, None, now_ms)?;
        let report_json =
            serde_json::to_string(&result.report).map_err(|error| StoreError::Database(error.to_string()))?;
        transaction
            .execute(
                "UPDATE batches SET outcome = $1, report_json = $2, order_id = $3 WHERE batch_id = $4",
                &[
                    &result.report.outcome.as_str(),
                    &report_json,
                    &result.order_id.as_ref().map(OrderId::as_str),
                    &batch_id,
                ],
            )
            .context("store the acceptance report")?;
        // A batch validated again (after a retry) replaces what it stored before.
        for table in ["pages", "batch_records", "delivered_records"] {
            transaction
                .execute(&format!("DELETE FROM {table} WHERE batch_id = $1"), &[&batch_id])
                .context(&format!("delete from {table}"))?;
        }
        if accepted {
            let record_ids: Vec<&str> = result.records.iter().map(|record| record.record_id.as_str()).collect();
            let titles: Vec<&str> = result.records.iter().map(|record| record.title.as_str()).collect();
            let box_ids: Vec<&str> = result.records.iter().map(|record| record.box_id.as_str()).collect();
            let pages: Vec<i64> = result.records.iter().map(|record| i64::from(record.pages)).collect();
            // One statement per table however many records and pages: a
            // remote database makes every round trip count.
            transaction
                .execute(
                    "INSERT INTO batch_records (batch_id, record_id, title, box_id, pages)
                     SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bigint[])",
                    &[&batch_id, &record_ids, &titles, &box_ids, &pages],
                )
                .context("insert into batch_records")?;
            transaction
                .execute(
                    "INSERT INTO delivered_records (record_id, batch_id) SELECT UNNEST($1::text[]), $2",
                    &[&record_ids, &batch_id],
                )
                .context("insert into delivered_records")?;
            let page_records: Vec<&str> = result.pages.iter().map(|page| page.record_id.as_str()).collect();
            let page_nos: Vec<i64> = result.pages.iter().map(|page| i64::from(page.page_no)).collect();
            let document_nos: Vec<Option<i64>> =
                result.pages.iter().map(|page| page.document_no.map(i64::from)).collect();
            let files: Vec<&str> = result.pages.iter().map(|page| page.file.as_str()).collect();
            let file_pages: Vec<i64> = result.pages.iter().map(|page| i64::from(page.file_page)).collect();
            let sha256s: Vec<Option<&str>> = result.pages.iter().map(|page| page.sha256.as_deref()).collect();
            transaction
                .execute(
                    "INSERT INTO pages (batch_id, record_id, page_no, document_no, file, file_page, sha256)
                     SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                                              $7::text[])",
                    &[&batch_id, &page_records, &page_nos, &document_nos, &files, &file_pages, &sha256s],
                )
                .context("insert into pages")?;
        }
        let report = &result.report;
        let detail = format!(
            "{}: {} reason(s), {} warning(s), {} record(s), {} page(s)",
            report.outcome.as_str(),
            report.reasons.len(),
            report.warnings.len(),
            result.records.len(),
            result.pages.len()
        );
        insert_event(&mut transaction, &NewEvent::batch(batch_id, report.outcome.as_str(), detail), now_ms)?;
        transaction.commit().context(&format!("commit validation of batch {batch_id}"))?;
        Ok(ClaimOutcome::Stored)
    }

    fn report(&self, batch_id: &str) -> Result<Option<AcceptanceReport>, StoreError> {
        let mut client = self.client()?;
        let row = client
            .query_opt("SELECT report_json FROM batches WHERE batch_id = $1", &[&batch_id])
            .context("select report")?;
        let json: Option<String> = match row {
            None => None,
            Some(row) => get(&row, 0, "report")?,
        };
        match json {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|error| corrupt(format!("report of batch {batch_id}: {error}"))),
        }
    }

    fn delivered(&self, record_ids: &[RecordId], this_batch: &str) -> Result<HashMap<RecordId, BatchId>, StoreError> {
        let mut client = self.client()?;
        let ids: Vec<&str> = record_ids.iter().map(RecordId::as_str).collect();
        let rows = client
            .query(
                "SELECT record_id, batch_id FROM delivered_records WHERE record_id = ANY($1) AND batch_id <> $2",
                &[&ids, &this_batch],
            )
            .context("select delivered_records")?;
        rows.iter()
            .map(|row| {
                let record_id: String = get(row, 0, "record id")?;
                let batch_id: String = get(row, 1, "batch id")?;
                let record_id = record_id.parse().map_err(|error: scan2dms_model::IdError| corrupt(error))?;
                let batch_id = batch_id.parse().map_err(|error: scan2dms_model::IdError| corrupt(error))?;
                Ok((record_id, batch_id))
            })
            .collect()
    }

    fn append_event(&self, event: &NewEvent, now_ms: i64) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin appending an event")?;
        insert_event(&mut transaction, event, now_ms)?;
        transaction.commit().context("commit event")?;
        Ok(())
    }

    fn events(&self, batch_id: &str) -> Result<Vec<EventRow>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                "SELECT seq, at_ms, batch_id, record_id, page_no, kind, detail
                 FROM events WHERE batch_id = $1 ORDER BY seq",
                &[&batch_id],
            )
            .context("select events")?;
        rows.iter()
            .map(|row| {
                Ok(EventRow {
                    seq: get(row, 0, "event seq")?,
                    at_ms: get(row, 1, "event at")?,
                    batch_id: get(row, 2, "event batch id")?,
                    record_id: get(row, 3, "event record id")?,
                    page_no: get::<Option<i64>>(row, 4, "event page")?
                        .map(|page_no| narrow(page_no, "event page"))
                        .transpose()?,
                    kind: get(row, 5, "event kind")?,
                    detail: get(row, 6, "event detail")?,
                })
            })
            .collect()
    }

    fn pages(&self, batch_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                "SELECT record_id, page_no, document_no, file, file_page, sha256,
                        status, confidence, blank, separator, rotation, dpi, text, skew
                 FROM pages WHERE batch_id = $1 ORDER BY record_id COLLATE \"C\", page_no",
                &[&batch_id],
            )
            .context("select pages")?;
        rows.iter()
            .map(|row| {
                let status: Option<String> = get(row, 6, "page status")?;
                let result = match status {
                    None => None,
                    Some(status) => Some(PageResult {
                        status,
                        confidence: get(row, 7, "page confidence")?,
                        blank: get::<Option<bool>>(row, 8, "page blank")?.unwrap_or(false),
                        separator: get::<Option<bool>>(row, 9, "page separator")?.unwrap_or(false),
                        rotation: narrow(get::<Option<i64>>(row, 10, "page rotation")?.unwrap_or(0), "page rotation")?,
                        dpi: get(row, 11, "page dpi")?,
                        text: get::<Option<String>>(row, 12, "page text")?.unwrap_or_default(),
                        skew: get(row, 13, "page skew")?,
                    }),
                };
                Ok(PageRecord {
                    record_id: get(row, 0, "page record id")?,
                    page_no: narrow(get(row, 1, "page number")?, "page number")?,
                    document_no: get::<Option<i64>>(row, 2, "page document")?
                        .map(|document_no| narrow(document_no, "page document"))
                        .transpose()?,
                    file: get(row, 3, "page file")?,
                    file_page: narrow(get(row, 4, "page file page")?, "page file page")?,
                    sha256: get(row, 5, "page sha256")?,
                    result,
                })
            })
            .collect()
    }

    fn finish_ocr(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        outcome: &OcrOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin finishing ocr")?;
        set_state(&mut transaction, batch_id, from, to, None, None, now_ms)?;
        let results = || outcome.pages.iter().map(|(_, _, result)| result);
        let record_ids: Vec<&str> = outcome.pages.iter().map(|(record_id, _, _)| record_id.as_str()).collect();
        let page_nos: Vec<i64> = outcome.pages.iter().map(|(_, page_no, _)| i64::from(*page_no)).collect();
        let statuses: Vec<&str> = results().map(|result| result.status.as_str()).collect();
        let confidences: Vec<Option<f32>> = results().map(|result| result.confidence).collect();
        let blanks: Vec<bool> = results().map(|result| result.blank).collect();
        let separators: Vec<bool> = results().map(|result| result.separator).collect();
        let rotations: Vec<i64> = results().map(|result| i64::from(result.rotation)).collect();
        let dpis: Vec<Option<f32>> = results().map(|result| result.dpi).collect();
        let texts: Vec<&str> = results().map(|result| result.text.as_str()).collect();
        let skews: Vec<Option<f32>> = results().map(|result| result.skew).collect();
        transaction
            .execute(
                "UPDATE pages p SET status = u.status, confidence = u.confidence, blank = u.blank,
                        separator = u.separator, rotation = u.rotation, dpi = u.dpi, text = u.text, skew = u.skew
                 FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::real[], $6::boolean[], $7::boolean[],
                             $8::bigint[], $9::real[], $10::text[], $11::real[])
                      AS u(record_id, page_no, status, confidence, blank, separator, rotation, dpi, text, skew)
                 WHERE p.batch_id = $1 AND p.record_id = u.record_id AND p.page_no = u.page_no",
                &[
                    &batch_id,
                    &record_ids,
                    &page_nos,
                    &statuses,
                    &confidences,
                    &blanks,
                    &separators,
                    &rotations,
                    &dpis,
                    &texts,
                    &skews,
                ],
            )
            .context("update pages with their ocr results")?;
        transaction.execute("DELETE FROM documents WHERE batch_id = $1", &[&batch_id]).context("delete documents")?;
        let insert = transaction
            .prepare(
                "INSERT INTO documents (batch_id, record_id, document_no, state, page_nos,
                                        doc_type, doc_type_confidence, needs_review, fields_json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .context("prepare insert into documents")?;
        for document in &outcome.documents {
            let page_nos =
                serde_json::to_string(&document.page_nos).map_err(|error| StoreError::Database(error.to_string()))?;
            let classification = document.classification.as_ref();
            let fields = classification
                .map(|classification| serde_json::to_string(&classification.fields))
                .transpose()
                .map_err(|error| StoreError::Database(error.to_string()))?;
            transaction
                .execute(
                    &insert,
                    &[
                        &batch_id,
                        &document.record_id,
                        &i64::from(document.document_no),
                        &document.state,
                        &page_nos,
                        &classification.map(|classification| classification.doc_type.as_str()),
                        &classification.map(|classification| classification.confidence),
                        &classification.is_some_and(|classification| classification.needs_review),
                        &fields,
                    ],
                )
                .context(&format!("insert document {} of record {}", document.document_no, document.record_id))?;
        }
        // The contractor's report also carries what processing found. The
        // batch row is locked by the state change above, so no one else
        // rewrites the report in between.
        let json: Option<String> = transaction
            .query_one("SELECT report_json FROM batches WHERE batch_id = $1", &[&batch_id])
            .context("select report")
            .and_then(|row| get(&row, 0, "report"))?;
        if let Some(json) = json {
            let mut report: AcceptanceReport =
                serde_json::from_str(&json).map_err(|error| corrupt(format!("report of batch {batch_id}: {error}")))?;
            // A stage run again replaces the warnings of its earlier run.
            report.warnings.retain(|warning| !is_ocr_warning(warning.code));
            report.warnings.extend(outcome.warnings.iter().cloned());
            let report = AcceptanceReport::new(report.batch_id, report.reasons, report.warnings);
            let json = serde_json::to_string(&report).map_err(|error| StoreError::Database(error.to_string()))?;
            transaction
                .execute(
                    "UPDATE batches SET report_json = $1, outcome = $2 WHERE batch_id = $3",
                    &[&json, &report.outcome.as_str(), &batch_id],
                )
                .context("update report")?;
        }
        let detail = format!(
            "{} page(s), {} document(s), {} warning(s)",
            outcome.pages.len(),
            outcome.documents.len(),
            outcome.warnings.len()
        );
        insert_event(&mut transaction, &NewEvent::batch(batch_id, "ocr_done", detail), now_ms)?;
        transaction.commit().context(&format!("commit ocr of batch {batch_id}"))?;
        Ok(())
    }

    fn finish_efiles(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        efiles: &[(String, u32, EfileRecord)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin finishing e-files")?;
        set_state(&mut transaction, batch_id, from, to, None, None, now_ms)?;
        let update = transaction
            .prepare(
                "UPDATE documents SET state = 'efile_done', efile_path = $4, efile_sha256 = $5, efile_bytes = $6
                 WHERE batch_id = $1 AND record_id = $2 AND document_no = $3",
            )
            .context("prepare update of documents")?;
        for (record_id, document_no, efile) in efiles {
            let bytes = i64::try_from(efile.bytes).map_err(|_| corrupt(format!("e-file {} too large", efile.path)))?;
            let changed = transaction
                .execute(&update, &[&batch_id, record_id, &i64::from(*document_no), &efile.path, &efile.sha256, &bytes])
                .context("update documents with their e-files")?;
            if changed != 1 {
                return Err(corrupt(format!(
                    "batch {batch_id}: no document {document_no} of record {record_id} for its e-file"
                )));
            }
        }
        let bytes: u64 = efiles.iter().map(|(_, _, efile)| efile.bytes).sum();
        let detail = format!("{} e-file(s), {bytes} bytes", efiles.len());
        insert_event(&mut transaction, &NewEvent::batch(batch_id, "efiles_done", detail), now_ms)?;
        transaction.commit().context(&format!("commit e-files of batch {batch_id}"))?;
        Ok(())
    }

    fn finish_push(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        objects: &[(String, u32, String)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin finishing push")?;
        set_state(&mut transaction, batch_id, from, to, None, None, now_ms)?;
        let update = transaction
            .prepare(
                "UPDATE documents SET state = 'pushed', dms_object_id = $4, dms_verified = FALSE
                 WHERE batch_id = $1 AND record_id = $2 AND document_no = $3",
            )
            .context("prepare update of documents")?;
        for (record_id, document_no, object_id) in objects {
            let changed = transaction
                .execute(&update, &[&batch_id, record_id, &i64::from(*document_no), object_id])
                .context("update documents with their dms objects")?;
            if changed != 1 {
                return Err(corrupt(format!(
                    "batch {batch_id}: no document {document_no} of record {record_id} for dms object {object_id}"
                )));
            }
        }
        let detail = format!("{} document(s) in the dms", objects.len());
        insert_event(&mut transaction, &NewEvent::batch(batch_id, "pushed", detail), now_ms)?;
        transaction.commit().context(&format!("commit push of batch {batch_id}"))?;
        Ok(())
    }

    fn finish_verify(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        verified: &[(String, u32)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin finishing verify")?;
        set_state(&mut transaction, batch_id, from, to, None, None, now_ms)?;
        let update = transaction
            .prepare(
                "UPDATE documents SET state = 'verified', dms_verified = TRUE
                 WHERE batch_id = $1 AND record_id = $2 AND document_no = $3 AND dms_object_id IS NOT NULL",
            )
            .context("prepare update of documents")?;
        for (record_id, document_no) in verified {
            let changed = transaction
                .execute(&update, &[&batch_id, record_id, &i64::from(*document_no)])
                .context("update documents as verified")?;
            if changed != 1 {
                return Err(corrupt(format!(
                    "batch {batch_id}: document {document_no} of record {record_id} was never pushed"
                )));
            }
        }
        let detail = format!("{} document(s) read back from the dms unchanged", verified.len());
        insert_event(&mut transaction, &NewEvent::batch(batch_id, "verified", detail), now_ms)?;
        transaction.commit().context(&format!("commit verify of batch {batch_id}"))?;
        Ok(())
    }

    fn decide_review(
        &self,
        batch_id: &str,
        record_id: &str,
        document_no: u32,
        doc_type: &str,
        decided_by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin review decision")?;
        let changed = transaction
            .execute(
                "UPDATE documents SET review_doc_type = $4, reviewed_by = $5, reviewed_at_ms = $6
                 WHERE batch_id = $1 AND record_id = $2 AND document_no = $3",
                &[&batch_id, &record_id, &i64::from(document_no), &doc_type, &decided_by, &now_ms],
            )
            .context("update documents with the review decision")?;
        if changed != 1 {
            return Err(corrupt(format!("batch {batch_id} has no document {document_no} of record {record_id}")));
        }
        let detail = format!("record {record_id} document {document_no}: type {doc_type}, decided by {decided_by}");
        insert_event(&mut transaction, &NewEvent::batch(batch_id, "review_decided", detail), now_ms)?;
        transaction.commit().context("commit review decision")?;
        Ok(())
    }

    fn review_queue(&self) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DOCUMENT_COLUMNS}
                     FROM documents d JOIN batches b ON b.batch_id = d.batch_id
                     WHERE d.needs_review AND d.review_doc_type IS NULL
                     ORDER BY b.seq, d.record_id COLLATE \"C\", d.document_no"
                ),
                &[],
            )
            .context("select the review queue")?;
        rows.iter().map(document_row).collect()
    }

    fn batch_records(&self, batch_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                "SELECT record_id, title FROM batch_records WHERE batch_id = $1 ORDER BY record_id COLLATE \"C\"",
                &[&batch_id],
            )
            .context("select batch_records")?;
        rows.iter().map(|row| Ok((get(row, 0, "record id")?, get(row, 1, "title")?))).collect()
    }

    fn documents(&self, batch_id: Option<&str>) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DOCUMENT_COLUMNS}
                     FROM documents d JOIN batches b ON b.batch_id = d.batch_id
                     WHERE $1::text IS NULL OR d.batch_id = $1
                     ORDER BY b.seq, d.record_id COLLATE \"C\", d.document_no"
                ),
                &[&batch_id],
            )
            .context("select documents")?;
        rows.iter().map(document_row).collect()
    }

    // --- The server's.

    fn add_user(&self, user: &NewUser, now_ms: i64) -> Result<UserAdded, StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin adding a user")?;
        let inserted = transaction
            .execute(
                "INSERT INTO users (user_id, name, role, token_hash, created_at_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO NOTHING",
                &[&user.user_id, &user.name, &user.role, &user.token_hash, &now_ms],
            )
            .context("insert into users")?;
        let select = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let row =
            transaction.query_one(&select, &[&user.name]).context("select user").and_then(|row| user_row(&row))?;
        transaction.commit().context("commit user")?;
        Ok(if inserted == 1 { UserAdded::Added(row) } else { UserAdded::NameTaken(row) })
    }

    fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
        let mut client = self.client()?;
        let select = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1");
        let row = client.query_opt(&select, &[&user_id]).context("select user")?;
        row.as_ref().map(user_row).transpose()
    }

    fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name COLLATE \"C\""), &[])
            .context("select users")?;
        rows.iter().map(user_row).collect()
    }

    fn claim_upload(&self, upload: &NewUpload, now_ms: i64) -> Result<UploadClaim, StoreError> {
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin claiming an upload")?;
        let batch_id = upload.batch_id.as_str();
        let registered = transaction
            .query_opt("SELECT 1 FROM batches WHERE batch_id = $1", &[&batch_id])
            .context("select batch")?
            .is_some();
        if registered {
            return Ok(UploadClaim::Registered);
        }
        let bytes = i64::try_from(upload.bytes).map_err(|_| corrupt(format!("upload {batch_id} too large")))?;
        // The owner check and the write are one statement, so two users
        // uploading one batch id at once cannot both win.
        let select = format!(
            "INSERT INTO uploads (batch_id, user_id, source_name, bytes, sha256, uploaded_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (batch_id) DO UPDATE
                 SET source_name = EXCLUDED.source_name, bytes = EXCLUDED.bytes, sha256 = EXCLUDED.sha256,
                     uploaded_at_ms = EXCLUDED.uploaded_at_ms
                 WHERE uploads.user_id = EXCLUDED.user_id
             RETURNING {UPLOAD_COLUMNS}"
        );
        let row = transaction
            .query_opt(&select, &[&batch_id, &upload.user_id, &upload.source_name, &bytes, &upload.sha256, &now_ms])
            .context("insert into uploads")?;
        let Some(row) = row else { return Ok(UploadClaim::OwnedByOther) };
        let row = upload_row(&row)?;
        let detail = format!(
            "{} by user {}: {} bytes, sha256 {}",
            upload.source_name, upload.user_id, upload.bytes, upload.sha256
        );
        insert_event(&mut transaction, &NewEvent::batch(batch_id, "uploaded", detail), now_ms)?;
        transaction.commit().context("commit upload")?;
        Ok(UploadClaim::Claimed(row))
    }

    fn upload(&self, batch_id: &str) -> Result<Option<UploadRow>, StoreError> {
        let mut client = self.client()?;
        let select = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE batch_id = $1");
        let row = client.query_opt(&select, &[&batch_id]).context("select upload")?;
        row.as_ref().map(upload_row).transpose()
    }

    fn uploads(&self, user_id: Option<&str>) -> Result<Vec<UploadRow>, StoreError> {
        let mut client = self.client()?;
        let select = format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE $1::text IS NULL OR user_id = $1
             ORDER BY uploaded_at_ms, batch_id COLLATE \"C\""
        );
        let rows = client.query(&select, &[&user_id]).context("select uploads")?;
        rows.iter().map(upload_row).collect()
    }

    fn order_stage_progress(&self) -> Result<Vec<OrderStageProgress>, StoreError> {
        let mut client = self.client()?;
        // Per accepted record: how many documents it has and how many of them
        // reached each stage; a record counts for a stage when all did.
        let rows = client
            .query(
                "WITH per_document AS (
                     SELECT batch_id, record_id, COUNT(*) AS documents,
                            COUNT(*) FILTER (WHERE state IN ('efile_done', 'pushed', 'verified')) AS efiles,
                            COUNT(*) FILTER (WHERE dms_object_id IS NOT NULL) AS pushed,
                            COUNT(*) FILTER (WHERE dms_verified) AS verified
                     FROM documents GROUP BY batch_id, record_id
                 ),
                 per_record AS (
                     SELECT r.order_id,
                            COALESCE(s.documents, 0) > 0 AS ocr_done,
                            COALESCE(s.documents, 0) > 0 AND s.efiles = s.documents AS efile_done,
                            COALESCE(s.documents, 0) > 0 AND s.pushed = s.documents AS pushed,
                            COALESCE(s.documents, 0) > 0 AND s.verified = s.documents AS verified
                     FROM order_records r
                     JOIN delivered_records d ON d.record_id = r.record_id
                     LEFT JOIN per_document s ON s.batch_id = d.batch_id AND s.record_id = r.record_id
                 )
                 SELECT o.order_id, o.series,
                        (SELECT COUNT(*) FROM order_records r WHERE r.order_id = o.order_id),
                        (SELECT COUNT(*) FROM batches b WHERE b.order_id = o.order_id),
                        (SELECT COUNT(*) FROM batches b WHERE b.order_id = o.order_id AND b.state = 'rejected'),
                        COUNT(p.order_id),
                        COUNT(*) FILTER (WHERE p.ocr_done),
                        COUNT(*) FILTER (WHERE p.efile_done),
                        COUNT(*) FILTER (WHERE p.pushed),
                        COUNT(*) FILTER (WHERE p.verified)
                 FROM orders o LEFT JOIN per_record p ON p.order_id = o.order_id
                 GROUP BY o.order_id ORDER BY o.series COLLATE \"C\", o.order_id COLLATE \"C\"",
                &[],
            )
            .context("select order stage progress")?;
        let count =
            |row: &Row, index: usize, what: &str| -> Result<u64, StoreError> { narrow(get(row, index, what)?, what) };
        rows.iter()
            .map(|row| {
                Ok(OrderStageProgress {
                    order_id: get(row, 0, "order id")?,
                    series: get(row, 1, "series")?,
                    records: count(row, 2, "records")?,
                    batches: count(row, 3, "batches")?,
                    rejected_batches: count(row, 4, "rejected batches")?,
                    accepted: count(row, 5, "accepted")?,
                    ocr_done: count(row, 6, "ocr done")?,
                    efile_done: count(row, 7, "efile done")?,
                    pushed: count(row, 8, "pushed")?,
                    verified: count(row, 9, "verified")?,
                })
            })
            .collect()
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let mut client = self.client()?;
        let mut count_by = |sql: &str, what: &str| -> Result<Vec<(String, u64)>, StoreError> {
            let rows = client.query(sql, &[]).context(&format!("count {what}"))?;
            let mut counts = rows
                .iter()
                .map(|row| Ok((get(row, 0, what)?, narrow(get(row, 1, what)?, what)?)))
                .collect::<Result<Vec<(String, u64)>, StoreError>>()?;
            // Byte order, as SQLite sorts, whatever the database's collation.
            counts.sort();
            Ok(counts)
        };
        let batches_by_state = count_by("SELECT state, COUNT(*) FROM batches GROUP BY state", "batches by state")?;
        let pages_by_status =
            count_by("SELECT COALESCE(status, 'pending') AS key, COUNT(*) FROM pages GROUP BY key", "pages by status")?;
        let documents_by_state =
            count_by("SELECT state, COUNT(*) FROM documents GROUP BY state", "documents by state")?;
        let events_by_kind = count_by("SELECT kind, COUNT(*) FROM events GROUP BY kind", "events by kind")?;
        // A stage run starts with its `claimed` event ("push_running
        // (attempt 1)") and ends with the batch's next event.
        let rows = client
            .query(
                "SELECT split_part(detail, '_running', 1) AS stage, COUNT(*), SUM(next_at - at_ms)::bigint
                 FROM (SELECT kind, detail, at_ms,
                              LEAD(at_ms) OVER (PARTITION BY batch_id ORDER BY seq) AS next_at
                       FROM events) e
                 WHERE kind = 'claimed' AND next_at IS NOT NULL AND strpos(detail, '_running') > 0
                 GROUP BY stage",
                &[],
            )
            .context("count stage runs")?;
        let mut stage_runs = rows
            .iter()
            .map(|row| {
                let total: i64 = get(row, 2, "stage run time")?;
                Ok((get(row, 0, "stage")?, narrow(get(row, 1, "stage runs")?, "stage runs")?, total.max(0) as u64))
            })
            .collect::<Result<Vec<(String, u64, u64)>, StoreError>>()?;
        stage_runs.sort();
        let dms_failures: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM events WHERE kind = 'failed'
                   AND (detail LIKE '%now push\\_%' ESCAPE '\\' OR detail LIKE '%now verify\\_%' ESCAPE '\\')",
                &[],
            )
            .context("count dms failures")
            .and_then(|row| get(&row, 0, "dms failures"))?;
        Ok(StoreCounts {
            batches_by_state,
            pages_by_status,
            documents_by_state,
            events_by_kind,
            stage_runs,
            dms_failures: narrow(dms_failures, "dms failures")?,
        })
    }

    fn daily_throughput(&self, since_ms: i64) -> Result<Vec<DailyThroughput>, StoreError> {
        let mut client = self.client()?;
        // A batch counts on the day of its last verification (a retried push
        // verifies it again).
        let rows = client
            .query(
                "SELECT to_char(to_timestamp(v.at_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*),
                        COALESCE(SUM((SELECT COUNT(*) FROM batch_records r WHERE r.batch_id = v.batch_id)), 0)::bigint,
                        COALESCE(SUM((SELECT SUM(r.pages) FROM batch_records r WHERE r.batch_id = v.batch_id)),
                                 0)::bigint
                 FROM (SELECT batch_id, MAX(at_ms) AS at_ms FROM events WHERE kind = 'verified' GROUP BY batch_id) v
                 JOIN batches b ON b.batch_id = v.batch_id
                 WHERE v.at_ms >= $1 AND b.state = 'done'
                 GROUP BY day ORDER BY day",
                &[&since_ms],
            )
            .context("select daily throughput")?;
        rows.iter()
            .map(|row| {
                Ok(DailyThroughput {
                    day: get(row, 0, "day")?,
                    batches: narrow(get(row, 1, "batches")?, "batches")?,
                    records: narrow(get(row, 2, "records")?, "records")?,
                    pages: narrow(get(row, 3, "pages")?, "pages")?,
                })
            })
            .collect()
    }

    // --- Work leases (migration 2).

    fn claim_next(&self, request: &ClaimRequest<'_>, now_ms: i64) -> Result<Option<BatchRow>, StoreError> {
        let Some(claimable) = lease::claimable_condition(request.stages, "$1") else { return Ok(None) };
        let mut client = self.client()?;
        let mut transaction = client.transaction().context("begin claim")?;
        // SKIP LOCKED: a batch another worker is claiming right now is passed
        // over, not waited for. The order rule for validations still holds:
        // an earlier batch being claimed is still `received` to this look.
        let select = format!(
            "SELECT {BATCH_COLUMNS} FROM batches b WHERE {claimable}
             ORDER BY b.seq LIMIT 1 FOR UPDATE OF b SKIP LOCKED"
        );
        let row = transaction.query_opt(&select, &[&now_ms]).context("select the next batch to claim")?;
        let Some(row) = row.as_ref().map(batch_row).transpose()? else { return Ok(None) };
        let (running, event) = (request.claim)(&row)
            .map_err(|reason| StoreError::ClaimRefused { batch_id: row.batch_id.clone(), reason })?;
        lease::check_claim(&row, &running, &event)?;
        let lease = Lease { worker_id: request.worker_id.to_owned(), expires_ms: request.lease_until_ms };
        set_state(&mut transaction, &row.batch_id, &row.batch, &running, None, Some(&lease), now_ms)?;
        insert_event(&mut transaction, &event, now_ms)?;
        let claimed = select_batch(&mut transaction, &row.batch_id)?
            .ok_or_else(|| StoreError::Database(format!("batch {} vanished while claimed", row.batch_id)))?;
        transaction.commit().context(&format!("commit claim of batch {}", row.batch_id))?;
        Ok(Some(claimed))
    }

    fn renew_lease(&self, batch_id: &str, worker_id: &str, until_ms: i64) -> Result<bool, StoreError> {
        let mut client = self.client()?;
        let renewed = client
            .execute(
                &format!(
                    "UPDATE batches SET lease_expires_ms = $3
                     WHERE batch_id = $1 AND lease_owner = $2 AND state IN ({})",
                    lease::running_states()
                ),
                &[&batch_id, &worker_id, &until_ms],
            )
            .context(&format!("renew the lease of batch {batch_id}"))?;
        Ok(renewed == 1)
    }

    fn expired_leases(&self, now_ms: i64) -> Result<Vec<BatchRow>, StoreError> {
        let mut client = self.client()?;
        let select = format!(
            "SELECT {BATCH_COLUMNS} FROM batches b
             WHERE b.state IN ({}) AND (b.lease_owner IS NULL OR b.lease_expires_ms IS NULL OR b.lease_expires_ms < $1)
             ORDER BY b.seq",
            lease::running_states()
        );
        let rows = client.query(&select, &[&now_ms]).context("select expired leases")?;
        rows.iter().map(batch_row).collect()
    }

    fn is_shared(&self) -> bool {
        true
    }
}

const USER_COLUMNS: &str = "user_id, name, role, token_hash, created_at_ms";

fn user_row(row: &Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        user_id: get(row, 0, "user id")?,
        name: get(row, 1, "user name")?,
        role: get(row, 2, "user role")?,
        token_hash: get(row, 3, "user token hash")?,
        created_at_ms: get(row, 4, "user created at")?,
    })
}

const UPLOAD_COLUMNS: &str = "batch_id, user_id, source_name, bytes, sha256, uploaded_at_ms";

fn upload_row(row: &Row) -> Result<UploadRow, StoreError> {
    Ok(UploadRow {
        batch_id: get(row, 0, "upload batch id")?,
        user_id: get(row, 1, "upload user id")?,
        source_name: get(row, 2, "upload source name")?,
        bytes: narrow(get(row, 3, "upload bytes")?, "upload bytes")?,
        sha256: get(row, 4, "upload sha256")?,
        uploaded_at_ms: get(row, 5, "uploaded at")?,
    })
}

/// Warnings the OCR stage owns.
fn is_ocr_warning(code: scan2dms_model::WarningCode) -> bool {
    use scan2dms_model::WarningCode;
    matches!(code, WarningCode::BlankPage | WarningCode::RotatedPage | WarningCode::LowOcrConfidence)
}

const DOCUMENT_COLUMNS: &str = "d.batch_id, d.record_id, d.document_no, d.state, d.page_nos, d.efile_path, \
     d.efile_sha256, d.efile_bytes, d.dms_object_id, d.dms_verified, d.doc_type, d.doc_type_confidence, \
     d.needs_review, d.fields_json, d.review_doc_type, d.reviewed_by, d.reviewed_at_ms";

fn document_row(row: &Row) -> Result<DocumentRecord, StoreError> {
    let batch_id: String = get(row, 0, "document batch id")?;
    let record_id: String = get(row, 1, "document record id")?;
    let document_no: u32 = narrow(get(row, 2, "document number")?, "document number")?;
    let what = |column: &str| format!("document {document_no} of {record_id}: {column}");
    let page_nos: String = get(row, 4, &what("page numbers"))?;
    let page_nos =
        serde_json::from_str(&page_nos).map_err(|error| corrupt(format!("{}: {error}", what("page numbers"))))?;
    let efile = match get::<Option<String>>(row, 5, &what("e-file"))? {
        None => None,
        Some(path) => Some(EfileRecord {
            path,
            sha256: get::<Option<String>>(row, 6, &what("e-file sha256"))?.unwrap_or_default(),
            bytes: narrow(get::<Option<i64>>(row, 7, &what("e-file bytes"))?.unwrap_or(0), &what("e-file bytes"))?,
        }),
    };
    let dms = match get::<Option<String>>(row, 8, &what("dms object"))? {
        None => None,
        Some(object_id) => Some(DmsRecord { object_id, verified: get(row, 9, &what("dms verified"))? }),
    };
    let classification = match get::<Option<String>>(row, 10, &what("type"))? {
        None => None,
        Some(doc_type) => {
            let fields = match get::<Option<String>>(row, 13, &what("fields"))? {
                Some(json) => {
                    serde_json::from_str(&json).map_err(|error| corrupt(format!("{}: {error}", what("fields"))))?
                }
                None => std::collections::BTreeMap::new(),
            };
            Some(Classification {
                doc_type,
                confidence: get::<Option<f32>>(row, 11, &what("type confidence"))?.unwrap_or(0.0),
                needs_review: get(row, 12, &what("needs review"))?,
                fields,
            })
        }
    };
    let review = match get::<Option<String>>(row, 14, &what("review"))? {
        None => None,
        Some(doc_type) => Some(ReviewDecision {
            doc_type,
            decided_by: get::<Option<String>>(row, 15, &what("reviewed by"))?.unwrap_or_default(),
            decided_at_ms: get::<Option<i64>>(row, 16, &what("reviewed at"))?.unwrap_or(0),
        }),
    };
    Ok(DocumentRecord {
        state: get(row, 3, &what("state"))?,
        batch_id,
        record_id,
        document_no,
        page_nos,
        efile,
        dms,
        classification,
        review,
    })
}
