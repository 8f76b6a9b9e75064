//! Parsing: splits a query string into statements with sqlparser's
//! PostgreSQL dialect and maps its errors to PostgreSQL's syntax errors.

use sqlparser::ast::{Query, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::{Error, Result};
use crate::session::Parsed;

mod assign;

/// Splits `sql` into statements (see [`crate::session::parse`]).
pub fn parse(sql: &str) -> Result<Vec<Parsed>> {
    if sql.trim().is_empty() {
        return Ok(Vec::new());
    }
    // Statements sqlparser does not know, accepted as no-ops.
    let bare = sql.trim().trim_end_matches(';').trim();
    if bare.eq_ignore_ascii_case("checkpoint") {
        return Ok(vec![Parsed {
            text: bare.to_string(),
            // Stands for CHECKPOINT (the dispatcher answers its tag).
            statement: Some(Statement::UnlockTables),
        }]);
    }
    let first = bare.split_whitespace().next().unwrap_or("").to_lowercase();
    if (first == "vacuum" || first == "analyze") && !bare.contains(';') {
        // VACUUM/ANALYZE with any options: accepted as no-ops.
        if let Ok(mut v) = Parser::parse_sql(&PostgreSqlDialect {}, &first) {
            if let Some(stmt) = v.pop() {
                return Ok(vec![Parsed {
                    text: bare.to_string(),
                    statement: Some(stmt),
                }]);
            }
        }
    }
    let stmts = match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(s) => s,
        Err(e) => match copy_options_fixed(sql) {
            // COPY's boolean options may be written on/off, which
            // sqlparser does not take.
            Some(fixed) => {
                Parser::parse_sql(&PostgreSqlDialect {}, &fixed).map_err(|_| syntax_error(e))?
            }
            // Nor UPDATE ... SET a[i] = v.
            None => match assign::subscript_targets_marked(sql) {
                Some(fixed) => {
                    let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, &fixed)
                        .map_err(|_| syntax_error(e))?;
                    for s in &mut stmts {
                        assign::unmark_subscript_targets(s)?;
                    }
                    stmts
                }
                None => return Err(syntax_error(e)),
            },
        },
    };
    if stmts.is_empty() {
        return Ok(vec![Parsed {
            text: sql.to_string(),
            statement: None,
        }]);
    }
    let single = stmts.len() == 1;
    Ok(stmts
        .into_iter()
        .map(|s| Parsed {
            text: if single {
                sql.trim().trim_end_matches(';').to_string()
            } else {
                s.to_string()
            },
            statement: Some(s),
        })
        .collect())
}

/// `sql` with COPY options `freeze on`, `header off`... spelled true/false.
fn copy_options_fixed(sql: &str) -> Option<String> {
    if !sql.trim_start().to_lowercase().starts_with("copy") {
        return None;
    }
    let mut out = String::with_capacity(sql.len());
    let words: Vec<&str> = sql
        .split_inclusive(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .collect();
    let mut changed = false;
    for (i, w) in words.iter().enumerate() {
        let bare = w.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ')');
        let prev = if i > 0 {
            words[i - 1].trim().trim_start_matches('(').to_lowercase()
        } else {
            String::new()
        };
        let is_bool_opt = matches!(prev.as_str(), "freeze" | "header" | "csv_header");
        if is_bool_opt && (bare.eq_ignore_ascii_case("on") || bare.eq_ignore_ascii_case("off")) {
            let rest = &w[bare.len()..];
            out.push_str(if bare.eq_ignore_ascii_case("on") {
                "true"
            } else {
                "false"
            });
            out.push_str(rest);
            changed = true;
        } else {
            out.push_str(w);
        }
    }
    changed.then_some(out)
}

/// Parses one query (a view's stored text).
pub fn parse_query(sql: &str) -> Result<Query> {
    let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(syntax_error)?;
    match stmts.pop() {
        Some(Statement::Query(q)) if stmts.is_empty() => Ok(*q),
        _ => Err(Error::syntax(format!("not a query: {sql}"))),
    }
}

/// Parses one expression (a stored DEFAULT or CHECK).
pub fn parse_expr(sql: &str) -> Result<sqlparser::ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(syntax_error)
}

/// sqlparser's message as PostgreSQL words it.
fn syntax_error(e: ParserError) -> Error {
    let msg = match &e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => {
            return Error::new(crate::ErrorCode::Internal, "stack depth limit exceeded")
        }
    };
    if let Some(pos) = msg.find("found: ") {
        let rest = &msg[pos + 7..];
        let tok = match rest.find(" at Line:") {
            Some(i) => &rest[..i],
            None => rest,
        };
        if tok == "EOF" {
            return Error::syntax("syntax error at end of input");
        }
        return Error::syntax(format!(
            "syntax error at or near \"{}\"",
            tok.trim_matches('"')
        ));
    }
    if msg.contains("Unterminated string") {
        return Error::syntax(format!("unterminated quoted string: {msg}"));
    }
    Error::syntax(format!("syntax error: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        let v = parse("select 1; select 2").expect("parse");
        assert_eq!(v.len(), 2);
        assert!(parse("").expect("parse").is_empty());
        assert!(parse(";").expect("parse")[0].is_empty());
    }

    #[test]
    fn maintenance_statements_parse() {
        for q in [
            "vacuum analyze pgbench_branches",
            "VACUUM",
            "analyze t",
            "checkpoint",
        ] {
            assert_eq!(parse(q).expect(q).len(), 1, "{q}");
        }
    }

    #[test]
    fn copy_boolean_options_on_off() {
        let v = parse("copy t from stdin with (freeze on, header off)").expect("parse");
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn syntax_errors_read_like_postgres() {
        let e = parse("selec 1").expect_err("bad");
        assert_eq!(e.message, "syntax error at or near \"selec\"");
        let e = parse("select 1 +").expect_err("bad");
        assert_eq!(e.message, "syntax error at end of input");
    }
}
