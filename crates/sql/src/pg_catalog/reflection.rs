//! The catalogs ORMs read when they reflect a schema (SQLAlchemy's
//! `inspect()`, pgjdbc's DatabaseMetaData) beyond what psql needs:
//! pg_sequence, pg_collation, pg_tablespace, pg_opclass and pg_enum.
//! Their queries name these tables even where the rows do not matter
//! (a collation only looked up when a column has a non-default one), so
//! each must at least exist with PostgreSQL's column names.

use super::specs::TableSpec;
use super::{b, o, t};
use crate::catalog::{Catalog, PG_CATALOG};
use crate::exec::Row;
use crate::types::{DataType, Value};

use DataType::{Bool, Float4, Int4, Int8, Name, Oid as OidT, Text};

/// The OID of the default collation (pg_type.typcollation of the string
/// types).
pub(super) const DEFAULT_COLLATION: u32 = 100;

/// The tables of this module, appended to [`super::specs::all`].
pub(super) fn specs() -> Vec<TableSpec> {
    let spec = |name, oid, columns: &[(&'static str, DataType)]| TableSpec {
        name,
        schema: PG_CATALOG,
        oid,
        columns: columns.to_vec(),
    };
    vec![
        spec(
            "pg_sequence",
            2224,
            &[
                ("seqrelid", OidT),
                ("seqtypid", OidT),
                ("seqstart", Int8),
                ("seqincrement", Int8),
                ("seqmax", Int8),
                ("seqmin", Int8),
                ("seqcache", Int8),
                ("seqcycle", Bool),
            ],
        ),
        spec(
            "pg_collation",
            3456,
            &[
                ("oid", OidT),
                ("collname", Name),
                ("collnamespace", OidT),
                ("collowner", OidT),
                ("collprovider", Text),
                ("collisdeterministic", Bool),
                ("collencoding", Int4),
                ("collcollate", Text),
                ("collctype", Text),
            ],
        ),
        spec(
            "pg_tablespace",
            1213,
            &[
                ("oid", OidT),
                ("spcname", Name),
                ("spcowner", OidT),
                ("spcacl", Text),
                ("spcoptions", Text),
            ],
        ),
        spec(
            "pg_opclass",
            2616,
            &[
                ("oid", OidT),
                ("opcmethod", OidT),
                ("opcname", Name),
                ("opcnamespace", OidT),
                ("opcowner", OidT),
                ("opcfamily", OidT),
                ("opcintype", OidT),
                ("opcdefault", Bool),
                ("opckeytype", OidT),
            ],
        ),
        spec(
            "pg_enum",
            3501,
            &[
                ("oid", OidT),
                ("enumtypid", OidT),
                ("enumsortorder", Float4),
                ("enumlabel", Name),
            ],
        ),
    ]
}

/// The rows of `name` if it is one of this module's tables.
pub(super) fn rows(name: &str, cat: &Catalog, out: &mut Vec<Row>) {
    match name {
        "pg_sequence" => {
            let mut seqs: Vec<_> = cat.sequences.values().collect();
            seqs.sort_by_key(|s| s.oid);
            for sq in seqs {
                out.push(vec![
                    o(sq.oid),
                    o(sq.ty.oid()),
                    Value::Int8(sq.start),
                    Value::Int8(sq.increment),
                    Value::Int8(sq.max),
                    Value::Int8(sq.min),
                    Value::Int8(sq.cache),
                    b(sq.cycle),
                ]);
            }
        }
        "pg_collation" => {
            // PostgreSQL's three built-in collations; Shoal compares
            // strings bytewise, as "C" does.
            for (oid, name, provider) in [
                (DEFAULT_COLLATION, "default", "d"),
                (950, "C", "c"),
                (951, "POSIX", "c"),
            ] {
                let locale = if provider == "d" {
                    Value::Null
                } else {
                    t(name)
                };
                out.push(vec![
                    o(oid),
                    t(name),
                    o(PG_CATALOG),
                    o(10),
                    t(provider),
                    b(true),
                    Value::Int4(-1),
                    locale.clone(),
                    locale,
                ]);
            }
        }
        "pg_tablespace" => {
            for (oid, name) in [(1663, "pg_default"), (1664, "pg_global")] {
                out.push(vec![o(oid), t(name), o(10), Value::Null, Value::Null]);
            }
        }
        // No operator classes beyond the implicit default of each index
        // column (pg_index.indclass holds 0), and no enum types.
        _ => {}
    }
}
