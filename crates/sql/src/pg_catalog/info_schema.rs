//! information_schema: tables, columns, schemata and the constraint
//! views (table_constraints, key_column_usage, check_constraints,
//! referential_constraints, constraint_column_usage; the constraints
//! themselves come from `constraints`).

use super::constraints::{self, Kind};
use super::relations::{column_default, sorted_tables, sorted_views, view_columns};
use super::{t, t_or_null, types};
use crate::catalog::{Catalog, ColumnDef, TableDef};
use crate::exec::Row;
use crate::func::quote_ident;
use crate::types::{DataType, FormatOptions, Value};

pub(super) fn tables(cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    let mut rels: Vec<(&str, &str, &str)> = Vec::new();
    for tb in cat.tables.values() {
        rels.push((cat.schema_name(tb.schema), &tb.name, "BASE TABLE"));
    }
    for v in cat.views.values() {
        rels.push((cat.schema_name(v.schema), &v.name, "VIEW"));
    }
    rels.sort();
    for (s, n, k) in rels {
        out.push(vec![t(db), t(s), t(n), t(k)]);
    }
}

pub(super) fn schemata(cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    for s in &cat.schemas {
        let owner = cat.roles.iter().find(|r| r.oid == s.owner);
        out.push(vec![
            t(db),
            t(&s.name),
            t(owner.map_or("postgres", |r| r.name.as_str())),
        ]);
    }
}

fn int(n: u32) -> Value {
    Value::Int4(i32::try_from(n).unwrap_or(i32::MAX))
}

/// character_maximum_length and character_octet_length (UTF-8: four
/// bytes a character; 1 GB for unlimited text).
fn lengths(ty: &DataType) -> (Value, Value) {
    const UNLIMITED: i32 = 1 << 30;
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => {
            (int(*n), int(n.saturating_mul(4).min(UNLIMITED as u32)))
        }
        DataType::Varchar(None) | DataType::Char(None) | DataType::Text => {
            (Value::Null, Value::Int4(UNLIMITED))
        }
        _ => (Value::Null, Value::Null),
    }
}

/// numeric_precision, numeric_precision_radix, numeric_scale.
fn numeric(ty: &DataType) -> (Value, Value, Value) {
    let binary = |p: i32, s: Option<i32>| {
        (
            Value::Int4(p),
            Value::Int4(2),
            s.map_or(Value::Null, Value::Int4),
        )
    };
    match ty {
        DataType::Int2 => binary(16, Some(0)),
        DataType::Int4 => binary(32, Some(0)),
        DataType::Int8 => binary(64, Some(0)),
        DataType::Float4 => binary(24, None),
        DataType::Float8 => binary(53, None),
        DataType::Numeric(Some((p, s))) => (int(*p), Value::Int4(10), int(*s)),
        DataType::Numeric(None) => (Value::Null, Value::Int4(10), Value::Null),
        _ => (Value::Null, Value::Null, Value::Null),
    }
}

/// datetime_precision: fractional digits of seconds.
fn datetime_precision(ty: &DataType) -> Value {
    match ty {
        DataType::Date => Value::Int4(0),
        DataType::Time | DataType::Timestamp | DataType::Timestamptz | DataType::Interval => {
            Value::Int4(6)
        }
        _ => Value::Null,
    }
}

/// data_type: the SQL name without modifiers, ARRAY for arrays.
fn data_type(ty: &DataType) -> String {
    match ty {
        DataType::Array(_) => "ARRAY".into(),
        DataType::Char(_) => "character".into(),
        ty => types::format_type(ty.oid(), None),
    }
}

/// identity_generation, identity_start, _increment, _maximum, _minimum.
fn identity(cat: &Catalog, tb: &TableDef, pos: usize, c: &ColumnDef) -> [Value; 5] {
    let seq = cat
        .sequences
        .values()
        .find(|s| s.owned_by == Some((tb.oid, pos)));
    match seq {
        Some(s) if c.identity => [
            t(if c.identity_always {
                "ALWAYS"
            } else {
                "BY DEFAULT"
            }),
            t(&s.start.to_string()),
            t(&s.increment.to_string()),
            t(&s.max.to_string()),
            t(&s.min.to_string()),
        ],
        _ => std::array::from_fn(|_| Value::Null),
    }
}

/// One row of information_schema.columns, before formatting.
struct ColumnInfo<'a> {
    schema: &'a str,
    relation: &'a str,
    name: &'a str,
    ordinal: i32,
    ty: &'a DataType,
    not_null: bool,
    default: Option<&'a str>,
    /// identity_generation, _start, _increment, _maximum, _minimum.
    identity: [Value; 5],
    updatable: bool,
}

fn column_row(db: &str, c: ColumnInfo<'_>) -> Row {
    let (max_len, octet_len) = lengths(c.ty);
    let (precision, radix, scale) = numeric(c.ty);
    let is_identity = !c.identity[0].is_null();
    let mut row = vec![
        t(db),
        t(c.schema),
        t(c.relation),
        t(c.name),
        Value::Int4(c.ordinal),
        t_or_null(c.default),
        t(if c.not_null { "NO" } else { "YES" }),
        t(&data_type(c.ty)),
        max_len,
        octet_len,
        precision,
        radix,
        scale,
        datetime_precision(c.ty),
    ];
    // interval_type .. domain_name: no interval fields, character sets,
    // collations or domains.
    row.extend(std::iter::repeat_n(Value::Null, 11));
    row.extend([t(db), t("pg_catalog"), t(types::type_name(c.ty.oid()))]);
    // scope_*, maximum_cardinality.
    row.extend(std::iter::repeat_n(Value::Null, 4));
    row.extend([
        t(&c.ordinal.to_string()),
        t("NO"),
        t(if is_identity { "YES" } else { "NO" }),
    ]);
    row.extend(c.identity);
    row.extend([
        t("NO"),
        t("NEVER"),
        Value::Null,
        t(if c.updatable { "YES" } else { "NO" }),
    ]);
    row
}

/// The columns of tables, then of views (typed by binding the view's
/// query; Shoal's views are not updatable).
pub(super) fn columns(
    cat: &Catalog,
    db: &str,
    path: &[String],
    format: &FormatOptions,
    out: &mut Vec<Row>,
) {
    for tb in sorted_tables(cat) {
        let schema = cat.schema_name(tb.schema);
        let live = tb.columns.iter().enumerate().filter(|(_, c)| !c.dropped);
        for (ordinal, (pos, c)) in (1..).zip(live) {
            let default = column_default(c).map(|d| super::deparse::default_expr(d, &c.ty));
            out.push(column_row(
                db,
                ColumnInfo {
                    schema,
                    relation: &tb.name,
                    name: &c.name,
                    ordinal,
                    ty: &c.ty,
                    not_null: c.not_null,
                    default: default.as_deref(),
                    identity: identity(cat, tb, pos, c),
                    updatable: true,
                },
            ));
        }
    }
    for v in sorted_views(cat) {
        let schema = cat.schema_name(v.schema);
        for (ordinal, (name, ty)) in (1..).zip(view_columns(cat, v, path, format)) {
            out.push(column_row(
                db,
                ColumnInfo {
                    schema,
                    relation: &v.name,
                    name: &name,
                    ordinal,
                    ty: &ty,
                    not_null: false,
                    default: None,
                    identity: std::array::from_fn(|_| Value::Null),
                    updatable: false,
                },
            ));
        }
    }
}

pub(super) fn table_constraints(cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    for c in constraints::all(cat) {
        let schema = cat.schema_name(c.table.schema);
        out.push(vec![
            t(db),
            t(schema),
            t(c.name),
            t(db),
            t(schema),
            t(&c.table.name),
            t(c.kind.sql_name()),
            t("NO"),
            t("NO"),
            t("YES"),
            if c.kind == Kind::Unique {
                t("YES")
            } else {
                Value::Null
            },
        ]);
    }
    for (tb, name, _) in not_null_checks(cat) {
        let schema = cat.schema_name(tb.schema);
        out.push(vec![
            t(db),
            t(schema),
            t(&name),
            t(db),
            t(schema),
            t(&tb.name),
            t("CHECK"),
            t("NO"),
            t("NO"),
            t("YES"),
            Value::Null,
        ]);
    }
}

pub(super) fn key_column_usage(cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    for c in constraints::all(cat)
        .into_iter()
        .filter(|c| c.kind != Kind::Check)
    {
        let schema = cat.schema_name(c.table.schema);
        // A foreign key column's position in the referenced key.
        let key = (c.kind == Kind::ForeignKey)
            .then(|| cat.table_by_oid(c.ref_table))
            .flatten()
            .and_then(|r| r.indexes.iter().find(|i| i.oid == c.index));
        for (i, col) in c.columns.iter().enumerate() {
            let Some(column) = c.table.columns.get(*col) else {
                continue;
            };
            let in_key = key
                .zip(c.ref_columns.get(i))
                .and_then(|(k, r)| k.columns.iter().position(|x| x == r))
                .map_or(Value::Null, |p| Value::Int4(p as i32 + 1));
            out.push(vec![
                t(db),
                t(schema),
                t(c.name),
                t(db),
                t(schema),
                t(&c.table.name),
                t(&column.name),
                Value::Int4(i as i32 + 1),
                in_key,
            ]);
        }
    }
}

/// NOT NULL columns, which information_schema shows as CHECK
/// constraints named `<schema oid>_<table oid>_<attnum>_not_null`.
fn not_null_checks(cat: &Catalog) -> Vec<(&TableDef, String, String)> {
    let mut out = Vec::new();
    for tb in sorted_tables(cat) {
        for (i, c) in tb.columns.iter().enumerate() {
            if c.not_null && !c.dropped {
                out.push((
                    tb.as_ref(),
                    format!("{}_{}_{}_not_null", tb.schema, tb.oid, i + 1),
                    format!("{} IS NOT NULL", quote_ident(&c.name)),
                ));
            }
        }
    }
    out
}

pub(super) fn check_constraints(cat: &Catalog, db: &str, path: &[String], out: &mut Vec<Row>) {
    for c in constraints::all(cat) {
        if c.kind == Kind::Check {
            let def = c.definition(cat, path, false);
            let clause = def.strip_prefix("CHECK ").unwrap_or(&def);
            out.push(vec![
                t(db),
                t(cat.schema_name(c.table.schema)),
                t(c.name),
                t(clause),
            ]);
        }
    }
    for (tb, name, clause) in not_null_checks(cat) {
        out.push(vec![
            t(db),
            t(cat.schema_name(tb.schema)),
            t(&name),
            t(&clause),
        ]);
    }
}

pub(super) fn referential_constraints(cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    for c in constraints::all(cat) {
        if c.kind != Kind::ForeignKey {
            continue;
        }
        // The referenced key's constraint (its index's name).
        let key = cat.table_by_oid(c.ref_table).and_then(|r| {
            r.indexes
                .iter()
                .find(|i| i.oid == c.index && i.constraint)
                .map(|i| (r.schema, i.name.as_str()))
        });
        let schema = cat.schema_name(c.table.schema);
        out.push(vec![
            t(db),
            t(schema),
            t(c.name),
            key.map_or(Value::Null, |_| t(db)),
            key.map_or(Value::Null, |(s, _)| t(cat.schema_name(s))),
            key.map_or(Value::Null, |(_, n)| t(n)),
            t("NONE"),
            t("NO ACTION"),
            t(if c.on_delete_cascade {
                "CASCADE"
            } else {
                "NO ACTION"
            }),
        ]);
    }
}

pub(super) fn constraint_column_usage(cat: &Catalog, db: &str, out: &mut Vec<Row>) {
    for c in constraints::all(cat) {
        // A foreign key uses the referenced columns.
        let (tb, cols) = if c.kind == Kind::ForeignKey {
            match cat.table_by_oid(c.ref_table) {
                Some(r) => (r.as_ref(), &c.ref_columns),
                None => continue,
            }
        } else {
            (c.table, &c.columns)
        };
        for col in cols.iter().filter_map(|i| tb.columns.get(*i)) {
            out.push(vec![
                t(db),
                t(cat.schema_name(tb.schema)),
                t(&tb.name),
                t(&col.name),
                t(db),
                t(cat.schema_name(c.table.schema)),
                t(c.name),
            ]);
        }
    }
}
