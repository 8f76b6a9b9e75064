//! `UPDATE t SET a[i] = v` (and `INSERT ... ON CONFLICT DO UPDATE SET
//! a[i] = v`), which sqlparser does not parse: the target
//! is rewritten to a marked quoted identifier before parsing
//! ([`subscript_targets_marked`]), and after parsing the assignment
//! becomes `a = array_assign_subscript(a, i, v)`
//! ([`unmark_subscript_targets`]).

use sqlparser::ast::{self, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, Result};

/// Starts the quoted identifier that stands for a subscripted target.
const MARK: &str = "?subscript?";

/// `sql` with each `SET col[...] =` target of an UPDATE (or of an
/// INSERT's ON CONFLICT DO UPDATE) turned into the
/// identifier `"?subscript?col[...]"`; `None` when there is none.
pub(super) fn subscript_targets_marked(sql: &str) -> Option<String> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    let keyword = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.keyword == k);
    let first = tokens.iter().find(|t| !matches!(t, Token::Whitespace(_)))?;
    if !keyword(first, Keyword::UPDATE) && !keyword(first, Keyword::INSERT) {
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut changed = false;
    let mut depth = 0i32;
    // Inside the SET list, and whether the next word at depth 0 starts an
    // assignment target.
    let (mut in_set, mut expect_target) = (false, false);
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            if keyword(t, Keyword::SET) {
                (in_set, expect_target) = (true, true);
            } else if matches!(t, Token::Comma) && in_set {
                expect_target = true;
            } else if keyword(t, Keyword::FROM)
                || keyword(t, Keyword::WHERE)
                || keyword(t, Keyword::RETURNING)
            {
                (in_set, expect_target) = (false, false);
            }
        }
        if expect_target && depth == 0 && matches!(t, Token::Word(w) if w.keyword != Keyword::SET) {
            expect_target = false;
            if let Some((end, text)) = subscripted(&tokens, i) {
                out.push(format!("\"{MARK}{}\"", text.replace('"', "\"\"")));
                changed = true;
                i = end;
                continue;
            }
        }
        out.push(t.to_string());
        i += 1;
    }
    changed.then(|| out.concat())
}

/// `word [ ... ] [ ... ]` followed by `=` starting at `i`: the index after
/// the last `]` and the target's text.
fn subscripted(tokens: &[Token], i: usize) -> Option<(usize, String)> {
    let mut text = tokens[i].to_string();
    let mut j = i + 1;
    let mut any = false;
    while matches!(tokens.get(j), Some(Token::LBracket)) {
        let mut depth = 0;
        loop {
            let t = tokens.get(j)?;
            match t {
                Token::LBracket => depth += 1,
                Token::RBracket => depth -= 1,
                _ => {}
            }
            text.push_str(&t.to_string());
            j += 1;
            if depth == 0 {
                break;
            }
        }
        any = true;
    }
    let mut k = j;
    while matches!(tokens.get(k), Some(Token::Whitespace(_))) {
        k += 1;
    }
    (any && matches!(tokens.get(k), Some(Token::Eq))).then_some((j, text))
}

/// Turns each marked assignment `"?subscript?a[i]" = v` of an UPDATE
/// (or ON CONFLICT DO UPDATE) back into `a = array_assign_subscript(a, i, v)`.
pub(super) fn unmark_subscript_targets(stmt: &mut Statement) -> Result<()> {
    let assignments = match stmt {
        Statement::Update(u) => &mut u.assignments,
        Statement::Insert(ast::Insert {
            on:
                Some(ast::OnInsert::OnConflict(ast::OnConflict {
                    action: ast::OnConflictAction::DoUpdate(d),
                    ..
                })),
            ..
        }) => &mut d.assignments,
        _ => return Ok(()),
    };
    for a in assignments {
        let ast::AssignmentTarget::ColumnName(name) = &a.target else {
            continue;
        };
        let Some(text) = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .and_then(|id| id.value.strip_prefix(MARK))
        else {
            continue;
        };
        let target = super::parse_expr(text)?;
        let ast::Expr::CompoundFieldAccess { root, access_chain } = &target else {
            return Err(Error::syntax(format!("syntax error at or near \"{text}\"")));
        };
        let index = match access_chain.as_slice() {
            [ast::AccessExpr::Subscript(ast::Subscript::Index { index })] => index,
            _ => {
                return Err(Error::unsupported(
                    "assignment to a slice or to several subscripts",
                ))
            }
        };
        let ast::Expr::Identifier(col) = root.as_ref() else {
            return Err(Error::unsupported(format!("assignment to {root}")));
        };
        a.value = super::parse_expr(&format!(
            "array_assign_subscript({col}, {index}, {})",
            a.value
        ))?;
        a.target = ast::AssignmentTarget::ColumnName(ast::ObjectName::from(vec![col.clone()]));
    }
    Ok(())
}
