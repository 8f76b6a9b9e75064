//! Catalog functions psql's describe commands (`\l`, `\d`, `\df`...)
//! call beyond those in [`super::catalog`]: `pg_encoding_to_char`, the
//! column form of `pg_get_indexdef`, and the functions about objects
//! Shoal does not have (triggers, extended statistics, publications,
//! user-defined functions), which answer as PostgreSQL does when there
//! are none.

use super::signature::Registry;
use crate::error::Result;
use crate::pg_catalog::relations;
use crate::types::{DataType, Value};

use DataType::{Bool, Int4, Int8, Name, Oid, Text};

pub(super) fn register(r: &mut Registry) {
    // Shoal's databases are all UTF8 (encoding 6).
    r.add(&["pg_encoding_to_char"], &[Int4], Name, |a, _| {
        Ok(Value::Text(
            match a[0] {
                Value::Int4(0) => "SQL_ASCII",
                Value::Int4(6) => "UTF8",
                _ => "",
            }
            .to_string(),
        ))
    });
    // No triggers, statistics objects or user functions: these are only
    // called on rows of empty catalogs, but must bind.
    for (names, params) in [
        (&["pg_get_triggerdef"][..], &[Oid][..]),
        (&["pg_get_triggerdef"], &[Oid, Bool]),
        (&["pg_get_statisticsobjdef_columns"], &[Oid]),
        (
            &[
                "pg_get_function_result",
                "pg_get_function_arguments",
                "pg_get_function_identity_arguments",
            ],
            &[Oid],
        ),
    ] {
        r.add_lax(names, params, false, Text, none);
    }
    // Every table could be published (there are no publications).
    r.add_catalog(
        &["pg_relation_is_publishable"],
        &[Oid],
        Bool,
        true,
        |a, c| {
            let Value::Oid(rel) = a[0] else {
                return Ok(Value::Null);
            };
            Ok(Value::Bool(relations::table(c.catalog, rel).is_some()))
        },
    );
    // Every function is pg_catalog's, which is always searched.
    r.add(&["pg_function_is_visible"], &[Oid], Bool, |_, _| {
        Ok(Value::Bool(true))
    });
    // The built-in tablespaces have no location of their own.
    r.add(&["pg_tablespace_location"], &[Oid], Text, |_, _| {
        Ok(Value::Text(String::new()))
    });
    // Shoal's tables live in one shared page store that does not account
    // storage per relation: their sizes read as 0 (psql's `+` commands
    // print them; the psql test normalizes sizes).
    r.add(
        &[
            "pg_table_size",
            "pg_relation_size",
            "pg_total_relation_size",
            "pg_indexes_size",
        ],
        &[Oid],
        Int8,
        |_, _| Ok(Value::Int8(0)),
    );
    r.add(&["pg_size_pretty"], &[Int8], Text, |a, _| {
        let Value::Int8(n) = a[0] else {
            return Ok(Value::Null);
        };
        Ok(Value::Text(size_pretty(n)))
    });
    r.add(&["getdatabaseencoding"], &[], Name, |_, _| {
        Ok(Value::Text("UTF8".into()))
    });
}

/// A byte count as pg_size_pretty prints it: bytes below 10 kB, then
/// kB, MB, GB or TB rounded half away from zero, each unit used while
/// the number stays below 20480.
fn size_pretty(n: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    if n.abs() < LIMIT {
        return format!("{n} bytes");
    }
    let half_rounded = |x: i64| if x >= 0 { (x + 1) / 2 } else { (x - 1) / 2 };
    // One extra bit for rounding.
    let mut size = n >> 9;
    let units = ["kB", "MB", "GB", "TB"];
    for (i, unit) in units.iter().enumerate() {
        if size.abs() < 2 * LIMIT - 1 || i == units.len() - 1 {
            return format!("{} {unit}", half_rounded(size));
        }
        size >>= 10;
    }
    unreachable!("the last unit returns")
}

fn none(_: &[Value], _: &super::FunctionContext) -> Result<Value> {
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::size_pretty;

    #[test]
    fn sizes_print_as_postgresql_does() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(8192), "8192 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(7_838_720), "7655 kB");
        assert_eq!(size_pretty(1_000_000_000), "954 MB");
        assert_eq!(size_pretty(-10240), "-10 kB");
    }
}
