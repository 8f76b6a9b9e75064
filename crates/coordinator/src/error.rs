//! Errors on the wire: every failure the coordinator answers is a gRPC
//! status whose `shoal-error` metadata names its kind, so clients (and,
//! later, the frontend's SQLSTATE mapping) act on the kind, not the text.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::locks::LockError;
use crate::proto as pb;

/// The metadata key carrying an [`ErrorKind`].
pub const ERROR_KIND_KEY: &str = "shoal-error";

/// What went wrong, as the client must act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was malformed or inconsistent.
    InvalidArgument,
    /// The caller is not (or no longer) a live member: join again.
    NotMember,
    /// The caller's state is older than the coordinator's memory: reload
    /// from the store, then subscribe again.
    Reload,
    /// A deadlock victim (SQLSTATE 40P01).
    Deadlock,
    /// `lock_timeout` expired (SQLSTATE 55P03).
    LockTimeout,
    /// `NOWAIT` found the lock taken (SQLSTATE 55P03).
    LockNotAvailable,
    /// The transaction was aborted while it waited (eviction, abort).
    Aborted,
    /// The commit is not durable (its WAL write failed); it did not happen.
    CommitFailed,
    /// The coordinator cannot serve now (deposed, stopping); retry elsewhere.
    Unavailable,
    /// A commit got no answer: the frontend's lease ran out or the
    /// connection broke while it was in flight, so it may or may not have
    /// committed (SQLSTATE 08007). Raised by the client, never sent.
    OutcomeUnknown,
}

impl ErrorKind {
    fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid-argument",
            ErrorKind::NotMember => "not-member",
            ErrorKind::Reload => "reload",
            ErrorKind::Deadlock => "deadlock",
            ErrorKind::LockTimeout => "lock-timeout",
            ErrorKind::LockNotAvailable => "lock-not-available",
            ErrorKind::Aborted => "aborted",
            ErrorKind::CommitFailed => "commit-failed",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::OutcomeUnknown => "outcome-unknown",
        }
    }

    fn code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotMember | ErrorKind::Reload => Code::FailedPrecondition,
            ErrorKind::Deadlock | ErrorKind::Aborted | ErrorKind::CommitFailed => Code::Aborted,
            ErrorKind::LockTimeout => Code::DeadlineExceeded,
            ErrorKind::LockNotAvailable => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::OutcomeUnknown => Code::Unknown,
        }
    }

    /// The kind a status carries, if it came from a coordinator.
    pub fn of(status: &Status) -> Option<ErrorKind> {
        let name = status.metadata().get(ERROR_KIND_KEY)?.to_str().ok()?;
        ErrorKind::named(name)
    }

    /// The kind whose [`ErrorKind::name`] is `name`.
    pub fn named(name: &str) -> Option<ErrorKind> {
        [
            ErrorKind::InvalidArgument,
            ErrorKind::NotMember,
            ErrorKind::Reload,
            ErrorKind::Deadlock,
            ErrorKind::LockTimeout,
            ErrorKind::LockNotAvailable,
            ErrorKind::Aborted,
            ErrorKind::CommitFailed,
            ErrorKind::Unavailable,
            ErrorKind::OutcomeUnknown,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// A status of `kind` with `message`.
pub fn status(kind: ErrorKind, message: impl Into<String>) -> Status {
    let mut s = Status::new(kind.code(), message);
    s.metadata_mut()
        .insert(ERROR_KIND_KEY, MetadataValue::from_static(kind.name()));
    s
}

/// A status as a [`pb::PipeError`], for a reply on the `Pipe` stream.
pub fn pipe_error(s: &Status) -> pb::PipeError {
    pb::PipeError {
        code: s.code() as i32,
        message: s.message().to_string(),
        kind: ErrorKind::of(s)
            .map(ErrorKind::name)
            .unwrap_or_default()
            .to_string(),
    }
}

/// The status a [`pb::PipeError`] stands for: the one the unary RPC would
/// have failed with.
pub fn pipe_status(e: pb::PipeError) -> Status {
    match ErrorKind::named(&e.kind) {
        Some(kind) => status(kind, e.message),
        None => Status::new(Code::from_i32(e.code), e.message),
    }
}

/// The status for a failed lock request.
pub fn lock_status(e: &LockError) -> Status {
    let kind = match e {
        LockError::Deadlock { .. } => ErrorKind::Deadlock,
        LockError::Timeout { .. } => ErrorKind::LockTimeout,
        LockError::NotAvailable { .. } => ErrorKind::LockNotAvailable,
        LockError::OwnerAborted | LockError::OwnerEvicted { .. } => ErrorKind::Aborted,
        LockError::RequestPending { .. } => ErrorKind::InvalidArgument,
    };
    status(kind, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_status() {
        for kind in [
            ErrorKind::Deadlock,
            ErrorKind::Reload,
            ErrorKind::CommitFailed,
        ] {
            assert_eq!(ErrorKind::of(&status(kind, "x")), Some(kind));
        }
        assert_eq!(ErrorKind::of(&Status::internal("no kind")), None);
    }
}
