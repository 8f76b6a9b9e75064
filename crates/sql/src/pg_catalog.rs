//! The `pg_catalog` and `information_schema` subset drivers and tools
//! query, as virtual tables computed from the catalog. Table-driven: a
//! table is its name, its columns ([`TABLES`]) and a row function in
//! [`rows`]; add one by adding both.

use crate::catalog::{Catalog, INFORMATION_SCHEMA, PG_CATALOG};
use crate::error::Result;
use crate::exec::{Ctx, Row};
use crate::types::{DataType, Value};

use DataType::{Bool, Int2, Int4, Name, Oid as OidT, Text};

/// (name, schema, oid, columns).
type TableSpec = (&'static str, u32, u32, &'static [(&'static str, DataType)]);

/// The virtual tables.
const TABLES: &[TableSpec] = &[
    (
        "pg_type",
        PG_CATALOG,
        1247,
        &[
            ("oid", OidT),
            ("typname", Name),
            ("typnamespace", OidT),
            ("typowner", OidT),
            ("typlen", Int2),
            ("typbyval", Bool),
            ("typtype", Text),
            ("typcategory", Text),
            ("typisdefined", Bool),
            ("typdelim", Text),
            ("typrelid", OidT),
            ("typelem", OidT),
            ("typarray", OidT),
            ("typbasetype", OidT),
            ("typtypmod", Int4),
            ("typnotnull", Bool),
            ("typinput", Text),
            ("typoutput", Text),
            ("typreceive", Text),
            ("typsend", Text),
        ],
    ),
    (
        "pg_range",
        PG_CATALOG,
        3541,
        &[
            ("rngtypid", OidT),
            ("rngsubtype", OidT),
            ("rngmultitypid", OidT),
        ],
    ),
    (
        "pg_namespace",
        PG_CATALOG,
        2615,
        &[
            ("oid", OidT),
            ("nspname", Name),
            ("nspowner", OidT),
            ("nspacl", Text),
        ],
    ),
    (
        "pg_class",
        PG_CATALOG,
        1259,
        &[
            ("oid", OidT),
            ("relname", Name),
            ("relnamespace", OidT),
            ("reltype", OidT),
            ("relowner", OidT),
            ("relam", OidT),
            ("relfilenode", OidT),
            ("reltablespace", OidT),
            ("relpages", Int4),
            ("reltuples", DataType::Float4),
            ("relhasindex", Bool),
            ("relisshared", Bool),
            ("relpersistence", Text),
            ("relkind", Text),
            ("relnatts", Int2),
            ("relchecks", Int2),
            ("relhasrules", Bool),
            ("relhastriggers", Bool),
            ("relhassubclass", Bool),
            ("relrowsecurity", Bool),
            ("relforcerowsecurity", Bool),
            ("relispopulated", Bool),
            ("relreplident", Text),
            ("relispartition", Bool),
            ("reloptions", Text),
            ("relacl", Text),
        ],
    ),
    (
        "pg_attribute",
        PG_CATALOG,
        1249,
        &[
            ("attrelid", OidT),
            ("attname", Name),
            ("atttypid", OidT),
            ("attlen", Int2),
            ("attnum", Int2),
            ("atttypmod", Int4),
            ("attnotnull", Bool),
            ("atthasdef", Bool),
            ("attisdropped", Bool),
            ("attidentity", Text),
            ("attgenerated", Text),
            ("attcollation", OidT),
        ],
    ),
    (
        "pg_index",
        PG_CATALOG,
        2610,
        &[
            ("indexrelid", OidT),
            ("indrelid", OidT),
            ("indnatts", Int2),
            ("indisunique", Bool),
            ("indisprimary", Bool),
            ("indisvalid", Bool),
            ("indkey", Text),
        ],
    ),
    (
        "pg_database",
        PG_CATALOG,
        1262,
        &[
            ("oid", OidT),
            ("datname", Name),
            ("datdba", OidT),
            ("encoding", Int4),
            ("datcollate", Name),
            ("datctype", Name),
            ("datistemplate", Bool),
            ("datallowconn", Bool),
            ("datconnlimit", Int4),
            ("datacl", Text),
        ],
    ),
    (
        "pg_roles",
        PG_CATALOG,
        1260,
        &[
            ("oid", OidT),
            ("rolname", Name),
            ("rolsuper", Bool),
            ("rolinherit", Bool),
            ("rolcreaterole", Bool),
            ("rolcreatedb", Bool),
            ("rolcanlogin", Bool),
            ("rolreplication", Bool),
            ("rolconnlimit", Int4),
            ("rolbypassrls", Bool),
        ],
    ),
    (
        "pg_settings",
        PG_CATALOG,
        0,
        &[
            ("name", Text),
            ("setting", Text),
            ("unit", Text),
            ("category", Text),
            ("short_desc", Text),
            ("context", Text),
            ("vartype", Text),
            ("source", Text),
        ],
    ),
    (
        "pg_inherits",
        PG_CATALOG,
        2611,
        &[("inhrelid", OidT), ("inhparent", OidT), ("inhseqno", Int4)],
    ),
    (
        "pg_partitioned_table",
        PG_CATALOG,
        3350,
        &[
            ("partrelid", OidT),
            ("partstrat", Text),
            ("partnatts", Int2),
        ],
    ),
    (
        "pg_description",
        PG_CATALOG,
        2609,
        &[
            ("objoid", OidT),
            ("classoid", OidT),
            ("objsubid", Int4),
            ("description", Text),
        ],
    ),
    (
        "pg_am",
        PG_CATALOG,
        2601,
        &[("oid", OidT), ("amname", Name), ("amtype", Text)],
    ),
    (
        "pg_stat_activity",
        PG_CATALOG,
        0,
        &[
            ("datname", Name),
            ("pid", Int4),
            ("usename", Name),
            ("application_name", Text),
            ("state", Text),
            ("query", Text),
        ],
    ),
    (
        "tables",
        INFORMATION_SCHEMA,
        0,
        &[
            ("table_catalog", Name),
            ("table_schema", Name),
            ("table_name", Name),
            ("table_type", Text),
        ],
    ),
    (
        "columns",
        INFORMATION_SCHEMA,
        0,
        &[
            ("table_catalog", Name),
            ("table_schema", Name),
            ("table_name", Name),
            ("column_name", Name),
            ("ordinal_position", Int4),
            ("column_default", Text),
            ("is_nullable", Text),
            ("data_type", Text),
            ("character_maximum_length", Int4),
            ("numeric_precision", Int4),
            ("numeric_scale", Int4),
        ],
    ),
    (
        "schemata",
        INFORMATION_SCHEMA,
        0,
        &[
            ("catalog_name", Name),
            ("schema_name", Name),
            ("schema_owner", Name),
        ],
    ),
];

fn spec(schema: Option<&str>, name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|(n, s, _, _)| {
        *n == name
            && match schema {
                None => *s == PG_CATALOG,
                Some("pg_catalog") => *s == PG_CATALOG,
                Some("information_schema") => *s == INFORMATION_SCHEMA,
                Some(_) => false,
            }
    })
}

/// The columns of virtual table `[schema.]name`.
pub fn columns(schema: Option<&str>, name: &str) -> Option<Vec<(String, DataType)>> {
    spec(schema, name).map(|(_, _, _, cols)| {
        cols.iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect()
    })
}

/// The OID of a virtual table (for `'pg_class'::regclass`).
pub fn virtual_oid(name: &str) -> Option<u32> {
    TABLES
        .iter()
        .find(|(n, _, _, _)| *n == name)
        .map(|(_, _, o, _)| *o)
}

/// (oid, name, len, category, element oid, array oid).
const TYPES: &[(u32, &str, i16, &str, u32, u32)] = &[
    (16, "bool", 1, "B", 0, 1000),
    (17, "bytea", -1, "U", 0, 1001),
    (19, "name", 64, "S", 0, 1003),
    (20, "int8", 8, "N", 0, 1016),
    (21, "int2", 2, "N", 0, 1005),
    (23, "int4", 4, "N", 0, 1007),
    (25, "text", -1, "S", 0, 1009),
    (26, "oid", 4, "N", 0, 1028),
    (114, "json", -1, "U", 0, 199),
    (700, "float4", 4, "N", 0, 1021),
    (701, "float8", 8, "N", 0, 1022),
    (705, "unknown", -2, "X", 0, 0),
    (1042, "bpchar", -1, "S", 0, 1014),
    (1043, "varchar", -1, "S", 0, 1015),
    (1082, "date", 4, "D", 0, 1182),
    (1083, "time", 8, "D", 0, 1183),
    (1114, "timestamp", 8, "D", 0, 1115),
    (1184, "timestamptz", 8, "D", 0, 1185),
    (1186, "interval", 16, "T", 0, 1187),
    (1700, "numeric", -1, "N", 0, 1231),
    (2205, "regclass", 4, "N", 0, 2210),
    (2950, "uuid", 16, "U", 0, 2951),
    (3802, "jsonb", -1, "U", 0, 3807),
    (1000, "_bool", -1, "A", 16, 0),
    (1001, "_bytea", -1, "A", 17, 0),
    (1003, "_name", -1, "A", 19, 0),
    (1005, "_int2", -1, "A", 21, 0),
    (1007, "_int4", -1, "A", 23, 0),
    (1009, "_text", -1, "A", 25, 0),
    (1014, "_bpchar", -1, "A", 1042, 0),
    (1015, "_varchar", -1, "A", 1043, 0),
    (1016, "_int8", -1, "A", 20, 0),
    (1021, "_float4", -1, "A", 700, 0),
    (1022, "_float8", -1, "A", 701, 0),
    (1028, "_oid", -1, "A", 26, 0),
    (1115, "_timestamp", -1, "A", 1114, 0),
    (1182, "_date", -1, "A", 1082, 0),
    (1183, "_time", -1, "A", 1083, 0),
    (1185, "_timestamptz", -1, "A", 1184, 0),
    (1187, "_interval", -1, "A", 1186, 0),
    (1231, "_numeric", -1, "A", 1700, 0),
    (199, "_json", -1, "A", 114, 0),
    (2951, "_uuid", -1, "A", 2950, 0),
    (3807, "_jsonb", -1, "A", 3802, 0),
];

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn o(v: u32) -> Value {
    Value::Oid(v)
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// The rows of virtual table `name`.
pub fn rows(name: &str, ctx: &Ctx<'_>) -> Result<Vec<Row>> {
    let cat: &Catalog = ctx.catalog;
    let dbname = ctx.state.database.clone();
    let mut out: Vec<Row> = Vec::new();
    match name {
        "pg_type" => {
            for (oid, n, len, cat_, elem, arr) in TYPES {
                let byval = *len > 0 && *len <= 8;
                out.push(vec![
                    o(*oid),
                    t(n),
                    o(PG_CATALOG),
                    o(10),
                    Value::Int2(*len),
                    b(byval),
                    t("b"),
                    t(cat_),
                    b(true),
                    t(","),
                    o(0),
                    o(*elem),
                    o(*arr),
                    o(0),
                    Value::Int4(-1),
                    b(false),
                    t(&format!("{n}in")),
                    t(&format!("{n}out")),
                    t(&format!("{n}recv")),
                    t(&format!("{n}send")),
                ]);
            }
        }
        "pg_namespace" => {
            for s in &cat.schemas {
                out.push(vec![o(s.oid), t(&s.name), o(s.owner), Value::Null]);
            }
        }
        "pg_class" => {
            let mut rel =
                |oid: u32, name: &str, ns: u32, kind: &str, natts: usize, hasindex: bool| {
                    out.push(vec![
                        o(oid),
                        t(name),
                        o(ns),
                        o(0),
                        o(10),
                        o(0),
                        o(oid),
                        o(0),
                        Value::Int4(0),
                        Value::Float4(-1.0),
                        b(hasindex),
                        b(false),
                        t("p"),
                        t(kind),
                        Value::Int2(natts as i16),
                        Value::Int2(0),
                        b(false),
                        b(false),
                        b(false),
                        b(false),
                        b(false),
                        b(true),
                        t("d"),
                        b(false),
                        Value::Null,
                        Value::Null,
                    ]);
                };
            let mut tables: Vec<_> = cat.tables.values().collect();
            tables.sort_by_key(|t| t.oid);
            for tb in tables {
                let live = tb.columns.iter().filter(|c| !c.dropped).count();
                rel(
                    tb.oid,
                    &tb.name,
                    tb.schema,
                    "r",
                    live,
                    !tb.indexes.is_empty(),
                );
                for ix in &tb.indexes {
                    rel(ix.oid, &ix.name, tb.schema, "i", ix.columns.len(), false);
                }
            }
            for v in cat.views.values() {
                rel(v.oid, &v.name, v.schema, "v", v.columns.len(), false);
            }
            for s in cat.sequences.values() {
                rel(s.oid, &s.name, s.schema, "S", 3, false);
            }
            for (n, s, oid, cols) in TABLES {
                if *s == PG_CATALOG && *oid != 0 {
                    rel(*oid, n, *s, "r", cols.len(), false);
                }
            }
        }
        "pg_attribute" => {
            for tb in cat.tables.values() {
                for (i, c) in tb.columns.iter().enumerate() {
                    out.push(vec![
                        o(tb.oid),
                        t(&c.name),
                        o(c.ty.oid()),
                        Value::Int2(c.ty.type_len()),
                        Value::Int2((i + 1) as i16),
                        Value::Int4(c.ty.type_modifier()),
                        b(c.not_null),
                        b(c.default.is_some()),
                        b(c.dropped),
                        t(if c.identity {
                            if c.identity_always {
                                "a"
                            } else {
                                "d"
                            }
                        } else {
                            ""
                        }),
                        t(""),
                        o(0),
                    ]);
                }
            }
        }
        "pg_index" => {
            for tb in cat.tables.values() {
                for ix in &tb.indexes {
                    let key: Vec<String> = ix.columns.iter().map(|c| (c + 1).to_string()).collect();
                    out.push(vec![
                        o(ix.oid),
                        o(tb.oid),
                        Value::Int2(ix.columns.len() as i16),
                        b(ix.unique),
                        b(ix.primary),
                        b(true),
                        t(&key.join(" ")),
                    ]);
                }
            }
        }
        "pg_database" => {
            for d in &cat.databases {
                out.push(vec![
                    o(d.oid),
                    t(&d.name),
                    o(d.owner),
                    Value::Int4(6),
                    t("C"),
                    t("C"),
                    b(false),
                    b(true),
                    Value::Int4(-1),
                    Value::Null,
                ]);
            }
        }
        "pg_roles" => {
            for r in &cat.roles {
                out.push(vec![
                    o(r.oid),
                    t(&r.name),
                    b(r.superuser),
                    b(true),
                    b(r.superuser),
                    b(r.superuser),
                    b(r.login),
                    b(r.superuser),
                    Value::Int4(-1),
                    b(r.superuser),
                ]);
            }
        }
        "pg_settings" => {
            for (n, v) in ctx.state.settings.all() {
                out.push(vec![
                    t(&n),
                    t(&v),
                    Value::Null,
                    t(""),
                    t(""),
                    t("user"),
                    t("string"),
                    t("default"),
                ]);
            }
        }
        "pg_am" => {
            out.push(vec![o(2), t("heap"), t("t")]);
            out.push(vec![o(403), t("btree"), t("i")]);
        }
        "pg_stat_activity" => {
            out.push(vec![
                t(&dbname),
                Value::Int4(ctx.state.pid),
                t(&ctx.state.user),
                t(&ctx
                    .state
                    .settings
                    .get("application_name")
                    .unwrap_or_default()),
                t("active"),
                t(""),
            ]);
        }
        "tables" => {
            let mut rels: Vec<(String, String, &str)> = Vec::new();
            for tb in cat.tables.values() {
                rels.push((
                    cat.schema_name(tb.schema).to_string(),
                    tb.name.clone(),
                    "BASE TABLE",
                ));
            }
            for v in cat.views.values() {
                rels.push((
                    cat.schema_name(v.schema).to_string(),
                    v.name.clone(),
                    "VIEW",
                ));
            }
            rels.sort();
            for (s, n, k) in rels {
                out.push(vec![t(&dbname), t(&s), t(&n), t(k)]);
            }
        }
        "columns" => {
            let mut tables: Vec<_> = cat.tables.values().collect();
            tables.sort_by_key(|t| t.oid);
            for tb in tables {
                let mut pos = 0;
                for c in tb.columns.iter().filter(|c| !c.dropped) {
                    pos += 1;
                    let (len, prec, scale) = match &c.ty {
                        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => {
                            (Value::Int4(*n as i32), Value::Null, Value::Null)
                        }
                        DataType::Int2 => (Value::Null, Value::Int4(16), Value::Int4(0)),
                        DataType::Int4 => (Value::Null, Value::Int4(32), Value::Int4(0)),
                        DataType::Int8 => (Value::Null, Value::Int4(64), Value::Int4(0)),
                        DataType::Numeric(Some((p, s))) => {
                            (Value::Null, Value::Int4(*p as i32), Value::Int4(*s as i32))
                        }
                        _ => (Value::Null, Value::Null, Value::Null),
                    };
                    let dt = match &c.ty {
                        DataType::Array(_) => "ARRAY".to_string(),
                        other => {
                            let d = other.display_name();
                            d.split('(').next().unwrap_or("").trim().to_string()
                        }
                    };
                    let udt = type_name(c.ty.oid());
                    out.push(vec![
                        t(&dbname),
                        t(cat.schema_name(tb.schema)),
                        t(&tb.name),
                        t(&c.name),
                        Value::Int4(pos),
                        c.default.as_ref().map(|d| t(d)).unwrap_or(Value::Null),
                        t(if c.not_null { "NO" } else { "YES" }),
                        t(&dt),
                        len,
                        prec,
                        scale,
                        t(&udt),
                    ]);
                }
            }
        }
        "table_constraints" | "key_column_usage" | "pg_constraint" => {
            constraints(name, cat, &dbname, &mut out)
        }
        "pg_tables" => {
            for tb in cat.tables.values() {
                out.push(vec![
                    t(cat.schema_name(tb.schema)),
                    t(&tb.name),
                    t("postgres"),
                    b(!tb.indexes.is_empty()),
                ]);
            }
        }
        "pg_views" => {
            for v in cat.views.values() {
                out.push(vec![
                    t(cat.schema_name(v.schema)),
                    t(&v.name),
                    t("postgres"),
                    t(&v.query),
                ]);
            }
        }
        "pg_indexes" => {
            for tb in cat.tables.values() {
                for ix in &tb.indexes {
                    let cols: Vec<&str> = ix
                        .columns
                        .iter()
                        .map(|c| tb.columns[*c].name.as_str())
                        .collect();
                    let def = format!(
                        "CREATE {}INDEX {} ON {}.{} USING btree ({})",
                        if ix.unique { "UNIQUE " } else { "" },
                        ix.name,
                        cat.schema_name(tb.schema),
                        tb.name,
                        cols.join(", ")
                    );
                    out.push(vec![
                        t(cat.schema_name(tb.schema)),
                        t(&tb.name),
                        t(&ix.name),
                        t(&def),
                    ]);
                }
            }
        }
        "pg_sequences" => {
            for sq in cat.sequences.values() {
                out.push(vec![
                    t(cat.schema_name(sq.schema)),
                    t(&sq.name),
                    Value::Int8(sq.start),
                    Value::Int8(sq.increment),
                    Value::Int8(sq.min),
                    Value::Int8(sq.max),
                ]);
            }
        }
        "schemata" => {
            for s in &cat.schemas {
                out.push(vec![t(&dbname), t(&s.name), t("postgres")]);
            }
        }
        _ => {}
    }
    Ok(out)
}

fn type_name(oid: u32) -> String {
    TYPES
        .iter()
        .find(|x| x.0 == oid)
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

/// (name, type letter, type name, columns, referenced table, referenced columns, check text).
type ConstraintRow = (
    String,
    &'static str,
    &'static str,
    Vec<usize>,
    u32,
    Vec<usize>,
    String,
);

/// Constraint rows for information_schema and pg_constraint.
fn constraints(name: &str, cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    let mut tables: Vec<_> = cat.tables.values().collect();
    tables.sort_by_key(|t| t.oid);
    for tb in tables {
        let schema = cat.schema_name(tb.schema).to_string();
        // (name, type letter, type name, columns, referenced table, referenced columns, check text)
        let mut list: Vec<ConstraintRow> = Vec::new();
        for ix in tb.indexes.iter().filter(|i| i.constraint) {
            let (l, n) = if ix.primary {
                ("p", "PRIMARY KEY")
            } else {
                ("u", "UNIQUE")
            };
            list.push((
                ix.name.clone(),
                l,
                n,
                ix.columns.clone(),
                0,
                vec![],
                String::new(),
            ));
        }
        for fk in &tb.foreign_keys {
            list.push((
                fk.name.clone(),
                "f",
                "FOREIGN KEY",
                fk.columns.clone(),
                fk.ref_table,
                fk.ref_columns.clone(),
                String::new(),
            ));
        }
        for ck in &tb.checks {
            list.push((
                ck.name.clone(),
                "c",
                "CHECK",
                vec![],
                0,
                vec![],
                format!("CHECK (({}))", ck.expr),
            ));
        }
        for (cname, letter, tname, cols, reft, refcols, src) in list {
            match name {
                "table_constraints" => out.push(vec![
                    t(db),
                    t(&schema),
                    t(&cname),
                    t(db),
                    t(&schema),
                    t(&tb.name),
                    t(tname),
                ]),
                "key_column_usage" => {
                    for (i, c) in cols.iter().enumerate() {
                        out.push(vec![
                            t(db),
                            t(&schema),
                            t(&cname),
                            t(db),
                            t(&schema),
                            t(&tb.name),
                            t(&tb.columns[*c].name),
                            Value::Int4(i as i32 + 1),
                        ]);
                    }
                }
                _ => {
                    let key = |v: &[usize]| {
                        format!(
                            "{{{}}}",
                            v.iter()
                                .map(|c| (c + 1).to_string())
                                .collect::<Vec<_>>()
                                .join(",")
                        )
                    };
                    let ix = tb
                        .indexes
                        .iter()
                        .find(|i| i.name == cname)
                        .map(|i| i.oid)
                        .unwrap_or(0);
                    out.push(vec![
                        o(constraint_oid(tb.oid, &cname)),
                        t(&cname),
                        o(tb.schema),
                        t(letter),
                        o(tb.oid),
                        o(ix),
                        o(reft),
                        t(&key(&cols)),
                        t(&key(&refcols)),
                        t(&src),
                    ]);
                }
            }
        }
    }
}

/// A stable OID for a constraint (they are not catalog objects of their own).
fn constraint_oid(table: u32, name: &str) -> u32 {
    let mut h: u32 = 2166136261;
    for b in name.bytes().chain(table.to_be_bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(16777619);
    }
    (h % 1_000_000_000) + 1_000_000_000
}
