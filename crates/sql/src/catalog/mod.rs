//! The catalog: databases, schemas, tables (with their columns,
//! constraints and indexes), sequences, views and roles, stored as ordinary
//! rows under the catalog prefix ([`store`]) and read through a
//! [`Catalog`] snapshot that sessions share until the catalog version moves.

pub mod bootstrap;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::types::{DataType, Value};

/// OIDs of the objects every cluster starts with (PostgreSQL's own).
pub const POSTGRES_DB: u32 = 5;
pub const PG_CATALOG: u32 = 11;
pub const PUBLIC: u32 = 2200;
pub const INFORMATION_SCHEMA: u32 = 13000;
pub const POSTGRES_ROLE: u32 = 10;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabaseDef {
    pub oid: u32,
    pub name: String,
    pub owner: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchemaDef {
    pub oid: u32,
    pub name: String,
    pub owner: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: DataType,
    pub not_null: bool,
    /// The DEFAULT expression as SQL text (bound when used).
    pub default: Option<String>,
    /// The value rows written before ADD COLUMN read for this column
    /// (PostgreSQL's attmissingval).
    pub missing: Option<Value>,
    /// Dropped columns keep their position in stored rows.
    pub dropped: bool,
    /// GENERATED ... AS IDENTITY (ALWAYS when `identity_always`).
    #[serde(default)]
    pub identity: bool,
    #[serde(default)]
    pub identity_always: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexDef {
    pub oid: u32,
    pub name: String,
    /// Column positions in the table.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// The primary key: its "entries" are the table's rows themselves.
    pub primary: bool,
    /// Whether a UNIQUE/PRIMARY KEY constraint created it.
    #[serde(default)]
    pub constraint: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<usize>,
    pub ref_table: u32,
    pub ref_columns: Vec<usize>,
    /// ON DELETE CASCADE.
    #[serde(default)]
    pub on_delete_cascade: bool,
    /// DEFERRABLE: SET CONSTRAINTS may defer its check to COMMIT.
    #[serde(default)]
    pub deferrable: bool,
    /// INITIALLY DEFERRED: checked at COMMIT unless set IMMEDIATE.
    #[serde(default)]
    pub initially_deferred: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableDef {
    pub oid: u32,
    pub schema: u32,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Primary key column positions; empty when rows get a hidden row id.
    pub pk: Vec<usize>,
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    pub foreign_keys: Vec<ForeignKeyDef>,
}

impl TableDef {
    /// Position of a live column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| !c.dropped && c.name == name)
    }

    /// Position of a live column, or 42703 naming the relation.
    pub fn column_or_err(&self, name: &str) -> Result<usize> {
        self.column(name).ok_or_else(|| {
            Error::new(
                ErrorCode::UndefinedColumn,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    self.name
                ),
            )
        })
    }

    pub fn primary_index(&self) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.primary)
    }

    /// Secondary indexes (those with their own entries).
    pub fn secondary(&self) -> impl Iterator<Item = &IndexDef> {
        self.indexes.iter().filter(|i| !i.primary)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SequenceDef {
    pub oid: u32,
    pub schema: u32,
    pub name: String,
    pub ty: DataType,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    /// CYCLE: past the last value it starts again at the first.
    #[serde(default)]
    pub cycle: bool,
    /// Value = base + (counter - counter_base) * increment.
    pub base: i64,
    pub counter_base: u64,
    /// The table and column that own it (SERIAL).
    pub owned_by: Option<(u32, usize)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewDef {
    pub oid: u32,
    pub schema: u32,
    pub name: String,
    pub query: String,
    pub columns: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoleDef {
    pub oid: u32,
    pub name: String,
    pub superuser: bool,
    pub login: bool,
    /// SCRAM-SHA-256 verifier.
    pub password: Option<String>,
}

/// What a name in a schema refers to.
#[derive(Clone, Debug)]
pub enum Relation {
    Table(Arc<TableDef>),
    View(Arc<ViewDef>),
    Sequence(Arc<SequenceDef>),
    /// An index (by table oid, index position).
    Index(Arc<TableDef>, usize),
}

impl Relation {
    pub fn oid(&self) -> u32 {
        match self {
            Relation::Table(t) => t.oid,
            Relation::View(v) => v.oid,
            Relation::Sequence(s) => s.oid,
            Relation::Index(t, i) => t.indexes.get(*i).map(|x| x.oid).unwrap_or(0),
        }
    }
}

/// A consistent view of the whole catalog.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub databases: Vec<DatabaseDef>,
    pub schemas: Vec<SchemaDef>,
    pub tables: HashMap<u32, Arc<TableDef>>,
    pub sequences: HashMap<u32, Arc<SequenceDef>>,
    pub views: HashMap<u32, Arc<ViewDef>>,
    pub roles: Vec<RoleDef>,
    /// (schema oid, name) -> relation.
    names: HashMap<(u32, String), Relation>,
}

impl Catalog {
    /// Builds the name index after the objects were loaded.
    pub fn index_names(&mut self) {
        let mut names = HashMap::new();
        for t in self.tables.values() {
            names.insert((t.schema, t.name.clone()), Relation::Table(t.clone()));
            for (i, ix) in t.indexes.iter().enumerate() {
                names.insert((t.schema, ix.name.clone()), Relation::Index(t.clone(), i));
            }
        }
        for v in self.views.values() {
            names.insert((v.schema, v.name.clone()), Relation::View(v.clone()));
        }
        for s in self.sequences.values() {
            names.insert((s.schema, s.name.clone()), Relation::Sequence(s.clone()));
        }
        self.names = names;
    }

    pub fn database(&self, name: &str) -> Option<&DatabaseDef> {
        self.databases.iter().find(|d| d.name == name)
    }

    pub fn schema(&self, name: &str) -> Option<&SchemaDef> {
        self.schemas.iter().find(|s| s.name == name)
    }

    pub fn schema_name(&self, oid: u32) -> &str {
        self.schemas
            .iter()
            .find(|s| s.oid == oid)
            .map(|s| s.name.as_str())
            .unwrap_or("?")
    }

    pub fn role(&self, name: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.name == name)
    }

    pub fn relation_in(&self, schema: u32, name: &str) -> Option<&Relation> {
        self.names.get(&(schema, name.to_string()))
    }

    /// Resolves `[schema.]name` against `search_path`.
    pub fn lookup(
        &self,
        schema: Option<&str>,
        name: &str,
        search_path: &[String],
    ) -> Result<Option<(u32, &Relation)>> {
        if let Some(s) = schema {
            let Some(sd) = self.schema(s) else {
                return Err(Error::new(
                    ErrorCode::UndefinedSchema,
                    format!("schema \"{s}\" does not exist"),
                ));
            };
            return Ok(self.relation_in(sd.oid, name).map(|r| (sd.oid, r)));
        }
        for s in std::iter::once("pg_catalog").chain(search_path.iter().map(|s| s.as_str())) {
            if let Some(sd) = self.schema(s) {
                if let Some(r) = self.relation_in(sd.oid, name) {
                    return Ok(Some((sd.oid, r)));
                }
            }
        }
        Ok(None)
    }

    /// The schema new objects go to: the first existing one in the path.
    pub fn creation_schema(&self, schema: Option<&str>, search_path: &[String]) -> Result<u32> {
        if let Some(s) = schema {
            return self.schema(s).map(|s| s.oid).ok_or_else(|| {
                Error::new(
                    ErrorCode::UndefinedSchema,
                    format!("schema \"{s}\" does not exist"),
                )
            });
        }
        for s in search_path {
            if let Some(sd) = self.schema(s) {
                return Ok(sd.oid);
            }
        }
        Err(Error::new(
            ErrorCode::UndefinedSchema,
            "no schema has been selected to create in",
        ))
    }

    pub fn table_by_oid(&self, oid: u32) -> Option<&Arc<TableDef>> {
        self.tables.get(&oid)
    }

    /// Tables whose foreign keys reference `table`.
    pub fn referencing(&self, table: u32) -> Vec<Arc<TableDef>> {
        let mut v: Vec<_> = self
            .tables
            .values()
            .filter(|t| t.foreign_keys.iter().any(|f| f.ref_table == table))
            .cloned()
            .collect();
        v.sort_by_key(|t| t.oid);
        v
    }

    /// Sequences by name (for nextval('name')).
    pub fn sequence(&self, name: &str, search_path: &[String]) -> Result<Arc<SequenceDef>> {
        let (schema, rel) = split_qualified(name);
        match self.lookup(schema.as_deref(), &rel, search_path)? {
            Some((_, Relation::Sequence(s))) => Ok(s.clone()),
            Some(_) => Err(Error::new(
                ErrorCode::WrongObjectType,
                format!("\"{rel}\" is not a sequence"),
            )),
            None => Err(Error::new(
                ErrorCode::UndefinedTable,
                format!("relation \"{name}\" does not exist"),
            )),
        }
    }
}

/// Splits `schema.name` (lower-casing unquoted parts as PostgreSQL does
/// for regclass input; a dot inside double quotes is part of the name).
pub fn split_qualified(name: &str) -> (Option<String>, String) {
    fn norm(s: &str) -> String {
        let s = s.trim();
        if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
            s[1..s.len() - 1].replace("\"\"", "\"")
        } else {
            s.to_lowercase()
        }
    }
    let mut quoted = false;
    let dot = name.char_indices().find_map(|(i, c)| {
        if c == '"' {
            quoted = !quoted;
        }
        (c == '.' && !quoted).then_some(i)
    });
    match dot {
        Some(i) => (Some(norm(&name[..i])), norm(&name[i + 1..])),
        None => (None, norm(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::split_qualified;

    #[test]
    fn split_qualified_names() {
        let s = |x: &str| split_qualified(x);
        assert_eq!(s("Items"), (None, "items".into()));
        assert_eq!(s("extra.Hidden"), (Some("extra".into()), "hidden".into()));
        assert_eq!(s("\"Mixed\""), (None, "Mixed".into()));
        assert_eq!(s("\"a.b\".\"c.d\""), (Some("a.b".into()), "c.d".into()));
        assert_eq!(s("\"say \"\"hi\"\"\""), (None, "say \"hi\"".into()));
        assert_eq!(
            s(" public . items "),
            (Some("public".into()), "items".into())
        );
    }
}
