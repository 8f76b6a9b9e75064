//! A session's settings (GUCs: SET/SHOW/RESET, set_config,
//! current_setting) and the rest of its per-connection state.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::types::FormatOptions;

/// `version()`.
pub const VERSION: &str =
    "PostgreSQL 15.8 (Shoal 0.1.0) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit";

/// Microseconds since 2000-01-01 UTC, now.
pub fn now_micros() -> i64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    unix - 946_684_800_000_000
}

/// Known parameters: (name, default, reported to the client in ParameterStatus).
const KNOWN: &[(&str, &str, bool)] = &[
    ("application_name", "", true),
    ("client_encoding", "UTF8", true),
    ("datestyle", "ISO, MDY", true),
    ("timezone", "UTC", true),
    ("intervalstyle", "postgres", true),
    ("integer_datetimes", "on", true),
    ("standard_conforming_strings", "on", true),
    ("server_version", "15.8", true),
    ("server_version_num", "150008", false),
    ("server_encoding", "UTF8", true),
    ("is_superuser", "on", true),
    ("session_authorization", "postgres", true),
    ("search_path", "\"$user\", public", false),
    ("statement_timeout", "0", false),
    ("lock_timeout", "0", false),
    ("idle_in_transaction_session_timeout", "0", false),
    ("extra_float_digits", "1", false),
    ("default_transaction_isolation", "read committed", false),
    ("transaction_isolation", "read committed", false),
    ("transaction_read_only", "off", false),
    ("default_transaction_read_only", "off", false),
    ("bytea_output", "hex", false),
    ("client_min_messages", "notice", false),
    ("synchronous_commit", "on", false),
    ("max_identifier_length", "63", false),
    ("lc_messages", "C", false),
    ("lc_monetary", "C", false),
    ("lc_numeric", "C", false),
    ("lc_time", "C", false),
    ("lc_collate", "C", false),
    ("lc_ctype", "C", false),
    ("work_mem", "4MB", false),
    ("maintenance_work_mem", "64MB", false),
    ("max_connections", "100", false),
    ("block_size", "8192", false),
    ("default_text_search_config", "pg_catalog.english", false),
    ("row_security", "on", false),
    ("escape_string_warning", "on", false),
    ("jit", "off", false),
    ("enable_seqscan", "on", false),
    ("enable_indexscan", "on", false),
    ("enable_hashjoin", "on", false),
    ("enable_nestloop", "on", false),
    ("enable_mergejoin", "on", false),
    ("enable_bitmapscan", "on", false),
    ("timezone_abbreviations", "Default", false),
    ("xmloption", "content", false),
    ("check_function_bodies", "on", false),
    ("default_tablespace", "", false),
    ("default_table_access_method", "heap", false),
    ("temp_tablespaces", "", false),
    ("session_replication_role", "origin", false),
    ("search_path_dummy", "", false),
    ("in_hot_standby", "off", true),
    ("default_with_oids", "off", false),
    ("log_min_messages", "warning", false),
    ("TimeZone_dummy", "", false),
];

/// The canonical (display) name of a parameter.
pub fn display_name(name: &str) -> String {
    match name {
        "datestyle" => "DateStyle".into(),
        "timezone" => "TimeZone".into(),
        "intervalstyle" => "IntervalStyle".into(),
        other => other.to_string(),
    }
}

/// The session's parameters.
#[derive(Clone, Debug)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// Session-level values that RESET returns to (startup parameters).
    defaults: BTreeMap<String, String>,
    /// Reported parameters changed since the wire layer last asked.
    changed: Vec<String>,
    pub format: FormatOptions,
}

impl Default for Settings {
    fn default() -> Self {
        let values: BTreeMap<String, String> = KNOWN
            .iter()
            .filter(|(n, _, _)| !n.ends_with("_dummy"))
            .map(|(n, v, _)| (n.to_string(), v.to_string()))
            .collect();
        Settings {
            defaults: values.clone(),
            values,
            changed: Vec::new(),
            format: FormatOptions::default(),
        }
    }
}

impl Settings {
    /// SHOW / current_setting.
    pub fn get(&self, name: &str) -> Result<String> {
        let n = name.to_lowercase();
        match self.values.get(&n) {
            Some(v) => Ok(v.clone()),
            None => Err(unrecognized(name)),
        }
    }

    /// SET name = value (validating what the session interprets).
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let n = name.to_lowercase();
        if !self.values.contains_key(&n) && !n.contains('.') {
            return Err(unrecognized(name));
        }
        let value = match n.as_str() {
            "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => {
                let d = parse_ms(value).ok_or_else(|| invalid(&n, value))?;
                show_ms(d)
            }
            "extra_float_digits" => {
                let d: i32 = value.trim().parse().map_err(|_| invalid(&n, value))?;
                if !(-15..=3).contains(&d) {
                    return Err(Error::new(
                        ErrorCode::InvalidParameterValue,
                        format!("{d} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"),
                    ));
                }
                self.format.extra_float_digits = d;
                value.to_string()
            }
            "timezone" => {
                let v = if value.eq_ignore_ascii_case("utc") {
                    "UTC".to_string()
                } else {
                    value.to_string()
                };
                if crate::types::tz::Zone::parse(&v).is_err() {
                    return Err(Error::new(
                        ErrorCode::InvalidParameterValue,
                        format!("invalid value for parameter \"TimeZone\": \"{value}\""),
                    ));
                }
                self.format.timezone = v.clone();
                v
            }
            "datestyle" => {
                let v = normalize_datestyle(value, &self.format.date_style)
                    .ok_or_else(|| invalid("DateStyle", value))?;
                self.format.date_style = v.clone();
                v
            }
            "intervalstyle" => {
                let v = value.trim().to_lowercase();
                if !matches!(
                    v.as_str(),
                    "postgres" | "postgres_verbose" | "sql_standard" | "iso_8601"
                ) {
                    return Err(Error::new(
                        ErrorCode::InvalidParameterValue,
                        format!("invalid value for parameter \"intervalstyle\": \"{value}\""),
                    )
                    .with_hint(
                        "Available values: postgres, postgres_verbose, sql_standard, iso_8601.",
                    ));
                }
                self.format.interval_style = v.clone();
                v
            }
            "client_encoding" => {
                // PostgreSQL's clean_encoding_name: only letters and digits
                // count, so asyncpg's quoted `'utf-8'` names UTF8.
                let up: String = value
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_uppercase();
                if up != "UTF8" && up != "UNICODE" && up != "SQLASCII" && up != "LATIN1" {
                    return Err(Error::new(
                        ErrorCode::InvalidParameterValue,
                        format!("invalid value for parameter \"client_encoding\": \"{value}\""),
                    ));
                }
                "UTF8".to_string()
            }
            "bytea_output" => {
                self.format.bytea_hex = !value.eq_ignore_ascii_case("escape");
                value.to_lowercase()
            }
            "transaction_isolation" | "default_transaction_isolation" => {
                let v = value.to_lowercase();
                if ![
                    "read committed",
                    "repeatable read",
                    "serializable",
                    "read uncommitted",
                ]
                .contains(&v.as_str())
                {
                    return Err(invalid(&n, value));
                }
                v
            }
            "server_version"
            | "server_encoding"
            | "integer_datetimes"
            | "server_version_num"
            | "max_identifier_length"
            | "block_size"
            | "lc_collate"
            | "lc_ctype" => {
                return Err(Error::new(
                    ErrorCode::ObjectNotInPrerequisiteState,
                    format!("parameter \"{n}\" cannot be changed"),
                ))
            }
            _ => value.to_string(),
        };
        if self.values.get(&n) != Some(&value) {
            if KNOWN.iter().any(|(k, _, reported)| *k == n && *reported) {
                self.changed.push(n.clone());
            }
            self.values.insert(n, value);
        }
        Ok(())
    }

    /// Returns every value to what `saved` holds (a rolled-back
    /// transaction's SETs), reporting the changes.
    pub fn restore(&mut self, saved: &Settings) {
        let keys: Vec<String> = self
            .values
            .keys()
            .chain(saved.values.keys())
            .cloned()
            .collect();
        for k in keys {
            match saved.values.get(&k) {
                Some(v) if self.values.get(&k) != Some(v) => {
                    let _ = self.set(&k, v);
                }
                None => {
                    self.values.remove(&k);
                }
                _ => {}
            }
        }
    }

    /// SET LOCAL: sets `name` until the transaction ends, remembering the
    /// value to go back to in `saves`.
    pub fn set_local(
        &mut self,
        name: &str,
        value: &str,
        saves: &mut Vec<(String, Option<String>)>,
    ) -> Result<()> {
        let n = name.to_lowercase();
        let old = self.values.get(&n).cloned();
        self.set(&n, value)?;
        if !saves.iter().any(|(k, _)| *k == n) {
            saves.push((n, old));
        }
        Ok(())
    }

    /// Undoes SET LOCALs at the end of a transaction.
    pub fn undo_local(&mut self, saves: Vec<(String, Option<String>)>) {
        for (k, v) in saves.into_iter().rev() {
            match v {
                Some(v) => {
                    let _ = self.set(&k, &v);
                }
                None => {
                    self.values.remove(&k);
                }
            }
        }
    }

    /// Makes the current values the ones RESET returns to (after startup).
    pub fn commit_defaults(&mut self) {
        self.defaults = self.values.clone();
        self.changed.clear();
    }

    /// The value RESET returns `name` to.
    pub fn default_of(&self, name: &str) -> Result<String> {
        let n = name.to_lowercase();
        match self.defaults.get(&n) {
            Some(v) => Ok(v.clone()),
            None if n.contains('.') => Ok(String::new()),
            None => Err(unrecognized(name)),
        }
    }

    /// RESET name.
    pub fn reset(&mut self, name: &str) -> Result<()> {
        let n = name.to_lowercase();
        match self.defaults.get(&n).cloned() {
            Some(v) => self.set(&n, &v),
            None if n.contains('.') => {
                // A custom parameter stays known, empty, after RESET.
                self.values.insert(n, String::new());
                Ok(())
            }
            None => Err(unrecognized(name)),
        }
    }

    /// RESET ALL.
    pub fn reset_all(&mut self) {
        let defaults = self.defaults.clone();
        for (k, v) in defaults {
            let _ = self.set(&k, &v);
        }
    }

    /// Reported parameters that changed, with their values.
    pub fn take_changes(&mut self) -> Vec<(String, String)> {
        let mut names = std::mem::take(&mut self.changed);
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| self.values.get(&n).map(|v| (display_name(&n), v.clone())))
            .collect()
    }

    /// All reported parameters (ParameterStatus after startup).
    pub fn reported(&self) -> Vec<(String, String)> {
        KNOWN
            .iter()
            .filter(|(_, _, r)| *r)
            .filter_map(|(n, _, _)| self.values.get(*n).map(|v| (display_name(n), v.clone())))
            .collect()
    }

    /// All parameters (pg_settings).
    pub fn all(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| (display_name(k), v.clone()))
            .collect()
    }

    /// The schemas to search, `$user` removed.
    pub fn search_path(&self) -> Vec<String> {
        let raw = self.values.get("search_path").cloned().unwrap_or_default();
        raw.split(',')
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with('"') && s.ends_with('"') && s.len() >= 2 {
                    s[1..s.len() - 1].to_string()
                } else {
                    s.to_lowercase()
                }
            })
            .filter(|s| s != "$user")
            .collect()
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.values
            .get("statement_timeout")
            .and_then(|v| parse_ms(v))
            .filter(|d| !d.is_zero())
    }

    pub fn lock_timeout(&self) -> Option<Duration> {
        self.values
            .get("lock_timeout")
            .and_then(|v| parse_ms(v))
            .filter(|d| !d.is_zero())
    }
}

fn unrecognized(name: &str) -> Error {
    Error::new(
        ErrorCode::UndefinedObject,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

fn invalid(name: &str, value: &str) -> Error {
    Error::new(
        ErrorCode::InvalidParameterValue,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// A duration setting: plain numbers are milliseconds; units ms, s, min, h.
fn parse_ms(v: &str) -> Option<Duration> {
    let v = v.trim().trim_matches('\'');
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1000.0,
        "min" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        "d" => n * 86_400_000.0,
        "us" => n / 1000.0,
        _ => return None,
    };
    if ms < 0.0 {
        return None;
    }
    Some(Duration::from_micros((ms * 1000.0) as u64))
}

/// A duration setting as SHOW prints it: in the largest unit that
/// divides it (`1500ms`, `5s`, `2min`), `0` when off.
fn show_ms(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0".into();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A DateStyle value as PostgreSQL keeps it (`German, DMY`): a style and
/// an order, each taken from `v` or else from `previous` (German alone
/// implies DMY); `None` for a word that is neither.
fn normalize_datestyle(v: &str, previous: &str) -> Option<String> {
    let mut prev = previous.split(',').map(str::trim);
    let (mut style, mut order) = (
        prev.next().unwrap_or("ISO").to_string(),
        prev.next().unwrap_or("MDY").to_string(),
    );
    let mut have_order = false;
    for word in v.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
        let w = word.trim_matches('\'').to_lowercase();
        match w.as_str() {
            "iso" => style = "ISO".into(),
            "sql" => style = "SQL".into(),
            "postgres" => style = "Postgres".into(),
            "german" => {
                style = "German".into();
                if !have_order {
                    order = "DMY".into();
                }
            }
            "dmy" | "euro" | "european" => (order, have_order) = ("DMY".into(), true),
            "mdy" | "us" | "noneuro" | "noneuropean" => (order, have_order) = ("MDY".into(), true),
            "ymd" => (order, have_order) = ("YMD".into(), true),
            "default" => {}
            _ => return None,
        }
    }
    Some(format!("{style}, {order}"))
}

/// Per-connection state statements read and change.
#[derive(Clone, Debug)]
pub struct SessionState {
    pub settings: Settings,
    pub user: String,
    pub database: String,
    pub superuser: bool,
    pub pid: i32,
    /// currval() per sequence oid.
    pub currval: HashMap<u32, i64>,
    pub lastval: Option<i64>,
    /// The transaction wrote the catalog: read it through the
    /// transaction (own writes), not the shared cache.
    pub catalog_dirty: bool,
    /// The catalog version the running statement was bound with.
    pub statement_catalog: u64,
    /// Set when the running statement failed because DDL committed while
    /// it waited for a table lock: it is bound again and rerun.
    pub stale_plan: bool,
    /// Notices for the client (NoticeResponse).
    pub notices: Vec<crate::session::Notice>,
    /// Inside a transaction block: the settings at BEGIN (a rollback
    /// restores them).
    pub block_settings: Option<Settings>,
    /// SET LOCAL values to undo when the transaction ends.
    pub local_saves: Vec<(String, Option<String>)>,
    /// Table intent locks this transaction holds (table oid, exclusive),
    /// so each is requested once per transaction.
    pub table_locks: std::collections::HashSet<(u32, bool)>,
    /// Foreign key checks deferred to COMMIT: (table oid, constraint,
    /// row key) of each row written while its constraint was deferred.
    pub deferred_checks: Vec<(u32, String, Vec<u8>)>,
    /// SET CONSTRAINTS ALL DEFERRED (true) / IMMEDIATE (false) for this
    /// transaction; `None` follows each constraint's INITIALLY.
    pub constraints_deferred: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset() {
        let mut s = Settings::default();
        s.set("application_name", "x").expect("set");
        assert_eq!(s.get("APPLICATION_NAME").expect("get"), "x");
        assert_eq!(
            s.take_changes(),
            vec![("application_name".to_string(), "x".to_string())]
        );
        assert!(s.set("nosuch", "1").is_err());
        s.set("my.var", "1").expect("dotted");
        s.set("statement_timeout", "1s").expect("timeout");
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(1)));
        s.reset("statement_timeout").expect("reset");
        assert_eq!(s.statement_timeout(), None);
        assert_eq!(s.search_path(), vec!["public".to_string()]);
    }
}
