//! Functions that read the catalog: regclass and regtype input and
//! output (`regclassin`, `regclassout`, `to_regclass`, `regtypein`,
//! `regtypeout`, `to_regtype`), `format_type`,
//! `pg_get_constraintdef`, `pg_get_expr`, `pg_get_indexdef`,
//! `pg_get_viewdef`, `pg_get_userbyid`, `pg_table_is_visible`,
//! `pg_type_is_visible`, `pg_collation_is_visible`,
//! `pg_get_serial_sequence`, `has_table_privilege`, and the comment
//! functions (`obj_description`...). The catalog views they describe
//! are in `pg_catalog`.

use super::signature::Registry;
use super::{err, CatalogContext};
use crate::catalog::{split_qualified, Relation};
use crate::error::{Error, ErrorCode, Result};
use crate::pg_catalog::{constraints, relations, types};
use crate::types::{DataType, Value};

use DataType::{Bool, Int4, Name, Oid, Text};

pub(super) fn register(r: &mut Registry) {
    r.add_catalog(&["to_regclass"], &[Text], Oid, true, |a, c| {
        Ok(relations::resolve(c.catalog, text(&a[0]), c.search_path)
            .map_or(Value::Null, Value::Oid))
    });
    // `text::regclass` for a value only known at run time.
    r.add_catalog(&["regclassin"], &[Text], Oid, true, |a, c| {
        regclass_in(text(&a[0]), c).map(Value::Oid)
    });
    // `regclass::text`: the relation's name.
    r.add_catalog(&["regclassout"], &[Oid], Text, true, |a, c| {
        Ok(Value::Text(relations::regclass_name(
            c.catalog,
            oid(&a[0])?,
            c.search_path,
        )))
    });
    r.add_catalog(&["to_regtype"], &[Text], Oid, true, |a, _| {
        Ok(types::type_oid(text(&a[0])).map_or(Value::Null, Value::Oid))
    });
    r.add_catalog(&["regtypein"], &[Text], Oid, true, |a, _| {
        types::type_oid(text(&a[0])).map(Value::Oid)
    });
    r.add_catalog(&["regtypeout"], &[Oid], Text, true, |a, _| {
        Ok(Value::Text(types::regtype_name(oid(&a[0])?)))
    });
    r.add_catalog(&["format_type"], &[Oid, Int4], Text, false, |a, _| {
        if a[0].is_null() {
            return Ok(Value::Null);
        }
        let typmod = match &a[1] {
            Value::Null => None,
            v => Some(i32::try_from(int(v)?).unwrap_or(-1)),
        };
        Ok(Value::Text(types::format_type(oid(&a[0])?, typmod)))
    });
    r.add_catalog(&["pg_get_constraintdef"], &[Oid], Text, true, |a, c| {
        constraint_def(a, c, false)
    });
    r.add_catalog(
        &["pg_get_constraintdef"],
        &[Oid, Bool],
        Text,
        true,
        |a, c| constraint_def(a, c, matches!(a[1], Value::Bool(true))),
    );
    // Shoal keeps defaults and check expressions as SQL text, which is
    // what pg_attrdef.adbin and pg_constraint.conbin hold.
    r.add_catalog(&["pg_get_expr"], &[Text, Oid], Text, true, |a, _| {
        Ok(a[0].clone())
    });
    r.add_catalog(&["pg_get_expr"], &[Text, Oid, Bool], Text, true, |a, _| {
        Ok(a[0].clone())
    });
    r.add_catalog(&["pg_get_indexdef"], &[Oid], Text, true, |a, c| {
        Ok(
            relations::index(c.catalog, oid(&a[0])?).map_or(Value::Null, |(tb, ix)| {
                Value::Text(relations::index_definition(c.catalog, tb, ix))
            }),
        )
    });
    // Column `k` of the index (1-based), or the whole definition for 0.
    r.add_catalog(
        &["pg_get_indexdef"],
        &[Oid, Int4, Bool],
        Text,
        true,
        |a, c| {
            let k = int(&a[1])?;
            Ok(
                relations::index(c.catalog, oid(&a[0])?).map_or(Value::Null, |(tb, ix)| {
                    if k == 0 {
                        return Value::Text(relations::index_definition(c.catalog, tb, ix));
                    }
                    usize::try_from(k - 1)
                        .ok()
                        .and_then(|k| ix.columns.get(k))
                        .and_then(|col| tb.columns.get(*col))
                        .map_or(Value::Text(String::new()), |col| {
                            Value::Text(crate::func::quote_ident(&col.name))
                        })
                }),
            )
        },
    );
    // Every type and collation lives in pg_catalog, which is always on
    // the search path.
    r.add_catalog(
        &["pg_type_is_visible", "pg_collation_is_visible"],
        &[Oid],
        Bool,
        true,
        |_, _| Ok(Value::Bool(true)),
    );
    // Text first: an untyped literal names a view.
    r.add_catalog(&["pg_get_viewdef"], &[Text], Text, true, |a, c| {
        view_def(table_named(text(&a[0]), c)?.oid(), c)
    });
    r.add_catalog(&["pg_get_viewdef"], &[Text, Bool], Text, true, |a, c| {
        view_def(table_named(text(&a[0]), c)?.oid(), c)
    });
    r.add_catalog(&["pg_get_viewdef"], &[Oid], Text, true, |a, c| {
        view_def(oid(&a[0])?, c)
    });
    r.add_catalog(&["pg_get_viewdef"], &[Oid, Bool], Text, true, |a, c| {
        view_def(oid(&a[0])?, c)
    });
    r.add_catalog(&["pg_get_userbyid"], &[Oid], Name, true, |a, c| {
        let id = oid(&a[0])?;
        Ok(Value::Text(
            c.catalog
                .roles
                .iter()
                .find(|r| r.oid == id)
                .map_or_else(|| format!("unknown (OID={id})"), |r| r.name.clone()),
        ))
    });
    // COMMENT ON is accepted and not kept, so there are no comments.
    r.add_lax(&["obj_description"], &[Oid], false, Text, |_, _| {
        Ok(Value::Null)
    });
    r.add_lax(
        &["obj_description", "shobj_description"],
        &[Oid, Name],
        false,
        Text,
        |_, _| Ok(Value::Null),
    );
    r.add_lax(&["col_description"], &[Oid, Int4], false, Text, |_, _| {
        Ok(Value::Null)
    });
    r.add_catalog(&["pg_table_is_visible"], &[Oid], Bool, true, |a, c| {
        Ok(relations::is_visible(c.catalog, oid(&a[0])?, c.search_path)
            .map_or(Value::Null, Value::Bool))
    });
    r.add_catalog(
        &["pg_get_serial_sequence"],
        &[Text, Text],
        Text,
        true,
        |a, c| serial_sequence(text(&a[0]), text(&a[1]), c),
    );
    // Registration order breaks ties between untyped literals: a
    // quoted table is a name, not an OID.
    r.add_catalog(
        &["has_table_privilege"],
        &[Text, Text],
        Bool,
        true,
        |a, c| {
            table_named(text(&a[0]), c)?;
            privilege(text(&a[1]))?;
            Ok(Value::Bool(true))
        },
    );
    r.add_catalog(
        &["has_table_privilege"],
        &[Oid, Text],
        Bool,
        true,
        |a, c| {
            privilege(text(&a[1]))?;
            Ok(table_exists(oid(&a[0])?, c))
        },
    );
    r.add_catalog(
        &["has_table_privilege"],
        &[Name, Text, Text],
        Bool,
        true,
        |a, c| {
            role_named(text(&a[0]), c)?;
            table_named(text(&a[1]), c)?;
            privilege(text(&a[2]))?;
            Ok(Value::Bool(true))
        },
    );
    r.add_catalog(
        &["has_table_privilege"],
        &[Name, Oid, Text],
        Bool,
        true,
        |a, c| {
            role_named(text(&a[0]), c)?;
            privilege(text(&a[2]))?;
            Ok(table_exists(oid(&a[1])?, c))
        },
    );
    r.add_catalog(
        &["has_table_privilege"],
        &[Oid, Text, Text],
        Bool,
        true,
        |a, c| {
            let role = oid(&a[0])?;
            table_named(text(&a[1]), c)?;
            privilege(text(&a[2]))?;
            Ok(Value::Bool(role_exists(role, c)))
        },
    );
    r.add_catalog(
        &["has_table_privilege"],
        &[Oid, Oid, Text],
        Bool,
        true,
        |a, c| {
            let role = oid(&a[0])?;
            privilege(text(&a[2]))?;
            Ok(match table_exists(oid(&a[1])?, c) {
                Value::Bool(true) => Value::Bool(role_exists(role, c)),
                v => v,
            })
        },
    );
}

fn text(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
        _ => "",
    }
}

fn int(v: &Value) -> Result<i64> {
    super::num::as_i64(v).ok_or_else(|| Error::internal("integer argument expected"))
}

/// An OID argument; integers convert as PostgreSQL's int4 -> oid cast
/// does (negative int4 wraps around).
fn oid(v: &Value) -> Result<u32> {
    match v {
        Value::Oid(o) => Ok(*o),
        Value::Int2(i) => Ok(i32::from(*i) as u32),
        Value::Int4(i) => Ok(*i as u32),
        v => u32::try_from(int(v)?)
            .map_err(|_| err(ErrorCode::NumericValueOutOfRange, "OID out of range")),
    }
}

/// `'name'::regclass` at run time: a relation's name (or OID digits);
/// 42P01 when there is none.
fn regclass_in(name: &str, c: &CatalogContext<'_>) -> Result<u32> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse()
            .map_err(|_| err(ErrorCode::NumericValueOutOfRange, "OID out of range"));
    }
    let (schema, _) = split_qualified(name);
    if let Some(s) = schema {
        if c.catalog.schema(&s).is_none() {
            return Err(err(
                ErrorCode::UndefinedSchema,
                format!("schema \"{s}\" does not exist"),
            ));
        }
    }
    relations::resolve(c.catalog, name, c.search_path).ok_or_else(|| undefined_relation(name))
}

fn undefined_relation(name: &str) -> Error {
    let (schema, rel) = split_qualified(name);
    let full = match schema {
        Some(s) => format!("{s}.{rel}"),
        None => rel,
    };
    err(
        ErrorCode::UndefinedTable,
        format!("relation \"{full}\" does not exist"),
    )
}

/// The relation a text argument names (schema-qualified or found on
/// the search path); 42P01 or 3F000 when there is none.
fn table_named<'a>(name: &str, c: &'a CatalogContext<'_>) -> Result<&'a Relation> {
    let (schema, rel) = split_qualified(name);
    match c.catalog.lookup(schema.as_deref(), &rel, c.search_path)? {
        Some((_, r)) => Ok(r),
        None => Err(undefined_relation(name)),
    }
}

/// Whether a relation OID exists, as the OID forms of the privilege
/// functions answer: NULL when it does not.
fn table_exists(oid: u32, c: &CatalogContext<'_>) -> Value {
    if relations::relation_name(c.catalog, oid).is_some() {
        Value::Bool(true)
    } else {
        Value::Null
    }
}

/// 42704 unless the role exists (`public` always does).
fn role_named(name: &str, c: &CatalogContext<'_>) -> Result<()> {
    if name == "public" || c.catalog.role(name).is_some() {
        return Ok(());
    }
    Err(err(
        ErrorCode::UndefinedObject,
        format!("role \"{name}\" does not exist"),
    ))
}

fn role_exists(oid: u32, c: &CatalogContext<'_>) -> bool {
    c.catalog.roles.iter().any(|r| r.oid == oid)
}

/// Checks a privilege list (`SELECT`, `insert, update WITH GRANT
/// OPTION`): 22023 for a word that is not a table privilege. Shoal does
/// not enforce privileges (GRANT is accepted and ignored), so every
/// existing role holds every privilege.
fn privilege(list: &str) -> Result<()> {
    const TABLE_PRIVILEGES: &[&str] = &[
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "RULE",
    ];
    for item in list.split(',') {
        let word = item.trim().to_uppercase();
        let base = word.strip_suffix(" WITH GRANT OPTION").unwrap_or(&word);
        if !TABLE_PRIVILEGES.contains(&base) {
            return Err(err(
                ErrorCode::InvalidParameterValue,
                format!("unrecognized privilege type: \"{}\"", item.trim()),
            ));
        }
    }
    Ok(())
}

/// A view's query; NULL for another relation.
fn view_def(oid: u32, c: &CatalogContext<'_>) -> Result<Value> {
    Ok(c.catalog
        .views
        .get(&oid)
        .map_or(Value::Null, |v| Value::Text(v.query.clone())))
}

fn constraint_def(a: &[Value], c: &CatalogContext<'_>, pretty: bool) -> Result<Value> {
    Ok(
        constraints::by_oid(c.catalog, oid(&a[0])?).map_or(Value::Null, |con| {
            Value::Text(con.definition(c.catalog, c.search_path, pretty))
        }),
    )
}

/// `pg_get_serial_sequence(table, column)`: the schema-qualified
/// sequence a serial or identity column draws from, NULL when it has
/// none. The table name is parsed as SQL (lower-cased unless quoted);
/// the column name is taken as it is.
fn serial_sequence(table: &str, column: &str, c: &CatalogContext<'_>) -> Result<Value> {
    let tb = match table_named(table, c)? {
        Relation::Table(tb) => tb,
        Relation::View(v) if v.columns.iter().any(|n| n == column) => return Ok(Value::Null),
        Relation::View(v) => {
            return Err(err(
                ErrorCode::UndefinedColumn,
                format!(
                    "column \"{column}\" of relation \"{}\" does not exist",
                    v.name
                ),
            ))
        }
        Relation::Sequence(_) | Relation::Index(..) => return Ok(Value::Null),
    };
    let pos = tb.column_or_err(column)?;
    let mut seqs: Vec<_> = c.catalog.sequences.values().collect();
    seqs.sort_by_key(|s| s.oid);
    Ok(seqs
        .into_iter()
        .find(|s| s.owned_by == Some((tb.oid, pos)))
        .map_or(Value::Null, |s| {
            Value::Text(relations::qualified(c.catalog, s.schema, &s.name))
        }))
}

#[cfg(test)]
mod tests {
    use super::privilege;

    #[test]
    fn privilege_lists() {
        assert!(privilege("SELECT").is_ok());
        assert!(privilege("select , INSERT with grant option,rule").is_ok());
        for bad in ["", "FLY", "SELECT,", "SELECT WITH GRANT"] {
            let e = privilege(bad).expect_err(bad);
            assert!(e.to_string().contains("unrecognized privilege type"), "{e}");
        }
    }
}
