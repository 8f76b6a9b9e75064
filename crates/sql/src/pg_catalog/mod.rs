//! The `pg_catalog` and `information_schema` subset drivers and tools
//! query, as virtual tables computed from the catalog when scanned.
//! Table-driven: a table is its name and columns in [`specs`] and a row
//! function that [`rows`] dispatches to; add one by adding both.
//!
//! - [`specs`]: every virtual table's name, OID and columns.
//! - [`types`]: pg_type, and type names as `format_type` prints them.
//! - [`relations`]: pg_class, pg_attribute, pg_index, pg_attrdef and the
//!   pg_tables / pg_views / pg_indexes / pg_sequences views; how a
//!   relation OID prints as regclass.
//! - [`constraints`]: one list of the catalog's constraints, shown as
//!   pg_constraint; `pg_get_constraintdef`.
//! - [`psql`]: the columns and catalogs psql's describe commands read
//!   beyond those (pg_sequence, pg_depend, pg_collation, and the empty
//!   pg_trigger, pg_policy, pg_publication...).
//! - [`deparse`]: stored DEFAULT and CHECK text with the type labels
//!   PostgreSQL prints on their constants.
//! - [`info_schema`]: information_schema tables, columns, schemata and
//!   the constraint views.
//! - [`reflection`]: the catalogs ORMs' schema reflection also names
//!   (pg_sequence, pg_collation, pg_tablespace, pg_opclass, pg_enum).
//! - [`cluster`]: shoal_cluster_members and shoal_locks, from the
//!   coordinator's status rather than the catalog (so [`scan`] is async).

pub mod cluster;
pub mod constraints;
mod deparse;
mod info_schema;
mod psql;
mod reflection;
pub mod relations;
mod specs;
pub mod types;

use crate::catalog::{Catalog, INFORMATION_SCHEMA, PG_CATALOG};
use crate::error::Result;
use crate::exec::{Ctx, Row};
use crate::types::{DataType, Value};

fn spec(schema: Option<&str>, name: &str) -> Option<&'static specs::TableSpec> {
    specs::all().iter().find(|t| {
        t.name == name
            && match schema {
                None | Some("pg_catalog") => t.schema == PG_CATALOG,
                Some("information_schema") => t.schema == INFORMATION_SCHEMA,
                Some(_) => false,
            }
    })
}

/// The columns of virtual table `[schema.]name`.
pub fn columns(schema: Option<&str>, name: &str) -> Option<Vec<(String, DataType)>> {
    spec(schema, name).map(|t| {
        t.columns
            .iter()
            .map(|(n, ty)| (n.to_string(), ty.clone()))
            .collect()
    })
}

/// The OID of a pg_catalog table (for `'pg_class'::regclass`).
pub fn virtual_oid(name: &str) -> Option<u32> {
    specs::all()
        .iter()
        .find(|t| t.name == name && t.schema == PG_CATALOG && t.oid != 0)
        .map(|t| t.oid)
}

/// The name of the pg_catalog table with this OID.
pub fn virtual_name(oid: u32) -> Option<&'static str> {
    specs::all()
        .iter()
        .find(|t| t.oid == oid && t.schema == PG_CATALOG && oid != 0)
        .map(|t| t.name)
}

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn o(v: u32) -> Value {
    Value::Oid(v)
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// A stable OID for an object that is not a catalog object of its own in
/// Shoal (a constraint, a column default): a hash of its table and a key,
/// above the OIDs the catalog hands out.
fn derived_oid(table: u32, key: &str) -> u32 {
    let mut h: u32 = 2166136261;
    for byte in key.bytes().chain(table.to_be_bytes()) {
        h ^= u32::from(byte);
        h = h.wrapping_mul(16777619);
    }
    (h % 1_000_000_000) + 1_000_000_000
}

/// Text, or NULL.
fn t_or_null(s: Option<&str>) -> Value {
    s.map(t).unwrap_or(Value::Null)
}

/// The rows of virtual table `name`, as the executor scans it: the
/// cluster views ask the coordinator, the rest are [`rows`].
pub async fn scan(name: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Row>> {
    if cluster::is_cluster_view(name) {
        return cluster::rows(name, ctx).await;
    }
    rows(name, ctx)
}

/// The rows of virtual table `name` computed from the catalog and the
/// session.
pub fn rows(name: &str, ctx: &Ctx<'_>) -> Result<Vec<Row>> {
    let cat: &Catalog = ctx.catalog;
    let dbname = ctx.state.database.clone();
    let mut out: Vec<Row> = Vec::new();
    match name {
        "pg_type" => types::pg_type(&mut out),
        "pg_class" => relations::pg_class(cat, &mut out),
        "pg_attribute" => relations::pg_attribute(
            cat,
            &ctx.state.settings.search_path(),
            &ctx.state.settings.format,
            &mut out,
        ),
        "pg_index" => relations::pg_index(cat, &mut out),
        "pg_attrdef" => relations::pg_attrdef(cat, &mut out),
        "pg_tables" => relations::pg_tables(cat, &mut out),
        "pg_views" => relations::pg_views(cat, &mut out),
        "pg_indexes" => relations::pg_indexes(cat, &mut out),
        "pg_sequences" => relations::pg_sequences(cat, &mut out),
        "pg_constraint" => constraints::pg_constraint(cat, &mut out),
        "table_constraints" => info_schema::table_constraints(cat, &dbname, &mut out),
        "key_column_usage" => info_schema::key_column_usage(cat, &dbname, &mut out),
        "check_constraints" => info_schema::check_constraints(
            cat,
            &dbname,
            &ctx.state.settings.search_path(),
            &mut out,
        ),
        "referential_constraints" => info_schema::referential_constraints(cat, &dbname, &mut out),
        "constraint_column_usage" => info_schema::constraint_column_usage(cat, &dbname, &mut out),
        "tables" => info_schema::tables(cat, &dbname, &mut out),
        "columns" => info_schema::columns(
            cat,
            &dbname,
            &ctx.state.settings.search_path(),
            &ctx.state.settings.format,
            &mut out,
        ),
        "schemata" => info_schema::schemata(cat, &dbname, &mut out),
        "pg_namespace" => {
            for s in &cat.schemas {
                out.push(vec![o(s.oid), t(&s.name), o(s.owner), Value::Null]);
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
        other => reflection::rows(other, cat, &mut out),
    }
    psql::extend_rows(name, cat, &mut out);
    Ok(out)
}
