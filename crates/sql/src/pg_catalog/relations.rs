//! Relations: pg_class, pg_attribute, pg_index, pg_attrdef, the
//! pg_tables / pg_views / pg_indexes / pg_sequences views, and how a
//! relation OID prints as regclass (its name, schema-qualified when the
//! search path would not find it).

use std::sync::Arc;

use super::{b, derived_oid, o, specs, t, types};
use crate::binder::Binder;
use crate::catalog::{Catalog, ColumnDef, IndexDef, TableDef, ViewDef, PG_CATALOG};
use crate::exec::Row;
use crate::func::quote_ident;
use crate::types::{DataType, FormatOptions, Value};

/// The catalog's tables in OID order (creation order), so virtual tables
/// list them stably.
pub(super) fn sorted_tables(cat: &Catalog) -> Vec<&Arc<TableDef>> {
    let mut tables: Vec<_> = cat.tables.values().collect();
    tables.sort_by_key(|t| t.oid);
    tables
}

/// The catalog's views in OID order.
pub(super) fn sorted_views(cat: &Catalog) -> Vec<&Arc<ViewDef>> {
    let mut views: Vec<_> = cat.views.values().collect();
    views.sort_by_key(|v| v.oid);
    views
}

/// A view's columns with their types, found by binding its query (as a
/// query of the view does); none when it no longer binds (a table it
/// reads was dropped or is not on the search path).
pub fn view_columns(
    cat: &Catalog,
    v: &ViewDef,
    search_path: &[String],
    format: &FormatOptions,
) -> Vec<(String, DataType)> {
    let Ok(q) = crate::parser::parse_query(&v.query) else {
        return vec![];
    };
    match Binder::new(cat, search_path, format, vec![]).query(&q) {
        Ok((_, cols)) => v
            .columns
            .iter()
            .zip(cols)
            .map(|(n, c)| (n.clone(), c.ty))
            .collect(),
        Err(_) => vec![],
    }
}

/// The schema and name of the relation (table, index, view, sequence or
/// pg_catalog table) with this OID.
pub fn relation_name(cat: &Catalog, oid: u32) -> Option<(u32, &str)> {
    if let Some(tb) = cat.tables.get(&oid) {
        return Some((tb.schema, &tb.name));
    }
    if let Some(v) = cat.views.get(&oid) {
        return Some((v.schema, &v.name));
    }
    if let Some(s) = cat.sequences.get(&oid) {
        return Some((s.schema, &s.name));
    }
    for tb in cat.tables.values() {
        if let Some(ix) = tb.indexes.iter().find(|i| i.oid == oid) {
            return Some((tb.schema, &ix.name));
        }
    }
    super::virtual_name(oid).map(|n| (PG_CATALOG, n))
}

/// Whether the unqualified name of relation `oid` finds it on
/// `search_path` (pg_table_is_visible); `None` when there is no such
/// relation.
pub fn is_visible(cat: &Catalog, oid: u32, search_path: &[String]) -> Option<bool> {
    let (schema, name) = relation_name(cat, oid)?;
    if schema == PG_CATALOG {
        return Some(true);
    }
    Some(match cat.lookup(None, name, search_path) {
        Ok(Some((_, r))) => r.oid() == oid,
        _ => false,
    })
}

/// How `oid` prints as regclass: the (quoted) name, qualified by its
/// schema when it is not visible; the number when no relation has it,
/// `-` for 0.
pub fn regclass_name(cat: &Catalog, oid: u32, search_path: &[String]) -> String {
    if oid == 0 {
        return "-".into();
    }
    match relation_name(cat, oid) {
        Some((_, name)) if is_visible(cat, oid, search_path) == Some(true) => quote_ident(name),
        Some((schema, name)) => qualified(cat, schema, name),
        None => oid.to_string(),
    }
}

/// `schema.name`, each part quoted as needed.
pub fn qualified(cat: &Catalog, schema: u32, name: &str) -> String {
    format!(
        "{}.{}",
        quote_ident(cat.schema_name(schema)),
        quote_ident(name)
    )
}

/// The OID text input names (`items`, `extra.hidden`, `"Mixed"`), or
/// `None` when there is no such relation. An unknown schema is not an
/// error, as in to_regclass.
pub fn resolve(cat: &Catalog, name: &str, search_path: &[String]) -> Option<u32> {
    let (schema, rel) = crate::catalog::split_qualified(name);
    match cat.lookup(schema.as_deref(), &rel, search_path) {
        Ok(Some((_, r))) => Some(r.oid()),
        Ok(None) if matches!(schema.as_deref(), None | Some("pg_catalog")) => {
            super::virtual_oid(&rel)
        }
        _ => None,
    }
}

/// The table a relation OID names, if it is a table.
pub fn table(cat: &Catalog, oid: u32) -> Option<&Arc<TableDef>> {
    cat.tables.get(&oid)
}

/// What `pg_get_indexdef` and pg_indexes.indexdef show.
pub fn index_definition(cat: &Catalog, tb: &TableDef, ix: &IndexDef) -> String {
    let cols: Vec<String> = ix
        .columns
        .iter()
        .map(|c| {
            tb.columns
                .get(*c)
                .map_or("?".into(), |c| quote_ident(&c.name))
        })
        .collect();
    format!(
        "CREATE {}INDEX {} ON {} USING btree ({})",
        if ix.unique { "UNIQUE " } else { "" },
        quote_ident(&ix.name),
        qualified(cat, tb.schema, &tb.name),
        cols.join(", ")
    )
}

/// The index with this OID and its table.
pub fn index(cat: &Catalog, oid: u32) -> Option<(&TableDef, &IndexDef)> {
    cat.tables.values().find_map(|tb| {
        tb.indexes
            .iter()
            .find(|i| i.oid == oid)
            .map(|ix| (tb.as_ref(), ix))
    })
}

/// The default a column shows in pg_attrdef and information_schema
/// (identity columns have none there: their sequence is implicit).
pub(super) fn column_default(c: &ColumnDef) -> Option<&str> {
    c.default.as_deref().filter(|_| !c.identity)
}

/// The OID of the pg_attrdef row of a table's column.
pub fn attrdef_oid(table: u32, attnum: usize) -> u32 {
    derived_oid(table, &format!("attrdef {attnum}"))
}

pub(super) fn pg_class(cat: &Catalog, out: &mut Vec<Row>) {
    let mut rel = |oid: u32, name: &str, ns: u32, kind: &str, natts: usize, hasindex: bool| {
        // The access method: heap for tables, btree for indexes.
        let am = match kind {
            "r" => 2,
            "i" => 403,
            _ => 0,
        };
        out.push(vec![
            o(oid),
            t(name),
            o(ns),
            o(0),
            o(10),
            o(am),
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
    for tb in sorted_tables(cat) {
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
    for v in specs::all() {
        if v.schema == PG_CATALOG && v.oid != 0 {
            rel(v.oid, v.name, v.schema, "r", v.columns.len(), false);
        }
    }
}

/// One pg_attribute row.
pub(super) fn attribute(
    rel: u32,
    attnum: usize,
    name: &str,
    ty: &DataType,
    c: Option<&ColumnDef>,
) -> Row {
    // An array column's typmod is its element's.
    let typmod = match ty {
        DataType::Array(e) => e.type_modifier(),
        ty => ty.type_modifier(),
    };
    let identity = match c.map(|c| (c.identity, c.identity_always)) {
        Some((true, true)) => "a",
        Some((true, false)) => "d",
        _ => "",
    };
    vec![
        o(rel),
        t(name),
        o(ty.oid()),
        Value::Int2(ty.type_len()),
        Value::Int2(i16::try_from(attnum).unwrap_or(i16::MAX)),
        Value::Int4(typmod),
        b(c.is_some_and(|c| c.not_null)),
        b(c.and_then(column_default).is_some()),
        b(c.is_some_and(|c| c.dropped)),
        t(identity),
        t(""),
        o(0),
    ]
}

/// Table columns, then view columns (typed by binding the view).
pub(super) fn pg_attribute(
    cat: &Catalog,
    search_path: &[String],
    format: &FormatOptions,
    out: &mut Vec<Row>,
) {
    for tb in sorted_tables(cat) {
        for (i, c) in tb.columns.iter().enumerate() {
            out.push(attribute(tb.oid, i + 1, &c.name, &c.ty, Some(c)));
        }
    }
    for v in sorted_views(cat) {
        for (i, (name, ty)) in view_columns(cat, v, search_path, format).iter().enumerate() {
            out.push(attribute(v.oid, i + 1, name, ty, None));
        }
    }
}

pub(super) fn pg_index(cat: &Catalog, out: &mut Vec<Row>) {
    for tb in sorted_tables(cat) {
        for ix in &tb.indexes {
            out.push(vec![
                o(ix.oid),
                o(tb.oid),
                Value::Int2(ix.columns.len() as i16),
                b(ix.unique),
                b(ix.primary),
                b(true),
                Value::Array(
                    ix.columns
                        .iter()
                        .map(|c| Value::Int2(*c as i16 + 1))
                        .collect(),
                ),
                Value::Int2(ix.columns.len() as i16),
                b(false),
                Value::Array(ix.columns.iter().map(|_| o(0)).collect()),
                t(&vec!["0"; ix.columns.len()].join(" ")),
                Value::Null,
                Value::Null,
            ]);
        }
    }
}

pub(super) fn pg_attrdef(cat: &Catalog, out: &mut Vec<Row>) {
    for tb in sorted_tables(cat) {
        for (i, c) in tb.columns.iter().enumerate() {
            if c.dropped {
                continue;
            }
            if let Some(d) = column_default(c) {
                out.push(vec![
                    o(attrdef_oid(tb.oid, i + 1)),
                    o(tb.oid),
                    Value::Int2((i + 1) as i16),
                    t(&super::deparse::default_expr(d, &c.ty)),
                ]);
            }
        }
    }
}

pub(super) fn pg_tables(cat: &Catalog, out: &mut Vec<Row>) {
    for tb in sorted_tables(cat) {
        // Foreign keys are enforced by triggers on both tables in PostgreSQL.
        let triggers = !tb.foreign_keys.is_empty() || !cat.referencing(tb.oid).is_empty();
        out.push(vec![
            t(cat.schema_name(tb.schema)),
            t(&tb.name),
            t(owner(cat)),
            Value::Null,
            b(!tb.indexes.is_empty()),
            b(false),
            b(triggers),
            b(false),
        ]);
    }
}

pub(super) fn pg_views(cat: &Catalog, out: &mut Vec<Row>) {
    for v in sorted_views(cat) {
        out.push(vec![
            t(cat.schema_name(v.schema)),
            t(&v.name),
            t(owner(cat)),
            t(&v.query),
        ]);
    }
}

pub(super) fn pg_indexes(cat: &Catalog, out: &mut Vec<Row>) {
    for tb in sorted_tables(cat) {
        for ix in &tb.indexes {
            out.push(vec![
                t(cat.schema_name(tb.schema)),
                t(&tb.name),
                t(&ix.name),
                Value::Null,
                t(&index_definition(cat, tb, ix)),
            ]);
        }
    }
}

pub(super) fn pg_sequences(cat: &Catalog, out: &mut Vec<Row>) {
    let mut seqs: Vec<_> = cat.sequences.values().collect();
    seqs.sort_by_key(|s| s.oid);
    for sq in seqs {
        out.push(vec![
            t(cat.schema_name(sq.schema)),
            t(&sq.name),
            t(owner(cat)),
            t(&types::format_type(sq.ty.oid(), None)),
            Value::Int8(sq.start),
            Value::Int8(sq.min),
            Value::Int8(sq.max),
            Value::Int8(sq.increment),
            b(false),
            Value::Int8(sq.cache),
            Value::Null,
        ]);
    }
}

/// Every object is owned by the bootstrap superuser.
fn owner(cat: &Catalog) -> &str {
    cat.roles
        .iter()
        .find(|r| r.oid == crate::catalog::POSTGRES_ROLE)
        .map_or("postgres", |r| r.name.as_str())
}
