//! Memcomparable key encoding: encoded keys sort, as bytes, in the order of
//! the values (NULL after everything, as in an ascending PostgreSQL index).

use crate::error::{Error, Result};
use crate::types::{DataType, Value};

/// Appends `v`'s key encoding to `out`.
pub fn encode_key(v: &Value, out: &mut Vec<u8>) {
    let _ = (v, out);
}

/// Reads one value of type `ty` from the front of `input`, advancing it.
pub fn decode_key(ty: &DataType, input: &mut &[u8]) -> Result<Value> {
    let _ = (ty, input);
    Err(Error::unsupported("decode_key not built yet"))
}
