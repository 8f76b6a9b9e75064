//! The generated gRPC types and services of `proto/coordinator.proto`, and
//! their conversions to and from the store's types.

#[allow(clippy::all, missing_docs)]
mod generated {
    tonic::include_proto!("shoal.coordinator.v1");
}

pub use generated::*;

use shoal_storage::{CommittedTxn, Write as StoreWrite};

impl From<&StoreWrite> for Write {
    fn from(w: &StoreWrite) -> Self {
        Write {
            key: w.key.to_vec(),
            value: w.value.as_ref().map(|v| v.to_vec()),
        }
    }
}

impl From<Write> for StoreWrite {
    fn from(w: Write) -> Self {
        StoreWrite {
            key: w.key.into(),
            value: w.value.map(Into::into),
        }
    }
}

impl From<&CommittedTxn> for Txn {
    fn from(t: &CommittedTxn) -> Self {
        Txn {
            lsn: t.lsn,
            writes: t.writes.iter().map(Into::into).collect(),
        }
    }
}

impl From<Txn> for CommittedTxn {
    fn from(t: Txn) -> Self {
        CommittedTxn {
            lsn: t.lsn,
            writes: t.writes.into_iter().map(Into::into).collect(),
        }
    }
}
