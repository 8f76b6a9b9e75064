//! The values that flow through the store: LSNs, writes and committed transactions.

use bytes::Bytes;

/// A log sequence number: one per committed transaction, strictly
/// increasing, assigned by the coordinator. It is also the MVCC version.
pub type Lsn = u64;

/// One write of a transaction: `Some(value)` stores a value, `None` stores
/// a tombstone that hides older versions of the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl Write {
    /// A write that stores `value` at `key`.
    pub fn put(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Write {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A write that deletes `key`.
    pub fn delete(key: impl Into<Bytes>) -> Self {
        Write {
            key: key.into(),
            value: None,
        }
    }
}

/// A committed transaction: all its writes become visible at `lsn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedTxn {
    pub lsn: Lsn,
    pub writes: Vec<Write>,
}

/// One version of one key as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Bytes,
    pub lsn: Lsn,
    pub value: Option<Bytes>,
}

/// The direction of a range scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
}
