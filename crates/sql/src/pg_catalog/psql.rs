//! What psql's describe commands (`\d`, `\l`, `\du`, `\df`...) read
//! beyond the other modules' catalogs: more columns of pg_class,
//! pg_index, pg_roles, pg_database, pg_type, pg_inherits and
//! pg_attribute, appended
//! after the columns those modules fill (so [`extend_rows`] adds one
//! value per added column to each of their rows), and catalogs of
//! their own: pg_depend (sequences owned by a column), and the catalogs
//! of objects Shoal does
//! not have (triggers, rules, policies, publications, extended
//! statistics, functions, role memberships, extensions, event triggers,
//! foreign servers), empty.

use std::collections::HashMap;

use super::specs::TableSpec;
use super::{b, constraints, o, relations, t};
use crate::catalog::{Catalog, PG_CATALOG};
use crate::exec::Row;
use crate::types::{DataType, Value};

use DataType::{Bool, Int2, Int4, Name, Oid as OidT, Text};

/// A table's columns: name and type.
type Columns = Vec<(&'static str, DataType)>;

/// The columns each existing table gains, in order.
fn added_columns() -> Vec<(&'static str, Columns)> {
    vec![
        (
            "pg_class",
            vec![
                ("reltoastrelid", OidT),
                ("reloftype", OidT),
                ("relpartbound", Text),
            ],
        ),
        (
            "pg_index",
            vec![
                ("indisexclusion", Bool),
                ("indimmediate", Bool),
                ("indisclustered", Bool),
                ("indisreplident", Bool),
            ],
        ),
        (
            "pg_roles",
            vec![
                ("rolpassword", Text),
                ("rolvaliduntil", DataType::Timestamptz),
                ("rolconfig", DataType::Array(Box::new(Text))),
            ],
        ),
        (
            "pg_database",
            vec![
                ("datlocprovider", Text),
                ("daticulocale", Text),
                ("dattablespace", OidT),
            ],
        ),
        ("pg_inherits", vec![("inhdetachpending", Bool)]),
        (
            "pg_attribute",
            vec![
                ("attacl", DataType::Array(Box::new(Text))),
                ("attstorage", Text),
                ("attcompression", Text),
                ("attstattarget", Int4),
            ],
        ),
    ]
}

/// Catalogs of their own: name, OID (PostgreSQL's) and columns.
fn new_tables() -> Vec<(&'static str, u32, Columns)> {
    let oid_array = DataType::Array(Box::new(OidT));
    let char_array = DataType::Array(Box::new(Text));
    let int2_array = DataType::Array(Box::new(Int2));
    vec![
        (
            "pg_depend",
            2608,
            vec![
                ("classid", OidT),
                ("objid", OidT),
                ("objsubid", Int4),
                ("refclassid", OidT),
                ("refobjid", OidT),
                ("refobjsubid", Int4),
                ("deptype", Text),
            ],
        ),
        (
            "pg_trigger",
            2620,
            vec![
                ("oid", OidT),
                ("tgrelid", OidT),
                ("tgparentid", OidT),
                ("tgname", Name),
                ("tgfoid", OidT),
                ("tgtype", Int2),
                ("tgenabled", Text),
                ("tgisinternal", Bool),
                ("tgconstrrelid", OidT),
                ("tgconstrindid", OidT),
                ("tgconstraint", OidT),
                ("tgdeferrable", Bool),
                ("tginitdeferred", Bool),
                ("tgnargs", Int2),
            ],
        ),
        (
            "pg_rewrite",
            2618,
            vec![
                ("oid", OidT),
                ("rulename", Name),
                ("ev_class", OidT),
                ("ev_type", Text),
                ("ev_enabled", Text),
                ("is_instead", Bool),
            ],
        ),
        (
            "pg_policy",
            3256,
            vec![
                ("oid", OidT),
                ("polname", Name),
                ("polrelid", OidT),
                ("polcmd", Text),
                ("polpermissive", Bool),
                ("polroles", oid_array),
                ("polqual", Text),
                ("polwithcheck", Text),
            ],
        ),
        (
            "pg_statistic_ext",
            3381,
            vec![
                ("oid", OidT),
                ("stxrelid", OidT),
                ("stxname", Name),
                ("stxnamespace", OidT),
                ("stxowner", OidT),
                ("stxstattarget", Int4),
                ("stxkeys", int2_array.clone()),
                ("stxkind", char_array),
            ],
        ),
        (
            "pg_publication",
            6104,
            vec![
                ("oid", OidT),
                ("pubname", Name),
                ("pubowner", OidT),
                ("puballtables", Bool),
                ("pubinsert", Bool),
                ("pubupdate", Bool),
                ("pubdelete", Bool),
                ("pubtruncate", Bool),
                ("pubviaroot", Bool),
            ],
        ),
        (
            "pg_publication_rel",
            6106,
            vec![
                ("oid", OidT),
                ("prpubid", OidT),
                ("prrelid", OidT),
                ("prqual", Text),
                ("prattrs", int2_array),
            ],
        ),
        (
            "pg_publication_namespace",
            6237,
            vec![("oid", OidT), ("pnpubid", OidT), ("pnnspid", OidT)],
        ),
        (
            "pg_auth_members",
            1261,
            vec![
                ("oid", OidT),
                ("roleid", OidT),
                ("member", OidT),
                ("grantor", OidT),
                ("admin_option", Bool),
            ],
        ),
        (
            "pg_proc",
            1255,
            vec![
                ("oid", OidT),
                ("proname", Name),
                ("pronamespace", OidT),
                ("proowner", OidT),
                ("prolang", OidT),
                ("prokind", Text),
                ("proretset", Bool),
                ("prorettype", OidT),
                ("pronargs", Int2),
                ("proargtypes", Text),
                ("prosrc", Text),
            ],
        ),
        (
            "pg_extension",
            3079,
            vec![
                ("oid", OidT),
                ("extname", Name),
                ("extowner", OidT),
                ("extnamespace", OidT),
                ("extversion", Text),
            ],
        ),
        (
            "pg_event_trigger",
            3466,
            vec![
                ("oid", OidT),
                ("evtname", Name),
                ("evtevent", Name),
                ("evtowner", OidT),
                ("evtfoid", OidT),
                ("evtenabled", Text),
                ("evttags", DataType::Array(Box::new(Text))),
            ],
        ),
        (
            "pg_foreign_server",
            1417,
            vec![
                ("oid", OidT),
                ("srvname", Name),
                ("srvowner", OidT),
                ("srvfdw", OidT),
            ],
        ),
        (
            "pg_shdescription",
            2396,
            vec![("objoid", OidT), ("classoid", OidT), ("description", Text)],
        ),
    ]
}

/// Adds the columns and catalogs of this module to `all`.
pub(super) fn extend_specs(all: &mut Vec<TableSpec>) {
    for (name, cols) in added_columns() {
        if let Some(spec) = all
            .iter_mut()
            .find(|s| s.name == name && s.schema == PG_CATALOG)
        {
            spec.columns.extend(cols);
        }
    }
    for (name, oid, columns) in new_tables() {
        all.push(TableSpec {
            name,
            schema: PG_CATALOG,
            oid,
            columns,
        });
    }
}

/// The OID of pg_class, which pg_depend names objects by.
const PG_CLASS: u32 = 1259;

/// Appends the added columns' values to the rows of an existing table,
/// or fills one of this module's catalogs.
pub(super) fn extend_rows(name: &str, cat: &Catalog, out: &mut Vec<Row>) {
    match name {
        "pg_class" => {
            // psql shows check constraints only when relchecks counts
            // them, and foreign keys (both ways) only when
            // relhastriggers is set: PostgreSQL enforces them by
            // triggers on both tables.
            let mut checks: HashMap<u32, i16> = HashMap::new();
            let mut triggers: HashMap<u32, bool> = HashMap::new();
            for c in constraints::all(cat) {
                match c.kind {
                    constraints::Kind::Check => *checks.entry(c.table.oid).or_default() += 1,
                    constraints::Kind::ForeignKey => {
                        triggers.insert(c.table.oid, true);
                        triggers.insert(c.ref_table, true);
                    }
                    _ => {}
                }
            }
            for row in out.iter_mut() {
                let Some(Value::Oid(oid)) = row.first().cloned() else {
                    continue;
                };
                if let Some(n) = checks.get(&oid) {
                    row[15] = Value::Int2(*n);
                }
                if triggers.contains_key(&oid) {
                    row[17] = b(true);
                }
                row.extend([o(0), o(0), Value::Null]);
            }
        }
        "pg_index" => {
            for row in out.iter_mut() {
                row.extend([b(false), b(true), b(false), b(false)]);
            }
        }
        "pg_roles" => {
            for row in out.iter_mut() {
                row.extend([t("********"), Value::Null, Value::Null]);
            }
        }
        "pg_database" => {
            for row in out.iter_mut() {
                row.extend([t("c"), Value::Null, o(1663)]);
            }
        }
        "pg_attribute" => {
            for row in out.iter_mut() {
                let tail = attribute_tail(row);
                row.extend(tail);
            }
            // An index's columns are its attributes too (\d INDEX).
            for tb in relations::sorted_tables(cat) {
                for ix in &tb.indexes {
                    for (i, c) in ix.columns.iter().enumerate() {
                        if let Some(c) = tb.columns.get(*c) {
                            let mut row = relations::attribute(ix.oid, i + 1, &c.name, &c.ty, None);
                            row[6] = b(c.not_null);
                            let tail = attribute_tail(&row);
                            row.extend(tail);
                            out.push(row);
                        }
                    }
                }
            }
        }
        "pg_inherits" => {
            for row in out.iter_mut() {
                row.push(b(false));
            }
        }
        "pg_depend" => {
            // A serial column's sequence depends on the column
            // ('a'uto), so \d of the sequence shows "Owned by".
            let mut seqs: Vec<_> = cat.sequences.values().collect();
            seqs.sort_by_key(|s| s.oid);
            for s in seqs {
                if let Some((table, col)) = s.owned_by {
                    let identity = relations::table(cat, table)
                        .and_then(|tb| tb.columns.get(col))
                        .is_some_and(|c| c.identity);
                    out.push(vec![
                        o(PG_CLASS),
                        o(s.oid),
                        Value::Int4(0),
                        o(PG_CLASS),
                        o(table),
                        Value::Int4(i32::try_from(col + 1).unwrap_or(i32::MAX)),
                        t(if identity { "i" } else { "a" }),
                    ]);
                }
            }
        }
        _ => {}
    }
}

/// The added pg_attribute columns of a row: no column privileges, the
/// storage PostgreSQL gives the column's type (plain for fixed-length
/// types, main for numeric, extended for other variable-length ones), no
/// compression method, the default statistics target.
fn attribute_tail(row: &Row) -> [Value; 4] {
    let storage = match (row.get(2), row.get(3)) {
        (Some(Value::Oid(1700)), _) => "m",
        (_, Some(Value::Int2(-1))) => "x",
        _ => "p",
    };
    [Value::Null, t(storage), t(""), Value::Int4(-1)]
}
