//! Transaction errors. The kind tells the caller what to do next: retry the
//! transaction (serialization, deadlock), report a lock wait that ended,
//! or give up on this frontend (unavailable).

use shoal_coordinator::client::ClientError;
use shoal_coordinator::error::ErrorKind as CoordKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A concurrent transaction changed what this one read or wants to
    /// write (SQLSTATE 40001): retry the transaction.
    Serialization,
    /// This transaction was chosen as a deadlock victim (40P01).
    Deadlock,
    /// `lock_timeout` expired (55P03).
    LockTimeout,
    /// `NOWAIT` found the lock taken (55P03).
    LockNotAvailable,
    /// The transaction was aborted from outside (eviction, failover).
    Aborted,
    /// The commit did not happen (its WAL write failed).
    CommitFailed,
    /// The commit got no answer; it may or may not have happened (08007).
    OutcomeUnknown,
    /// This frontend cannot serve now (no lease, coordinator gone).
    Unavailable,
    /// The store failed to read (I/O, corrupt data).
    Storage,
    /// The caller misused the API (a bug, not a user error).
    Internal,
}

/// A transaction error.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        let kind = match e.kind {
            Some(CoordKind::Deadlock) => ErrorKind::Deadlock,
            Some(CoordKind::LockTimeout) => ErrorKind::LockTimeout,
            Some(CoordKind::LockNotAvailable) => ErrorKind::LockNotAvailable,
            Some(CoordKind::Aborted) => ErrorKind::Aborted,
            Some(CoordKind::CommitFailed) => ErrorKind::CommitFailed,
            Some(CoordKind::OutcomeUnknown) => ErrorKind::OutcomeUnknown,
            Some(CoordKind::InvalidArgument) => ErrorKind::Internal,
            Some(CoordKind::NotMember | CoordKind::Reload | CoordKind::Unavailable) | None => {
                ErrorKind::Unavailable
            }
        };
        Error {
            kind,
            message: e.message,
        }
    }
}

impl From<shoal_storage::Error> for Error {
    fn from(e: shoal_storage::Error) -> Self {
        Error::new(ErrorKind::Storage, e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
