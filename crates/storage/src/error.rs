//! The storage crate's error type: the kind tells the caller what to do next.

/// A storage error. Every variant that concerns an object names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A create-if-absent write lost its race: somebody else wrote this WAL
    /// segment, SST or manifest version first. The writer is fenced and must
    /// stop writing (another leader is active, or it must reload state).
    #[error("fenced: {object} was already written by another writer")]
    Fenced { object: String },

    /// An object failed its checksum or could not be decoded. Never retried:
    /// the query fails rather than return a wrong answer.
    #[error("corrupt object {object}: {reason}")]
    Corrupt { object: String, reason: String },

    /// An object that state says must exist does not.
    #[error("missing object {object}")]
    Missing { object: String },

    /// The caller passed something invalid (bad URL, bad config, bad batch).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A local file or directory (the page cache's disk tier) could not be
    /// used. Surfaced only when the cache is opened, where it means the
    /// directory is misconfigured; later disk failures are logged and the
    /// cache goes on without the disk.
    #[error("{op} {}: {source}", path.display())]
    LocalIo {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The object store failed (after retries, where a retrying store is
    /// stacked below). Usually transient: the caller may retry later.
    #[error("object store: {op} {object}: {source}")]
    ObjectStore {
        op: &'static str,
        object: String,
        #[source]
        source: object_store::Error,
    },
}

/// What a caller should do about an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Stop writing: another writer owns this store now.
    Fenced,
    /// Data is damaged; retrying will not help.
    Corrupt,
    /// The request was wrong; fix it.
    InvalidInput,
    /// The object store misbehaved; retrying later may help.
    Retry,
}

impl Error {
    /// Classifies the error for the caller.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Fenced { .. } => ErrorKind::Fenced,
            Error::Corrupt { .. } | Error::Missing { .. } => ErrorKind::Corrupt,
            Error::InvalidInput(_) | Error::LocalIo { .. } => ErrorKind::InvalidInput,
            Error::ObjectStore { .. } => ErrorKind::Retry,
        }
    }

    /// A corruption error for `object`.
    pub fn corrupt(object: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.to_string(),
            reason: reason.into(),
        }
    }

    /// A local I/O error from operation `op` on `path`.
    pub fn local(
        op: &'static str,
        path: impl Into<std::path::PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::LocalIo {
            op,
            path: path.into(),
            source,
        }
    }

    /// Wraps an object-store error from operation `op` on `object`,
    /// turning a lost create-if-absent race into [`Error::Fenced`] and a
    /// missing object into [`Error::Missing`].
    pub fn store(
        op: &'static str,
        object: impl std::fmt::Display,
        source: object_store::Error,
    ) -> Self {
        match source {
            object_store::Error::AlreadyExists { .. } => Error::Fenced {
                object: object.to_string(),
            },
            object_store::Error::NotFound { .. } => Error::Missing {
                object: object.to_string(),
            },
            source => Error::ObjectStore {
                op,
                object: object.to_string(),
                source,
            },
        }
    }
}

/// The storage crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
