//! A transaction: reads at a snapshot, its own writes in a write set,
//! savepoints as copies of the write set, locks through the coordinator,
//! and one `Commit` for the write set.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use shoal_coordinator::client::CoordinatorClient;
use shoal_coordinator::locks::TxnId;
use shoal_coordinator::proto as pb;
use shoal_storage::iter::SnapshotIter;
use shoal_storage::{Direction, Lsn, Write};

use crate::database::Database;
use crate::error::{Error, ErrorKind, Result};

/// Isolation levels, as PostgreSQL runs them (SERIALIZABLE runs as
/// REPEATABLE READ, as PostgreSQL itself did before 9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Each statement reads at a fresh snapshot.
    ReadCommitted,
    /// The whole transaction reads at its first statement's snapshot.
    RepeatableRead,
}

/// Lock modes: table locks and PostgreSQL's four row lock strengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    TableIntentShared,
    TableIntentExclusive,
    TableShared,
    TableSharedIntentExclusive,
    TableExclusive,
    /// FOR KEY SHARE (foreign key checks).
    RowKeyShare,
    /// FOR SHARE.
    RowShare,
    /// FOR NO KEY UPDATE (UPDATE that keeps the key).
    RowNoKeyExclusive,
    /// FOR UPDATE, DELETE, and inserts of a key.
    RowExclusive,
}

impl LockMode {
    fn pb(self) -> pb::LockMode {
        match self {
            LockMode::TableIntentShared => pb::LockMode::TableIs,
            LockMode::TableIntentExclusive => pb::LockMode::TableIx,
            LockMode::TableShared => pb::LockMode::TableS,
            LockMode::TableSharedIntentExclusive => pb::LockMode::TableSix,
            LockMode::TableExclusive => pb::LockMode::TableX,
            LockMode::RowKeyShare => pb::LockMode::RowKeyShare,
            LockMode::RowShare => pb::LockMode::RowShare,
            LockMode::RowNoKeyExclusive => pb::LockMode::RowNoKeyExclusive,
            LockMode::RowExclusive => pb::LockMode::RowExclusive,
        }
    }
}

/// What to do when a lock is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitPolicy {
    Wait,
    /// Fail at once (`NOWAIT`, 55P03).
    NoWait,
    /// Leave the row out (`SKIP LOCKED`).
    SkipLocked,
}

/// The stable hash that names a row lock: FNV-1a over the row's key, the
/// same on every frontend and every build.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The newest visible version of a row, read past the snapshot (for
/// re-checking a row after locking it).
#[derive(Clone, Debug, PartialEq)]
pub struct Latest {
    /// The row's value; `None` if it does not exist (or was deleted).
    pub value: Option<Bytes>,
    /// The LSN that wrote it (0 when it is this transaction's own write or
    /// never existed).
    pub lsn: Lsn,
}

/// A savepoint: the write set as it was.
#[derive(Clone, Debug)]
pub struct Savepoint {
    writes: BTreeMap<Bytes, Option<Bytes>>,
}

/// An open transaction. Dropping it without commit or rollback aborts it.
pub struct Transaction {
    db: Arc<Database>,
    /// The membership this transaction began under: its locks and commit
    /// go there, and fail if that membership was lost meanwhile.
    client: Arc<CoordinatorClient>,
    id: TxnId,
    isolation: Isolation,
    snapshot: Lsn,
    /// Whether a statement has run (REPEATABLE READ fixes its snapshot then).
    started: bool,
    writes: BTreeMap<Bytes, Option<Bytes>>,
    /// Whether the coordinator may hold locks for this transaction.
    locked: bool,
    next_request: u64,
    finished: bool,
}

impl Transaction {
    pub(crate) async fn begin(db: Arc<Database>, txn: u64, isolation: Isolation) -> Result<Self> {
        let client = db.client();
        let snapshot = client.snapshot().await?;
        db.snapshots.register(snapshot);
        Ok(Transaction {
            client,
            id: TxnId {
                frontend: db.frontend_id,
                txn,
            },
            db,
            isolation,
            snapshot,
            started: false,
            writes: BTreeMap::new(),
            locked: false,
            next_request: 1,
            finished: false,
        })
    }

    pub fn id(&self) -> TxnId {
        self.id
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// Changes the isolation level; only before the first statement.
    pub fn set_isolation(&mut self, isolation: Isolation) -> Result<()> {
        if self.started {
            return Err(Error::new(
                ErrorKind::Internal,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        self.isolation = isolation;
        Ok(())
    }

    /// The LSN this transaction reads at.
    pub fn snapshot(&self) -> Lsn {
        self.snapshot
    }

    /// Whether this transaction has written anything.
    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }

    /// Called before each statement: READ COMMITTED takes a fresh snapshot;
    /// REPEATABLE READ takes one for its first statement only.
    pub async fn begin_statement(&mut self) -> Result<()> {
        if self.isolation == Isolation::ReadCommitted || !self.started {
            self.set_snapshot(self.client.snapshot().await?);
        }
        self.started = true;
        Ok(())
    }

    /// Moves the snapshot to everything visible now, whatever the
    /// isolation: for DDL that, holding the table's exclusive lock, must
    /// read every committed row (an index build, a table rewrite), as
    /// PostgreSQL's do. Rows committed while it waited for the lock are
    /// past the statement's snapshot.
    pub async fn advance_snapshot(&mut self) -> Result<()> {
        let latest = self.client.snapshot().await?;
        self.set_snapshot(latest.max(self.snapshot));
        self.started = true;
        Ok(())
    }

    fn set_snapshot(&mut self, lsn: Lsn) {
        if lsn != self.snapshot {
            self.db.snapshots.register(lsn);
            self.db.snapshots.release(self.snapshot);
            self.snapshot = lsn;
        }
    }

    /// `key`'s value as this transaction sees it.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        if let Some(w) = self.writes.get(key) {
            return Ok(w.clone());
        }
        Ok(self.db.store.get(key, self.snapshot).await?)
    }

    /// The newest visible version of `key`, past the snapshot: what a
    /// writer re-checks after locking the row (PostgreSQL's EvalPlanQual).
    /// Own writes come first. Under REPEATABLE READ, a version newer than
    /// the snapshot is a serialization failure, as in PostgreSQL.
    pub async fn get_latest(&self, key: &[u8]) -> Result<Latest> {
        if let Some(w) = self.writes.get(key) {
            return Ok(Latest {
                value: w.clone(),
                lsn: 0,
            });
        }
        let now = self.client.snapshot().await?;
        let entry = self
            .db
            .store
            .snapshot(now.max(self.snapshot))
            .get_entry(key)
            .await?;
        let latest = match entry {
            Some(e) => Latest {
                value: e.value,
                lsn: e.lsn,
            },
            None => Latest {
                value: None,
                lsn: 0,
            },
        };
        if self.isolation == Isolation::RepeatableRead && latest.lsn > self.snapshot {
            return Err(Error::new(
                ErrorKind::Serialization,
                "could not serialize access due to concurrent update",
            ));
        }
        Ok(latest)
    }

    /// Rows in `range` as this transaction sees them, in `direction`.
    pub async fn scan(
        &self,
        range: (Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> Result<RowIter> {
        let mut own: Vec<(Bytes, Option<Bytes>)> = if empty_range(&range) {
            Vec::new()
        } else {
            self.writes
                .range::<Bytes, _>((range.0.as_ref(), range.1.as_ref()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        if direction == Direction::Forward {
            own.reverse(); // popped from the back
        }
        let stored = self.db.store.scan(range, self.snapshot, direction).await?;
        Ok(RowIter {
            own,
            stored,
            stored_head: None,
            stored_done: false,
            direction,
        })
    }

    /// Writes `value` under `key` (visible to this transaction at once).
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.writes.insert(key.into(), Some(value.into()));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: impl Into<Bytes>) {
        self.writes.insert(key.into(), None);
    }

    /// Takes locks, in one coordinator round trip. `locks` are `(table id,
    /// row key or None for the table itself, mode)`. Returns the indexes
    /// skipped under [`WaitPolicy::SkipLocked`].
    pub async fn lock(
        &mut self,
        locks: &[(u64, Option<&[u8]>, LockMode)],
        policy: WaitPolicy,
        timeout: Option<Duration>,
    ) -> Result<Vec<usize>> {
        if locks.is_empty() {
            return Ok(Vec::new());
        }
        let specs = locks
            .iter()
            .map(|(table, key, mode)| pb::LockSpec {
                table_id: *table,
                key_hash: key.map(key_hash),
                mode: mode.pb() as i32,
            })
            .collect();
        let policy = match policy {
            WaitPolicy::Wait => pb::WaitPolicy::Wait,
            WaitPolicy::NoWait => pb::WaitPolicy::NoWait,
            WaitPolicy::SkipLocked => pb::WaitPolicy::SkipLocked,
        };
        let request = self.next_request;
        self.next_request += 1;
        self.locked = true;
        let resp = self
            .client
            .lock(self.id, request, specs, policy, timeout)
            .await?;
        Ok(resp.skipped.into_iter().map(|i| i as usize).collect())
    }

    /// Waits until everything visible in the cluster now is applied here
    /// (the snapshot rule), e.g. the commit of a lock's previous holder.
    pub async fn sync_latest(&self) -> Result<Lsn> {
        Ok(self.client.snapshot().await?)
    }

    /// Whether this transaction has deleted `key` (its buffered write is
    /// a delete): DDL asks, to let a name it dropped be used again.
    pub fn deleted(&self, key: &[u8]) -> bool {
        matches!(self.writes.get(key), Some(None))
    }

    /// Remembers the write set, for ROLLBACK TO SAVEPOINT.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            writes: self.writes.clone(),
        }
    }

    /// Undoes every write since `savepoint` (its locks stay held).
    pub fn rollback_to(&mut self, savepoint: &Savepoint) {
        self.writes = savepoint.writes.clone();
    }

    /// The writes made since `savepoint`: each key whose buffered write
    /// differs, with its write now (`None`: deleted). With
    /// [`rollback_to`](Self::rollback_to) and
    /// [`apply_writes`](Self::apply_writes), a statement can read the data
    /// as it was before some of its own writes (PostgreSQL's data-modifying
    /// CTEs are not seen by the query around them).
    pub fn writes_since(&self, savepoint: &Savepoint) -> Vec<(Bytes, Option<Bytes>)> {
        self.writes
            .iter()
            .filter(|(k, v)| savepoint.writes.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Puts back writes taken with [`writes_since`](Self::writes_since).
    pub fn apply_writes(&mut self, writes: Vec<(Bytes, Option<Bytes>)>) {
        for (k, v) in writes {
            self.writes.insert(k, v);
        }
    }

    /// Commits: the write set becomes visible everywhere at the returned
    /// LSN. A transaction that wrote nothing just releases its locks.
    pub async fn commit(mut self) -> Result<Lsn> {
        self.finished = true;
        if self.writes.is_empty() {
            if self.locked {
                self.client.abort(self.id).await?;
            }
            return Ok(self.snapshot);
        }
        let writes = std::mem::take(&mut self.writes)
            .into_iter()
            .map(|(key, value)| Write { key, value })
            .collect();
        let lsn = self.client.commit(self.id, writes).await?;
        // The commit is visible everywhere; make sure it is applied here
        // too before the session's next statement (read your own writes).
        self.client.wait_visible(lsn).await?;
        Ok(lsn)
    }

    /// Discards the write set and releases the locks.
    pub async fn rollback(mut self) -> Result<()> {
        self.finished = true;
        if self.locked {
            self.client.abort(self.id).await?;
        }
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.db.snapshots.release(self.snapshot);
        if self.finished || !self.locked {
            return;
        }
        // Dropped mid-flight (the client went away): release its locks.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            let id = self.id;
            handle.spawn(async move {
                if let Err(e) = client.abort(id).await {
                    tracing::debug!(txn = %id, error = %e, "abort dropped transaction");
                }
            });
        }
    }
}

/// Whether `range` holds no key (BTreeMap::range panics on such ranges).
fn empty_range(range: &(Bound<Bytes>, Bound<Bytes>)) -> bool {
    match (&range.0, &range.1) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

/// Rows of a scan: the transaction's own writes merged over the snapshot.
pub struct RowIter {
    /// Own writes in range, the next one last.
    own: Vec<(Bytes, Option<Bytes>)>,
    stored: SnapshotIter,
    stored_head: Option<(Bytes, Bytes)>,
    stored_done: bool,
    direction: Direction,
}

impl RowIter {
    /// The next live row, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        loop {
            if self.stored_head.is_none() && !self.stored_done {
                self.stored_head = self.stored.next().await?;
                self.stored_done = self.stored_head.is_none();
            }
            let take_own = match (self.own.last(), &self.stored_head) {
                (None, None) => return Ok(None),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((ok, _)), Some((sk, _))) => {
                    if ok == sk {
                        self.stored_head = None; // shadowed by our write
                        true
                    } else {
                        (ok < sk) == (self.direction == Direction::Forward)
                    }
                }
            };
            if take_own {
                let (k, v) = self.own.pop().expect("own write present");
                match v {
                    Some(v) => return Ok(Some((k, v))),
                    None => continue, // our own delete
                }
            }
            return Ok(self.stored_head.take());
        }
    }

    /// Up to `limit` rows.
    pub async fn collect(mut self, limit: usize) -> Result<Vec<(Bytes, Bytes)>> {
        let mut rows = Vec::new();
        while rows.len() < limit {
            match self.next().await? {
                Some(r) => rows.push(r),
                None => break,
            }
        }
        Ok(rows)
    }
}
