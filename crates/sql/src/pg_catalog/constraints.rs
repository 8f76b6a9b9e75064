//! Constraints: one list of the catalog's PRIMARY KEY, UNIQUE, FOREIGN
//! KEY and CHECK constraints ([`all`]), shown as pg_constraint (and by
//! the information_schema views in `info_schema`), and printed by
//! `pg_get_constraintdef` ([`Constraint::definition`]).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::relations::{regclass_name, sorted_tables};
use super::{b, derived_oid, o, t};
use crate::catalog::{Catalog, TableDef};
use crate::exec::Row;
use crate::func::quote_ident;
use crate::types::Value;

/// What a constraint enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PrimaryKey,
    Unique,
    ForeignKey,
    Check,
}

impl Kind {
    /// pg_constraint.contype.
    fn letter(self) -> &'static str {
        match self {
            Kind::PrimaryKey => "p",
            Kind::Unique => "u",
            Kind::ForeignKey => "f",
            Kind::Check => "c",
        }
    }

    /// information_schema's constraint_type.
    pub(super) fn sql_name(self) -> &'static str {
        match self {
            Kind::PrimaryKey => "PRIMARY KEY",
            Kind::Unique => "UNIQUE",
            Kind::ForeignKey => "FOREIGN KEY",
            Kind::Check => "CHECK",
        }
    }
}

/// One constraint of a table.
#[derive(Clone, Debug)]
pub struct Constraint<'a> {
    /// Constraints are not catalog objects of their own in Shoal; the OID
    /// is derived from the table and the name, so it is stable.
    pub oid: u32,
    pub name: &'a str,
    pub table: &'a TableDef,
    pub kind: Kind,
    /// The constrained columns' positions; for CHECK, those its
    /// expression mentions (as PostgreSQL records them in conkey).
    pub columns: Vec<usize>,
    /// The index that enforces it: its own for PRIMARY KEY and UNIQUE,
    /// the referenced key's for FOREIGN KEY, 0 for CHECK.
    pub index: u32,
    /// FOREIGN KEY: the referenced table, columns and ON DELETE CASCADE.
    pub ref_table: u32,
    pub ref_columns: Vec<usize>,
    pub on_delete_cascade: bool,
    /// CHECK: the expression as SQL text.
    pub check: Option<&'a str>,
}

/// Every constraint, by table OID, then keys, foreign keys, checks.
pub fn all(cat: &Catalog) -> Vec<Constraint<'_>> {
    let mut out = Vec::new();
    for tb in sorted_tables(cat) {
        let tb: &TableDef = tb;
        for ix in tb.indexes.iter().filter(|i| i.constraint) {
            let kind = if ix.primary {
                Kind::PrimaryKey
            } else {
                Kind::Unique
            };
            out.push(Constraint {
                columns: ix.columns.clone(),
                index: ix.oid,
                ..Constraint::new(tb, &ix.name, kind)
            });
        }
        for fk in &tb.foreign_keys {
            let key = cat.table_by_oid(fk.ref_table).and_then(|r| {
                r.indexes
                    .iter()
                    .find(|i| i.unique && i.columns == fk.ref_columns)
            });
            out.push(Constraint {
                columns: fk.columns.clone(),
                index: key.map_or(0, |i| i.oid),
                ref_table: fk.ref_table,
                ref_columns: fk.ref_columns.clone(),
                on_delete_cascade: fk.on_delete_cascade,
                ..Constraint::new(tb, &fk.name, Kind::ForeignKey)
            });
        }
        for ck in &tb.checks {
            out.push(Constraint {
                columns: mentioned_columns(tb, &ck.expr),
                check: Some(&ck.expr),
                ..Constraint::new(tb, &ck.name, Kind::Check)
            });
        }
    }
    // Two constraints of a table may share a name (Shoal does not number
    // generated names apart): the later ones get OIDs of their own.
    for i in 1..out.len() {
        let same = out[..i]
            .iter()
            .filter(|c| c.table.oid == out[i].table.oid && c.name == out[i].name)
            .count();
        if same > 0 {
            out[i].oid = derived_oid(out[i].table.oid, &format!("{}#{same}", out[i].name));
        }
    }
    out
}

/// The constraint with this OID.
pub fn by_oid(cat: &Catalog, oid: u32) -> Option<Constraint<'_>> {
    all(cat).into_iter().find(|c| c.oid == oid)
}

/// The positions of `tb`'s columns that `expr` names, in column order.
fn mentioned_columns(tb: &TableDef, expr: &str) -> Vec<usize> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, expr).tokenize() else {
        return vec![];
    };
    let mut cols: Vec<usize> = tokens
        .iter()
        .filter_map(|tok| match tok {
            Token::Word(w) if w.quote_style.is_some() => tb.column(&w.value),
            Token::Word(w) => tb.column(&w.value.to_lowercase()),
            _ => None,
        })
        .collect();
    cols.sort_unstable();
    cols.dedup();
    cols
}

/// Whether `s` is one parenthesised expression, `(...)`.
fn parenthesised(s: &str) -> bool {
    if !(s.starts_with('(') && s.ends_with(')')) {
        return false;
    }
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 < s.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

impl<'a> Constraint<'a> {
    fn new(table: &'a TableDef, name: &'a str, kind: Kind) -> Constraint<'a> {
        Constraint {
            oid: derived_oid(table.oid, name),
            name,
            table,
            kind,
            columns: vec![],
            index: 0,
            ref_table: 0,
            ref_columns: vec![],
            on_delete_cascade: false,
            check: None,
        }
    }

    /// What `pg_get_constraintdef` returns: `PRIMARY KEY (id)`,
    /// `FOREIGN KEY (a) REFERENCES t(id)`, `CHECK ((qty > 0))` (the
    /// expression in parentheses of its own, unless `pretty`).
    pub fn definition(&self, cat: &Catalog, search_path: &[String], pretty: bool) -> String {
        let names = |tb: Option<&TableDef>, cols: &[usize]| {
            cols.iter()
                .map(|c| {
                    tb.and_then(|tb| tb.columns.get(*c))
                        .map_or("?".into(), |c| quote_ident(&c.name))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let own = names(Some(self.table), &self.columns);
        match self.kind {
            Kind::PrimaryKey => format!("PRIMARY KEY ({own})"),
            Kind::Unique => format!("UNIQUE ({own})"),
            Kind::ForeignKey => {
                let target = cat.table_by_oid(self.ref_table).map(|t| t.as_ref());
                let mut def = format!(
                    "FOREIGN KEY ({own}) REFERENCES {}({})",
                    regclass_name(cat, self.ref_table, search_path),
                    names(target, &self.ref_columns)
                );
                if self.on_delete_cascade {
                    def.push_str(" ON DELETE CASCADE");
                }
                def
            }
            Kind::Check => {
                let expr =
                    super::deparse::check_expr(self.check.unwrap_or_default().trim(), self.table);
                let expr = expr.as_str();
                if pretty || parenthesised(expr) {
                    format!("CHECK ({expr})")
                } else {
                    format!("CHECK (({expr}))")
                }
            }
        }
    }
}

/// The constrained columns as an int2[] of attribute numbers.
fn attnums(cols: &[usize]) -> Value {
    Value::Array(cols.iter().map(|c| Value::Int2(*c as i16 + 1)).collect())
}

pub(super) fn pg_constraint(cat: &Catalog, out: &mut Vec<Row>) {
    for c in all(cat) {
        let fk = c.kind == Kind::ForeignKey;
        let action = |a: &str| t(if fk { a } else { " " });
        out.push(vec![
            o(c.oid),
            t(c.name),
            o(c.table.schema),
            t(c.kind.letter()),
            b(false),
            b(false),
            b(true),
            o(c.table.oid),
            o(0),
            o(c.index),
            o(0),
            o(c.ref_table),
            action("a"),
            action(if c.on_delete_cascade { "c" } else { "a" }),
            action("s"),
            b(true),
            Value::Int4(0),
            b(false),
            attnums(&c.columns),
            if fk {
                attnums(&c.ref_columns)
            } else {
                Value::Null
            },
            c.check.map_or(Value::Null, t),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::parenthesised;

    #[test]
    fn parenthesised_expressions() {
        assert!(parenthesised("(a > 0)"));
        assert!(parenthesised("((a > 0) AND (b > 0))"));
        assert!(!parenthesised("(a > 0) AND (b > 0)"));
        assert!(!parenthesised("a > 0"));
        assert!(!parenthesised("f(a)"));
    }
}
