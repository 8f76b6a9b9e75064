//! PostgreSQL's binary send/receive formats for every type.

use crate::error::{Error, Result};
use crate::types::{DataType, Value};

/// Decodes PostgreSQL binary format for `ty` (typreceive).
pub fn decode(ty: &DataType, b: &[u8]) -> Result<Value> {
    let _ = (ty, b);
    Err(Error::unsupported("binary input not built yet"))
}

/// Encodes `v` in PostgreSQL binary format (typsend); `None` for NULL.
pub fn encode(v: &Value) -> Option<Vec<u8>> {
    let _ = v;
    None
}
