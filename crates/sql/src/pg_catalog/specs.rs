//! The virtual tables' names, OIDs and columns, in PostgreSQL's column
//! order (a subset of each; drivers select the columns they know by name).

use crate::catalog::{INFORMATION_SCHEMA, PG_CATALOG};
use std::sync::LazyLock;

use crate::types::DataType;

use DataType::{Bool, Int2, Int4, Int8, Name, Oid as OidT, Text};

/// A virtual table: its name, schema, OID (0 for views, which
/// `'name'::regclass` does not resolve) and columns.
pub(super) struct TableSpec {
    pub name: &'static str,
    pub schema: u32,
    pub oid: u32,
    pub columns: Vec<(&'static str, DataType)>,
}

/// Every virtual table (built once: array column types are not const).
pub(super) fn all() -> &'static [TableSpec] {
    static ALL: LazyLock<Vec<TableSpec>> = LazyLock::new(|| {
        let int2_array = DataType::Array(Box::new(Int2));
        let spec = |name, schema, oid, columns: &[(&'static str, DataType)]| TableSpec {
            name,
            schema,
            oid,
            columns: columns.to_vec(),
        };
        let mut all = vec![
            spec(
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
                    ("typcollation", OidT),
                    ("typdefault", Text),
                ],
            ),
            spec(
                "pg_range",
                PG_CATALOG,
                3541,
                &[
                    ("rngtypid", OidT),
                    ("rngsubtype", OidT),
                    ("rngmultitypid", OidT),
                ],
            ),
            spec(
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
            spec(
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
                    ("reloptions", DataType::Array(Box::new(Text))),
                    ("relacl", Text),
                ],
            ),
            spec(
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
            spec(
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
                    ("indkey", int2_array.clone()),
                    ("indnkeyatts", Int2),
                    ("indnullsnotdistinct", Bool),
                    ("indclass", DataType::Array(Box::new(OidT))),
                    // int2vector's text form ("0 0"), which SQLAlchemy splits.
                    ("indoption", Text),
                    ("indexprs", Text),
                    ("indpred", Text),
                ],
            ),
            spec(
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
            spec(
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
            spec(
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
            spec(
                "pg_inherits",
                PG_CATALOG,
                2611,
                &[("inhrelid", OidT), ("inhparent", OidT), ("inhseqno", Int4)],
            ),
            spec(
                "pg_partitioned_table",
                PG_CATALOG,
                3350,
                &[
                    ("partrelid", OidT),
                    ("partstrat", Text),
                    ("partnatts", Int2),
                ],
            ),
            spec(
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
            spec(
                "pg_am",
                PG_CATALOG,
                2601,
                &[("oid", OidT), ("amname", Name), ("amtype", Text)],
            ),
            spec(
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
            spec(
                "pg_constraint",
                PG_CATALOG,
                2606,
                &[
                    ("oid", OidT),
                    ("conname", Name),
                    ("connamespace", OidT),
                    ("contype", Text),
                    ("condeferrable", Bool),
                    ("condeferred", Bool),
                    ("convalidated", Bool),
                    ("conrelid", OidT),
                    ("contypid", OidT),
                    ("conindid", OidT),
                    ("conparentid", OidT),
                    ("confrelid", OidT),
                    ("confupdtype", Text),
                    ("confdeltype", Text),
                    ("confmatchtype", Text),
                    ("conislocal", Bool),
                    ("coninhcount", Int4),
                    ("connoinherit", Bool),
                    ("conkey", int2_array.clone()),
                    ("confkey", int2_array.clone()),
                    ("conbin", Text),
                ],
            ),
            spec(
                "pg_attrdef",
                PG_CATALOG,
                2604,
                &[
                    ("oid", OidT),
                    ("adrelid", OidT),
                    ("adnum", Int2),
                    ("adbin", Text),
                ],
            ),
            spec(
                "pg_tables",
                PG_CATALOG,
                0,
                &[
                    ("schemaname", Name),
                    ("tablename", Name),
                    ("tableowner", Name),
                    ("tablespace", Name),
                    ("hasindexes", Bool),
                    ("hasrules", Bool),
                    ("hastriggers", Bool),
                    ("rowsecurity", Bool),
                ],
            ),
            spec(
                "pg_views",
                PG_CATALOG,
                0,
                &[
                    ("schemaname", Name),
                    ("viewname", Name),
                    ("viewowner", Name),
                    ("definition", Text),
                ],
            ),
            spec(
                "pg_indexes",
                PG_CATALOG,
                0,
                &[
                    ("schemaname", Name),
                    ("tablename", Name),
                    ("indexname", Name),
                    ("tablespace", Name),
                    ("indexdef", Text),
                ],
            ),
            spec(
                "pg_sequences",
                PG_CATALOG,
                0,
                &[
                    ("schemaname", Name),
                    ("sequencename", Name),
                    ("sequenceowner", Name),
                    ("data_type", Text),
                    ("start_value", Int8),
                    ("min_value", Int8),
                    ("max_value", Int8),
                    ("increment_by", Int8),
                    ("cycle", Bool),
                    ("cache_size", Int8),
                    ("last_value", Int8),
                ],
            ),
            spec(
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
            spec(
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
                    ("character_octet_length", Int4),
                    ("numeric_precision", Int4),
                    ("numeric_precision_radix", Int4),
                    ("numeric_scale", Int4),
                    ("datetime_precision", Int4),
                    ("interval_type", Text),
                    ("interval_precision", Int4),
                    ("character_set_catalog", Name),
                    ("character_set_schema", Name),
                    ("character_set_name", Name),
                    ("collation_catalog", Name),
                    ("collation_schema", Name),
                    ("collation_name", Name),
                    ("domain_catalog", Name),
                    ("domain_schema", Name),
                    ("domain_name", Name),
                    ("udt_catalog", Name),
                    ("udt_schema", Name),
                    ("udt_name", Name),
                    ("scope_catalog", Name),
                    ("scope_schema", Name),
                    ("scope_name", Name),
                    ("maximum_cardinality", Int4),
                    ("dtd_identifier", Name),
                    ("is_self_referencing", Text),
                    ("is_identity", Text),
                    ("identity_generation", Text),
                    ("identity_start", Text),
                    ("identity_increment", Text),
                    ("identity_maximum", Text),
                    ("identity_minimum", Text),
                    ("identity_cycle", Text),
                    ("is_generated", Text),
                    ("generation_expression", Text),
                    ("is_updatable", Text),
                ],
            ),
            spec(
                "schemata",
                INFORMATION_SCHEMA,
                0,
                &[
                    ("catalog_name", Name),
                    ("schema_name", Name),
                    ("schema_owner", Name),
                ],
            ),
            spec(
                "table_constraints",
                INFORMATION_SCHEMA,
                0,
                &[
                    ("constraint_catalog", Name),
                    ("constraint_schema", Name),
                    ("constraint_name", Name),
                    ("table_catalog", Name),
                    ("table_schema", Name),
                    ("table_name", Name),
                    ("constraint_type", Text),
                    ("is_deferrable", Text),
                    ("initially_deferred", Text),
                    ("enforced", Text),
                    ("nulls_distinct", Text),
                ],
            ),
            spec(
                "key_column_usage",
                INFORMATION_SCHEMA,
                0,
                &[
                    ("constraint_catalog", Name),
                    ("constraint_schema", Name),
                    ("constraint_name", Name),
                    ("table_catalog", Name),
                    ("table_schema", Name),
                    ("table_name", Name),
                    ("column_name", Name),
                    ("ordinal_position", Int4),
                    ("position_in_unique_constraint", Int4),
                ],
            ),
            spec(
                "check_constraints",
                INFORMATION_SCHEMA,
                0,
                &[
                    ("constraint_catalog", Name),
                    ("constraint_schema", Name),
                    ("constraint_name", Name),
                    ("check_clause", Text),
                ],
            ),
            spec(
                "referential_constraints",
                INFORMATION_SCHEMA,
                0,
                &[
                    ("constraint_catalog", Name),
                    ("constraint_schema", Name),
                    ("constraint_name", Name),
                    ("unique_constraint_catalog", Name),
                    ("unique_constraint_schema", Name),
                    ("unique_constraint_name", Name),
                    ("match_option", Text),
                    ("update_rule", Text),
                    ("delete_rule", Text),
                ],
            ),
            spec(
                "constraint_column_usage",
                INFORMATION_SCHEMA,
                0,
                &[
                    ("table_catalog", Name),
                    ("table_schema", Name),
                    ("table_name", Name),
                    ("column_name", Name),
                    ("constraint_catalog", Name),
                    ("constraint_schema", Name),
                    ("constraint_name", Name),
                ],
            ),
        ];
        all.extend(super::reflection::specs());
        all.extend(super::cluster::specs());
        super::psql::extend_specs(&mut all);
        all
    });
    &ALL
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn each_catalog_table_and_column_is_named_once() {
        let mut tables = HashSet::new();
        for spec in super::all() {
            assert!(
                tables.insert((spec.schema, spec.name)),
                "catalog table {} defined twice",
                spec.name
            );
            let mut cols = HashSet::new();
            for (c, _) in &spec.columns {
                assert!(cols.insert(*c), "{}.{c} defined twice", spec.name);
            }
        }
    }
}
