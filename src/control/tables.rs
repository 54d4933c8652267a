//! The control plane's SQLite tables, as its Durable Object (`object.rs`) keeps them:
//!
//! - `state (k, v)`: `registry` (the purge registry as JSON), `seq` (its sequence number) and
//!   `imported` (when an older deployment's KV registry and log were taken over);
//! - `purges (seq, at, entry)`: the purge log, one JSON `LogEntry` per purge;
//! - `stats (kind, span, start, body)`: the stats sketches (`stats_store`);
//! - `why (id, at, body)`: the last reason each key was not stored (`why.rs`), by key id
//!   (never a URL), newest per key, `why::KEPT` keys and a day at most.
//!
//! The schema is the one the object had when it was a JavaScript class
//! (`src/control_object.mjs`), statement for statement: an object created by an older
//! deployment is read as it is, with its purges, log and stats, and needs no migration
//! (tests/integration/control-upgrade.test.mjs).

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::durable::Storage;
use worker::{SqlStorage, SqlStorageValue};

use edgecache_core::control::rules::{LogEntry, Page};
use edgecache_core::control::stats_store::{StatsStorage, StatsStorageError};

use crate::runtime::describe;

/// What SQLite (or the runtime around it) refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "control plane storage: {}", self.0)
    }
}

impl From<worker::Error> for StorageError {
    fn from(e: worker::Error) -> Self {
        StorageError(e.to_string())
    }
}

impl From<StorageError> for StatsStorageError {
    fn from(e: StorageError) -> Self {
        StatsStorageError(e.0)
    }
}

const SCHEMA: [&str; 7] = [
    "CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS purges (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, entry TEXT NOT NULL)",
    // Stats as bounded sketches (stats_store.rs); the per-name rows kept before are dropped.
    "CREATE TABLE IF NOT EXISTS stats (kind TEXT NOT NULL, span INTEGER NOT NULL, start INTEGER NOT NULL,
         body TEXT NOT NULL, PRIMARY KEY (kind, span, start))",
    "CREATE TABLE IF NOT EXISTS why (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS why_at ON why (at)",
    "DROP TABLE IF EXISTS counts",
    "DROP TABLE IF EXISTS reasons",
];

#[wasm_bindgen]
extern "C" {
    /// The runtime's `DurableObjectStorage`, for the one method workers-rs 0.8.7 does not
    /// bind: `transactionSync` (its `Storage` has the asynchronous, key-value `transaction`
    /// only, durable.rs line 635; its `SqlStorage` has `exec`, `exec_raw` and `database_size`,
    /// sql.rs lines 187 to 234).
    #[wasm_bindgen(extends = js_sys::Object)]
    type SyncTransactions;

    /// Runs `body` in one SQLite transaction: committed when it returns, rolled back when it
    /// throws (and the exception rethrown).
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &SyncTransactions,
        body: &mut dyn FnMut() -> Result<(), JsValue>,
    ) -> Result<(), JsValue>;
}

/// The object's tables.
pub struct Tables {
    sql: SqlStorage,
    storage: Storage,
}

impl Tables {
    /// The tables of `storage`, created when they are not there yet.
    pub fn open(storage: Storage) -> Result<Tables, StorageError> {
        let tables = Tables {
            sql: storage.sql(),
            storage,
        };
        for statement in SCHEMA {
            tables.exec(statement, vec![])?;
        }
        Ok(tables)
    }

    fn exec(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<Vec<SqlStorageValue>>, StorageError> {
        self.sql
            .exec(query, bindings)?
            .raw()
            .collect::<Result<Vec<_>, _>>()
            .map_err(StorageError::from)
    }

    /// Runs `body` as one transaction: everything it writes is committed together when it
    /// returns `Ok`, and nothing of it when it returns `Err` (or traps).
    ///
    /// Through the runtime's `transactionSync` (SQLite-backed Durable Object Storage,
    /// https://developers.cloudflare.com/durable-objects/api/storage-api/), which workers-rs
    /// does not bind, and not in SQL: the object's SQL refuses `BEGIN`, `SAVEPOINT` and
    /// `COMMIT`, answering (workerd, as `make test` runs it) "To execute a transaction, please
    /// use the state.storage.transaction() or state.storage.transactionSync() APIs instead
    /// [...]. The JavaScript API is safer because it will automatically roll back on
    /// exceptions, and because it interacts correctly with Durable Objects' automatic atomic
    /// write coalescing." Writes with no `await` between them are coalesced into one atomic
    /// write, but only `transactionSync` also rolls back what `body` wrote before its error.
    pub fn transaction<T, E: From<StorageError>>(
        &self,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut body = Some(body);
        let mut outcome: Option<Result<T, E>> = None;
        let thrown = {
            let mut run = || {
                let result = body.take().map(|body| body());
                let failed = !matches!(result, Some(Ok(_)));
                outcome = result;
                if failed {
                    Err(JsValue::from_str("rolled back"))
                } else {
                    Ok(())
                }
            };
            self.storage
                .as_raw()
                .unchecked_ref::<SyncTransactions>()
                .transaction_sync(&mut run)
        };
        match (outcome, thrown) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(StorageError(describe(&e)).into()),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StorageError("the transaction did not run".into()).into()),
        }
    }

    /// `state.v` of `key`.
    pub fn state(&self, key: &str) -> Result<Option<String>, StorageError> {
        let rows = self.exec("SELECT v FROM state WHERE k = ?", vec![key.into()])?;
        Ok(rows.into_iter().next().and_then(|row| text(row.first())))
    }

    pub fn set_state(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            vec![key.into(), value.into()],
        )
        .map(drop)
    }

    /// Adds `entry` to the purge log, as `json` (its JSON text).
    pub fn append(&self, entry: &LogEntry, json: &str) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO purges (seq, at, entry) VALUES (?, ?, ?)",
            vec![
                SqlStorageValue::Float(entry.seq as f64),
                SqlStorageValue::Float(entry.at as f64),
                json.into(),
            ],
        )
        .map(drop)
    }

    /// Deletes the log entries numbered up to `seq`.
    pub fn prune(&self, seq: u64) -> Result<(), StorageError> {
        self.exec(
            "DELETE FROM purges WHERE seq <= ?",
            vec![SqlStorageValue::Float(seq as f64)],
        )
        .map(drop)
    }

    /// One page of the purge log, newest first, as stored (JSON text).
    pub fn page(&self, page: Page) -> Result<Vec<String>, StorageError> {
        let rows = self.exec(
            "SELECT entry FROM purges WHERE seq < ? ORDER BY seq DESC LIMIT ?",
            vec![
                SqlStorageValue::Float(page.before as f64),
                SqlStorageValue::Float(page.limit as f64),
            ],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|row| text(row.first()))
            .collect())
    }

    /// The stats table as `stats_store` reads and writes it.
    pub fn stats(&self) -> StatsTable<'_> {
        StatsTable(self)
    }
}

fn text(value: Option<&SqlStorageValue>) -> Option<String> {
    match value? {
        SqlStorageValue::String(text) => Some(text.clone()),
        _ => None,
    }
}

fn number(value: Option<&SqlStorageValue>) -> Option<i64> {
    match value? {
        SqlStorageValue::Integer(n) => Some(*n),
        SqlStorageValue::Float(n) => Some(*n as i64),
        _ => None,
    }
}

/// The `stats` table as `stats_store::StatsStorage`.
pub struct StatsTable<'a>(&'a Tables);

fn range(kind: &str, span: i64, from: i64, to: i64) -> Vec<SqlStorageValue> {
    vec![
        kind.into(),
        SqlStorageValue::Float(span as f64),
        SqlStorageValue::Float(from as f64),
        SqlStorageValue::Float(to as f64),
    ]
}

impl StatsStorage for StatsTable<'_> {
    fn scan(
        &mut self,
        kind: &str,
        span: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, String)>, StatsStorageError> {
        let rows = self.0.exec(
            "SELECT start, body FROM stats WHERE kind = ? AND span = ? AND start >= ? AND start < ? ORDER BY start",
            range(kind, span, from, to),
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|row| Some((number(row.first())?, text(row.get(1))?)))
            .collect())
    }

    fn put(
        &mut self,
        kind: &str,
        span: i64,
        start: i64,
        body: &str,
    ) -> Result<(), StatsStorageError> {
        self.0
            .exec(
                "INSERT INTO stats (kind, span, start, body) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (kind, span, start) DO UPDATE SET body = excluded.body",
                vec![
                    kind.into(),
                    SqlStorageValue::Float(span as f64),
                    SqlStorageValue::Float(start as f64),
                    body.into(),
                ],
            )
            .map(drop)
            .map_err(StatsStorageError::from)
    }

    fn delete(
        &mut self,
        kind: &str,
        span: i64,
        from: i64,
        to: i64,
    ) -> Result<(), StatsStorageError> {
        self.0
            .exec(
                "DELETE FROM stats WHERE kind = ? AND span = ? AND start >= ? AND start < ?",
                range(kind, span, from, to),
            )
            .map(drop)
            .map_err(StatsStorageError::from)
    }

    fn remember(&mut self, id: i64, at: i64, body: &str) -> Result<(), StatsStorageError> {
        self.0
            .exec(
                "INSERT INTO why (id, at, body) VALUES (?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET at = excluded.at, body = excluded.body \
                 WHERE excluded.at >= why.at",
                vec![
                    SqlStorageValue::Float(id as f64),
                    SqlStorageValue::Float(at as f64),
                    body.into(),
                ],
            )
            .map(drop)
            .map_err(StatsStorageError::from)
    }

    fn recall(&mut self, id: i64) -> Result<Option<String>, StatsStorageError> {
        let rows = self.0.exec(
            "SELECT body FROM why WHERE id = ?",
            vec![SqlStorageValue::Float(id as f64)],
        )?;
        Ok(rows.into_iter().next().and_then(|row| text(row.first())))
    }

    fn forget_notes(&mut self, keep: usize, before: i64) -> Result<(), StatsStorageError> {
        self.0.exec(
            "DELETE FROM why WHERE at < ?",
            vec![SqlStorageValue::Float(before as f64)],
        )?;
        let count = self.0.exec("SELECT COUNT(*) AS n FROM why", vec![])?;
        let count = count
            .into_iter()
            .next()
            .and_then(|row| number(row.first()))
            .unwrap_or(0);
        let over = count - keep as i64;
        if over > 0 {
            self.0.exec(
                "DELETE FROM why WHERE id IN (SELECT id FROM why ORDER BY at, id LIMIT ?)",
                vec![SqlStorageValue::Float(over as f64)],
            )?;
        }
        Ok(())
    }
}
