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
        return Ok(vec![Parsed::new(
            bare.to_string(),
            // Stands for CHECKPOINT (the dispatcher answers its tag).
            Some(Statement::UnlockTables),
        )]);
    }
    let first = bare.split_whitespace().next().unwrap_or("").to_lowercase();
    if let Some(stmt) = alter_sequence(bare)? {
        return Ok(vec![Parsed::new(bare.to_string(), Some(stmt))]);
    }
    if let Some(stmt) = set_constraints(bare)? {
        return Ok(vec![Parsed::new(bare.to_string(), Some(stmt))]);
    }
    if (first == "vacuum" || first == "analyze") && !bare.contains(';') {
        // VACUUM/ANALYZE with any options: accepted as no-ops.
        if let Ok(mut v) = Parser::parse_sql(&PostgreSqlDialect {}, &first) {
            if let Some(stmt) = v.pop() {
                return Ok(vec![Parsed::new(bare.to_string(), Some(stmt))]);
            }
        }
    }
    let stmts = match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(s) => s,
        Err(e) => match copy_options_fixed(sql).or_else(|| lock_strengths_fixed(sql)) {
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
                None => match continued_strings(sql).or_else(|| between_symmetric(sql)) {
                    Some(stmts) => stmts.map_err(|_| syntax_error(e))?,
                    None => return Err(syntax_error(e)),
                },
            },
        },
    };
    if stmts.is_empty() {
        return Ok(vec![Parsed::new(sql.to_string(), None)]);
    }
    let single = stmts.len() == 1;
    Ok(stmts
        .into_iter()
        .map(|s| {
            let text = if single {
                sql.trim().trim_end_matches(';').to_string()
            } else {
                s.to_string()
            };
            Parsed::new(text, Some(s))
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

/// Parses rewritten tokens.
fn parse_tokens(
    tokens: Vec<sqlparser::tokenizer::Token>,
) -> std::result::Result<Vec<Statement>, ParserError> {
    Parser::new(&PostgreSqlDialect {})
        .with_tokens(tokens)
        .parse_statements()
}

/// Parses `sql` with string constants separated only by whitespace that
/// holds a newline joined into one (`'a'` newline `'b'` is `'ab'`, as in
/// PostgreSQL); `None` when there are none.
fn continued_strings(sql: &str) -> Option<std::result::Result<Vec<Statement>, ParserError>> {
    use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut changed = false;
    let mut i = 0;
    while i < tokens.len() {
        if let Token::SingleQuotedString(first) = &tokens[i] {
            let mut joined = first.clone();
            let mut j = i + 1;
            loop {
                let mut k = j;
                let mut newline = false;
                while let Some(Token::Whitespace(w)) = tokens.get(k) {
                    newline |= matches!(
                        w,
                        Whitespace::Newline | Whitespace::SingleLineComment { .. }
                    );
                    k += 1;
                }
                match tokens.get(k) {
                    Some(Token::SingleQuotedString(next)) if newline && k > j => {
                        joined.push_str(next);
                        j = k + 1;
                        changed = true;
                    }
                    _ => break,
                }
            }
            out.push(Token::SingleQuotedString(joined));
            i = j;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    changed.then(|| parse_tokens(out))
}

/// The function name that marks the low bound of `BETWEEN SYMMETRIC`
/// (which sqlparser does not parse): not a name SQL can spell.
const SYMMETRIC: &str = "\u{0}symmetric";

/// The low bound of a BETWEEN marked SYMMETRIC by [`between_symmetric`].
pub fn symmetric_low(low: &sqlparser::ast::Expr) -> Option<&sqlparser::ast::Expr> {
    use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
    let Expr::Function(f) = low else {
        return None;
    };
    if f.name.0.len() != 1 || f.name.0[0].as_ident().map(|i| i.value.as_str()) != Some(SYMMETRIC) {
        return None;
    }
    match &f.args {
        FunctionArguments::List(l) => match l.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(x))] => Some(x),
            _ => None,
        },
        _ => None,
    }
}

/// Parses `sql` with `BETWEEN SYMMETRIC a AND b` written as `BETWEEN
/// <mark>(a) AND b` (and `BETWEEN ASYMMETRIC` as plain BETWEEN); `None`
/// when it has neither.
fn between_symmetric(sql: &str) -> Option<std::result::Result<Vec<Statement>, ParserError>> {
    use sqlparser::keywords::Keyword;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let is = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let word = |t: &Token, s: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(s));
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len() + 4);
    let mut changed = false;
    let mut i = 0;
    while i < tokens.len() {
        out.push(tokens[i].clone());
        if !is(&tokens[i], Keyword::BETWEEN) {
            i += 1;
            continue;
        }
        // The next word after whitespace.
        let mut j = i + 1;
        while matches!(tokens.get(j), Some(Token::Whitespace(_))) {
            j += 1;
        }
        match tokens.get(j) {
            Some(t) if word(t, "asymmetric") => {
                changed = true;
                i = j + 1;
            }
            Some(t) if word(t, "symmetric") => {
                changed = true;
                // The low bound runs to the AND at depth 0.
                let mut k = j + 1;
                let mut depth = 0i32;
                while let Some(t) = tokens.get(k) {
                    match t {
                        Token::LParen => depth += 1,
                        Token::RParen => depth -= 1,
                        t if depth == 0 && is(t, Keyword::AND) => break,
                        _ => {}
                    }
                    k += 1;
                }
                out.push(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
                out.push(Token::make_word(SYMMETRIC, Some('"')));
                out.push(Token::LParen);
                out.extend(tokens[j + 1..k].iter().cloned());
                out.push(Token::RParen);
                out.push(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
                i = k;
            }
            _ => i += 1,
        }
    }
    changed.then(|| parse_tokens(out))
}

/// `sql` with FOR NO KEY UPDATE / FOR KEY SHARE, which sqlparser does
/// not know, as the stronger FOR UPDATE / FOR SHARE (Shoal's row locks
/// are exclusive or shared; a stronger lock is always safe).
fn lock_strengths_fixed(sql: &str) -> Option<String> {
    use std::sync::OnceLock;
    static NO_KEY: OnceLock<regex::Regex> = OnceLock::new();
    static KEY_SHARE: OnceLock<regex::Regex> = OnceLock::new();
    let no_key = NO_KEY.get_or_init(|| {
        regex::Regex::new(r"(?i)\bFOR\s+NO\s+KEY\s+UPDATE\b").expect("valid regex")
    });
    let key_share = KEY_SHARE
        .get_or_init(|| regex::Regex::new(r"(?i)\bFOR\s+KEY\s+SHARE\b").expect("valid regex"));
    if !no_key.is_match(sql) && !key_share.is_match(sql) {
        return None;
    }
    let s = no_key.replace_all(sql, "FOR UPDATE");
    Some(key_share.replace_all(&s, "FOR SHARE").into_owned())
}

/// The first name part that marks an `ALTER SEQUENCE` (which sqlparser
/// does not parse) carried as a `Statement::CreateSequence`: the second
/// part is its RESTART (empty: none; `start`: RESTART; else the value),
/// the rest the sequence's name.
pub const ALTER_SEQUENCE: &str = "\u{0}alter_sequence";

/// `ALTER SEQUENCE [IF EXISTS] name options`, its options parsed by
/// sqlparser as CREATE SEQUENCE's, RESTART [WITH n] taken out first.
fn alter_sequence(bare: &str) -> Result<Option<Statement>> {
    use std::sync::OnceLock;
    static HEAD: OnceLock<regex::Regex> = OnceLock::new();
    static RESTART: OnceLock<regex::Regex> = OnceLock::new();
    let head = HEAD.get_or_init(|| {
        regex::Regex::new(r"(?is)^\s*alter\s+sequence\s+(if\s+exists\s+)?(\S+)(.*)$")
            .expect("valid regex")
    });
    let Some(m) = head.captures(bare) else {
        return Ok(None);
    };
    let if_exists = m.get(1).is_some();
    let name = m.get(2).map_or("", |x| x.as_str());
    let mut rest = m.get(3).map_or("", |x| x.as_str()).to_string();
    let restart_re = RESTART.get_or_init(|| {
        regex::Regex::new(r"(?i)\brestart\b(?:\s+(?:with\s+)?([+-]?\d+))?").expect("valid regex")
    });
    let mut restart = String::new();
    if let Some(r) = restart_re.captures(&rest) {
        restart = r
            .get(1)
            .map_or("start".to_string(), |v| v.as_str().to_string());
        let span = r.get(0).map_or(0..0, |x| x.range());
        rest.replace_range(span, " ");
    }
    let sql = format!("CREATE SEQUENCE {name} {rest}");
    let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, &sql).map_err(syntax_error)?;
    let Some(Statement::CreateSequence {
        name,
        sequence_options,
        ..
    }) = stmts.pop()
    else {
        return Err(Error::syntax("syntax error in ALTER SEQUENCE"));
    };
    let mut parts = vec![
        sqlparser::ast::ObjectNamePart::Identifier(sqlparser::ast::Ident::new(ALTER_SEQUENCE)),
        sqlparser::ast::ObjectNamePart::Identifier(sqlparser::ast::Ident::new(restart)),
    ];
    parts.extend(name.0);
    Ok(Some(Statement::CreateSequence {
        temporary: false,
        if_not_exists: if_exists,
        name: sqlparser::ast::ObjectName(parts),
        sequence_options,
    }))
}

/// The variable name that stands for `SET CONSTRAINTS` (which sqlparser
/// does not parse) in a `Statement::Set`: not a name SQL can spell.
pub const SET_CONSTRAINTS: &str = "\u{0}set_constraints";

/// `SET CONSTRAINTS ALL { DEFERRED | IMMEDIATE }`, as a SET of
/// [`SET_CONSTRAINTS`].
fn set_constraints(bare: &str) -> Result<Option<Statement>> {
    let words: Vec<String> = bare.split_whitespace().map(|w| w.to_lowercase()).collect();
    if words.len() < 2 || words[0] != "set" || words[1] != "constraints" {
        return Ok(None);
    }
    let mode = match words.last().map(String::as_str) {
        Some("deferred") => "deferred",
        Some("immediate") => "immediate",
        _ => {
            return Err(Error::syntax(format!(
                "syntax error at or near \"{}\"",
                words.last().map(String::as_str).unwrap_or("")
            )))
        }
    };
    if words.len() != 4 || words[2] != "all" {
        return Err(Error::new(
            crate::ErrorCode::FeatureNotSupported,
            "SET CONSTRAINTS with constraint names is not supported; use SET CONSTRAINTS ALL",
        ));
    }
    use sqlparser::ast::{Expr, Ident, ObjectName, Set, Value};
    Ok(Some(Statement::Set(Set::SingleAssignment {
        scope: None,
        hivevar: false,
        variable: ObjectName::from(vec![Ident::new(SET_CONSTRAINTS)]),
        values: vec![Expr::value(Value::SingleQuotedString(mode.to_string()))],
    })))
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
