//! Stored DEFAULT and CHECK expressions as PostgreSQL prints them back
//! (pg_get_expr, pg_get_constraintdef): PostgreSQL keeps them as parsed
//! trees whose constants have taken their column's type, so a string
//! constant prints with its type (`'new'::text`) and so does an integer
//! compared with a numeric column (`amount > 0::numeric`). Shoal keeps
//! the text; this adds those labels to it.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::types::format_type;
use crate::catalog::TableDef;
use crate::types::DataType;

/// A column default as pg_get_expr shows it: a lone string constant
/// with its column's type name (without the type's modifier).
pub fn default_expr(sql: &str, ty: &DataType) -> String {
    let Some(tokens) = tokens(sql) else {
        return sql.to_string();
    };
    let solid: Vec<&Token> = tokens.iter().filter(|t| !is_space(t)).collect();
    match solid.as_slice() {
        [Token::SingleQuotedString(_)] => match string_label(ty) {
            Some(label) => format!("{}::{label}", sql.trim()),
            None => sql.to_string(),
        },
        _ => sql.to_string(),
    }
}

/// A CHECK expression as pg_get_constraintdef shows it: each constant
/// compared directly with a column gets that column's type where
/// PostgreSQL would print it.
pub fn check_expr(sql: &str, table: &TableDef) -> String {
    let Some(tokens) = tokens(sql) else {
        return sql.to_string();
    };
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !is_space(&tokens[i]))
        .collect();
    let column_type = |pos: Option<&usize>| -> Option<&DataType> {
        let Token::Word(w) = &tokens[*pos?] else {
            return None;
        };
        let name = if w.quote_style.is_some() {
            w.value.clone()
        } else {
            w.value.to_lowercase()
        };
        table
            .columns
            .iter()
            .find(|c| !c.dropped && c.name == name)
            .map(|c| &c.ty)
    };
    let mut labels: Vec<(usize, String)> = Vec::new();
    for (k, &i) in solid.iter().enumerate() {
        let label = match &tokens[i] {
            Token::Number(n, _) => Some(n.as_str()),
            Token::SingleQuotedString(_) => None,
            _ => continue,
        };
        if matches!(
            solid.get(k + 1).map(|&j| &tokens[j]),
            Some(Token::DoubleColon)
        ) {
            continue;
        }
        // `col op constant` or `constant op col`.
        let before = k.checked_sub(1).map(|p| &tokens[solid[p]]);
        let after = solid.get(k + 1).map(|&j| &tokens[j]);
        let ty = if before.is_some_and(is_comparison) {
            column_type(k.checked_sub(2).and_then(|p| solid.get(p)))
        } else if after.is_some_and(is_comparison) {
            column_type(solid.get(k + 2))
        } else {
            None
        };
        let Some(ty) = ty else { continue };
        let text = match label {
            Some(number) => number_label(number, ty),
            // A varchar or char column is compared as text, which
            // PostgreSQL prints as a cast of the column: left as it is.
            None if matches!(ty, DataType::Varchar(_) | DataType::Char(_)) => None,
            None => string_label(ty),
        };
        if let Some(t) = text {
            labels.push((i, t));
        }
    }
    let mut out = String::with_capacity(sql.len() + 16 * labels.len());
    for (i, tok) in tokens.iter().enumerate() {
        out.push_str(&tok.to_string());
        if let Some((_, l)) = labels.iter().find(|(at, _)| *at == i) {
            out.push_str("::");
            out.push_str(l);
        }
    }
    out
}

fn tokens(sql: &str) -> Option<Vec<Token>> {
    Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()
}

fn is_space(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

fn is_comparison(t: &Token) -> bool {
    matches!(
        t,
        Token::Eq | Token::Neq | Token::Lt | Token::Gt | Token::LtEq | Token::GtEq
    )
}

/// The label of a string constant of type `ty`: its type's name, except
/// for types whose comparisons PostgreSQL prints otherwise (varchar and
/// char are compared as text, with the column cast instead).
fn string_label(ty: &DataType) -> Option<String> {
    match ty {
        DataType::Unknown => None,
        _ => Some(format_type(ty.oid(), None)),
    }
}

/// The label of an integer constant compared with a column of type
/// `ty`: integers stay bare with integer columns and a constant with a
/// decimal point reads as numeric by itself.
fn number_label(n: &str, ty: &DataType) -> Option<String> {
    let integral = n.bytes().all(|b| b.is_ascii_digit());
    match ty {
        DataType::Numeric(_) if integral => Some("numeric".into()),
        DataType::Float8 => Some("double precision".into()),
        DataType::Float4 => Some("real".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_label_string_constants() {
        assert_eq!(default_expr("'new'", &DataType::Text), "'new'::text");
        assert_eq!(
            default_expr("'a'", &DataType::Varchar(Some(5))),
            "'a'::character varying"
        );
        assert_eq!(default_expr("1", &DataType::Int4), "1");
        assert_eq!(default_expr("now()", &DataType::Timestamptz), "now()");
    }
}
