//! The key layout of everything the SQL layer stores (DESIGN.md section 1),
//! in one place: catalog objects, table rows and secondary index entries.

use crate::types::keycode::encode_key;
use crate::types::Value;

/// The first byte of catalog keys (`shoal_txn::CATALOG_PREFIX`).
pub const CATALOG: u8 = shoal_txn::CATALOG_PREFIX;
/// The first byte of table rows.
pub const ROW: u8 = 0x10;
/// The first byte of secondary index entries.
pub const INDEX: u8 = 0x11;

/// Catalog object kinds (the byte after [`CATALOG`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The bootstrap marker: present once the catalog is initialised.
    Marker = 0,
    Database = 1,
    Schema = 2,
    Table = 3,
    Sequence = 4,
    View = 5,
    Role = 6,
}

/// `[0x01][kind][oid u32 BE]`: one catalog object.
pub fn catalog_key(kind: Kind, oid: u32) -> Vec<u8> {
    let mut k = vec![CATALOG, kind as u8];
    k.extend_from_slice(&oid.to_be_bytes());
    k
}

/// `[0x10][table oid]`: the prefix of every row of a table.
pub fn table_prefix(table: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(24);
    k.push(ROW);
    k.extend_from_slice(&table.to_be_bytes());
    k
}

/// `[0x10][table oid][pk...]`: a row's key.
pub fn row_key(table: u32, pk: &[&Value]) -> Vec<u8> {
    let mut k = table_prefix(table);
    for v in pk {
        encode_key(v, &mut k);
    }
    k
}

/// `[0x11][index oid]`: the prefix of an index's entries.
pub fn index_prefix(index: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.push(INDEX);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// `[0x11][index oid][index columns...]`: the part of an index entry
/// that a unique index keeps unique (and its row lock name).
pub fn index_values_key(index: u32, values: &[&Value]) -> Vec<u8> {
    let mut k = index_prefix(index);
    for v in values {
        encode_key(v, &mut k);
    }
    k
}

/// The smallest key after every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }
}
