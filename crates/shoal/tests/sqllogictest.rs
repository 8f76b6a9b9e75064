//! Runs every `tests/sql/*.slt` file through the PostgreSQL protocol, once
//! with the simple query protocol and once with the extended one (Parse /
//! Bind / Execute, binary results), each against a fresh `shoal dev`.
//!
//! Records Shoal does not pass yet are listed in
//! `tests/sql/known-failures.txt` (see [`known_failures_path`]).
//!
//! The same files are checked against PostgreSQL 15 itself:
//! `scripts/slt-postgres.sh` starts a throwaway PostgreSQL and runs this
//! test with `SHOAL_SLT_POSTGRES` set to its connection string, so every
//! expected result is what PostgreSQL returns.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage};

use common::{connect, DevCluster};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Simple,
    Extended,
}

struct Pg {
    client: Client,
    mode: Mode,
}

#[derive(Debug)]
struct PgError(tokio_postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The server's message, as psql would show it.
        match self.0.as_db_error() {
            Some(db) => write!(f, "{}", db.message()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for PgError {}

fn text(v: Option<&str>) -> String {
    match v {
        None => "NULL".to_string(),
        Some("") => "(empty)".to_string(),
        Some(s) => s.to_string(),
    }
}

#[async_trait]
impl AsyncDB for Pg {
    type Error = PgError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, PgError> {
        match self.mode {
            Mode::Simple => {
                let msgs = self.client.simple_query(sql).await.map_err(PgError)?;
                let mut rows = Vec::new();
                let mut described = None;
                let mut count = 0;
                for m in msgs {
                    match m {
                        SimpleQueryMessage::RowDescription(cols) => described = Some(cols.len()),
                        SimpleQueryMessage::Row(r) => {
                            rows.push((0..r.len()).map(|i| text(r.get(i))).collect());
                        }
                        SimpleQueryMessage::CommandComplete(n) => count = n,
                        _ => {}
                    }
                }
                match described {
                    Some(n) => Ok(DBOutput::Rows {
                        types: vec![DefaultColumnType::Any; n],
                        rows,
                    }),
                    None => Ok(DBOutput::StatementComplete(count)),
                }
            }
            Mode::Extended => {
                let stmt = self.client.prepare(sql).await.map_err(PgError)?;
                if stmt.columns().is_empty() {
                    let n = self.client.execute(&stmt, &[]).await.map_err(PgError)?;
                    return Ok(DBOutput::StatementComplete(n));
                }
                let result = self.client.query(&stmt, &[]).await.map_err(PgError)?;
                let rows = result
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.try_get::<_, Option<Raw>>(i) {
                                Ok(v) => text(v.map(|v| v.0).as_deref()),
                                Err(e) => format!("<undecodable: {e}>"),
                            })
                            .collect()
                    })
                    .collect();
                Ok(DBOutput::Rows {
                    types: vec![DefaultColumnType::Any; stmt.columns().len()],
                    rows,
                })
            }
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "postgres"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &PgError) -> Option<String> {
        err.0.code().map(|c| c.code().to_string())
    }
}

/// Any value in binary format, rendered as PostgreSQL's text output, so the
/// extended protocol's results compare with the same expectations.
struct Raw(String);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(render(ty, raw)?))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn render(ty: &Type, raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    Ok(match *ty {
        Type::BOOL => if bool::from_sql(ty, raw)? { "t" } else { "f" }.to_string(),
        Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
        Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
        Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
        Type::OID => u32::from_sql(ty, raw)?.to_string(),
        Type::FLOAT4 => float(f64::from(f32::from_sql(ty, raw)?)),
        Type::FLOAT8 => float(f64::from_sql(ty, raw)?),
        Type::NUMERIC => numeric(raw)?,
        Type::DATE => NaiveDate::from_sql(ty, raw)?.format("%Y-%m-%d").to_string(),
        Type::TIME => trim_fraction(
            NaiveTime::from_sql(ty, raw)?
                .format("%H:%M:%S%.6f")
                .to_string(),
        ),
        Type::TIMESTAMP => trim_fraction(
            NaiveDateTime::from_sql(ty, raw)?
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string(),
        ),
        Type::TIMESTAMPTZ => {
            let t = DateTime::<Utc>::from_sql(ty, raw)?;
            trim_fraction(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()) + "+00"
        }
        Type::BYTEA => {
            let mut s = String::from("\\x");
            for b in raw {
                s.push_str(&format!("{b:02x}"));
            }
            s
        }
        Type::UUID => {
            let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            if h.len() != 32 {
                return Err("bad uuid".into());
            }
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        }
        Type::JSONB => String::from_utf8(raw.get(1..).unwrap_or_default().to_vec())?,
        Type::INTERVAL => interval(raw)?,
        _ => String::from_utf8(raw.to_vec())?,
    })
}

fn trim_fraction(s: String) -> String {
    match s.split_once('.') {
        Some((head, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                head.to_string()
            } else {
                format!("{head}.{frac}")
            }
        }
        None => s,
    }
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        // PostgreSQL prints the shortest exact form, switching to
        // exponent notation outside 1e-4 .. 1e15.
        let a = v.abs();
        if a != 0.0 && !(1e-4..1e15).contains(&a) {
            let s = format!("{v:e}");
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
        } else {
            format!("{v}")
        }
    }
}

fn be16(raw: &[u8], at: usize) -> Result<i16, Box<dyn std::error::Error + Sync + Send>> {
    let b = raw.get(at..at + 2).ok_or("short numeric")?;
    Ok(i16::from_be_bytes([b[0], b[1]]))
}

/// PostgreSQL's numeric binary format: base-10000 digits, weight, sign, dscale.
fn numeric(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    let ndigits = be16(raw, 0)? as usize;
    let weight = be16(raw, 2)? as i32;
    let sign = be16(raw, 4)? as u16;
    let dscale = be16(raw, 6)? as usize;
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digits: Vec<i16> = (0..ndigits)
        .map(|i| be16(raw, 8 + 2 * i))
        .collect::<Result<_, _>>()?;
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            if d != 0 || w == weight {
                int_part = d.to_string();
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part = "0".into();
    }
    let mut frac = String::new();
    let mut w = weight + 1;
    while frac.len() < dscale {
        let d = if w < 0 {
            0
        } else {
            digits.get(w as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        w += 1;
    }
    frac.truncate(dscale);
    let neg = if sign == 0x4000 { "-" } else { "" };
    Ok(if dscale > 0 {
        format!("{neg}{int_part}.{frac}")
    } else {
        format!("{neg}{int_part}")
    })
}

/// PostgreSQL's default interval output ("1 year 2 mons 3 days 04:05:06").
fn interval(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    let b = raw.get(0..16).ok_or("short interval")?;
    let micros = i64::from_be_bytes(b[0..8].try_into()?);
    let days = i32::from_be_bytes(b[8..12].try_into()?);
    let months = i32::from_be_bytes(b[12..16].try_into()?);
    let mut parts = Vec::new();
    let (years, mons) = (months / 12, months % 12);
    let unit = |n: i32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if years != 0 {
        parts.push(unit(years, "year", "years"));
    }
    if mons != 0 {
        parts.push(unit(mons, "mon", "mons"));
    }
    if days != 0 {
        parts.push(unit(days, "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let secs = m / 1_000_000;
        let frac = m % 1_000_000;
        let mut t = format!(
            "{}{:02}:{:02}:{:02}",
            if neg { "-" } else { "" },
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        if frac != 0 {
            t = trim_fraction(format!("{t}.{frac:06}"));
        }
        parts.push(t);
    }
    Ok(parts.join(" "))
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    if let Ok(only) = std::env::var("SHOAL_SLT_ONLY") {
        // The file name only: a checkout's own path may contain the filter.
        files.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&only))
        });
    }
    files
}

/// The records of one file that failed, as `(line, message)`.
type Failures = Vec<(u32, String)>;

/// Runs one file record by record (so one failure does not hide the rest),
/// against a fresh `shoal dev`, or a fresh database on the PostgreSQL named
/// by `SHOAL_SLT_POSTGRES`.
async fn run_file(file: &PathBuf, mode: Mode) -> Result<Failures, String> {
    let (conn, cluster, pg_admin) = match std::env::var("SHOAL_SLT_POSTGRES") {
        Ok(base) => {
            let admin = connect(&format!("{base} dbname=postgres")).await;
            let db = format!(
                "slt_{}_{:?}",
                file.file_stem().unwrap_or_default().to_string_lossy(),
                mode
            )
            .to_lowercase()
            .replace('-', "_");
            admin
                .simple_query(&format!("DROP DATABASE IF EXISTS {db}"))
                .await
                .map_err(|e| e.to_string())?;
            admin
                .simple_query(&format!("CREATE DATABASE {db}"))
                .await
                .map_err(|e| e.to_string())?;
            (format!("{base} dbname={db}"), None, Some((admin, db)))
        }
        Err(_) => {
            let cluster = DevCluster::start(1);
            (cluster.conn_str(0), Some(cluster), None)
        }
    };
    let label = if pg_admin.is_some() {
        "postgres"
    } else {
        "shoal"
    };
    let mut runner = sqllogictest::Runner::new(move || {
        let conn = conn.clone();
        async move {
            Ok::<_, PgError>(Pg {
                client: connect(&conn).await,
                mode,
            })
        }
    });
    runner.add_label(label);
    runner.add_label(match mode {
        Mode::Simple => "simple",
        Mode::Extended => "extended",
    });
    let records = sqllogictest::parse_file::<DefaultColumnType>(file)
        .map_err(|e| format!("parse {}: {e}", file.display()))?;
    let mut failures = Vec::new();
    for record in records {
        if let sqllogictest::Record::Halt { .. } = record {
            break;
        }
        if let Err(e) = runner.run_async(record).await {
            failures.push((e.location().line(), e.display(false).to_string()));
        }
    }
    drop(runner);
    if let Some((admin, db)) = pg_admin {
        let _ = admin
            .simple_query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await;
    }
    drop(cluster);
    Ok(failures)
}

/// `tests/sql/known-failures.txt`: records Shoal does not pass yet, one
/// `file.slt:line mode` per line (`mode` is `simple` or `extended`). The
/// suite fails when a record outside the list fails; listed records that
/// pass are reported, to be pruned. Regenerate it with
/// `SHOAL_SLT_WRITE_KNOWN=1`.
fn known_failures_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sql/known-failures.txt")
}

fn load_known(mode: Mode) -> std::collections::BTreeSet<String> {
    let mode = format!("{mode:?}").to_lowercase();
    std::fs::read_to_string(known_failures_path())
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (loc, m) = l.split_once(' ')?;
            (m.trim() == mode).then(|| loc.to_string())
        })
        .collect()
}

fn write_known(mode: Mode, failing: &std::collections::BTreeSet<String>) {
    let mode_name = format!("{mode:?}").to_lowercase();
    let path = known_failures_path();
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| {
            l.starts_with('#')
                || (!l.trim().is_empty() && !l.trim_end().ends_with(&format!(" {mode_name}")))
        })
        .map(str::to_string)
        .collect();
    lines.extend(failing.iter().map(|f| format!("{f} {mode_name}")));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write known failures");
}

async fn run_all(mode: Mode) {
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found");
    let against_postgres = std::env::var("SHOAL_SLT_POSTGRES").is_ok();
    let filtered = std::env::var("SHOAL_SLT_ONLY").is_ok();
    // SHOAL_SLT_SHOW=1 prints every failure, listed ones too.
    let show_all = std::env::var("SHOAL_SLT_SHOW").is_ok();
    let known = if against_postgres {
        Default::default()
    } else {
        load_known(mode)
    };
    let mut failing = std::collections::BTreeSet::new();
    let mut unexpected = Vec::new();
    let mut total = 0;
    for file in &files {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        match run_file(file, mode).await {
            Ok(failures) => {
                for (line, msg) in failures {
                    total += 1;
                    let loc = format!("{name}:{line}");
                    if show_all {
                        eprintln!("{loc} ({mode:?}):\n{msg}\n");
                    }
                    if !known.contains(&loc) {
                        unexpected.push(format!("{loc} ({mode:?}):\n{msg}"));
                    }
                    failing.insert(loc);
                }
            }
            Err(e) => unexpected.push(format!("{name} ({mode:?}): {e}")),
        }
    }
    if std::env::var("SHOAL_SLT_WRITE_KNOWN").is_ok() && !against_postgres && !filtered {
        write_known(mode, &failing);
        return;
    }
    let fixed: Vec<&String> = if filtered {
        Vec::new()
    } else {
        known.difference(&failing).collect()
    };
    if !fixed.is_empty() {
        // Not a failure: progress. Prune the list with SHOAL_SLT_WRITE_KNOWN=1.
        eprintln!(
            "{} records listed in known-failures.txt now pass ({mode:?}): {fixed:?}",
            fixed.len()
        );
    }
    assert!(
        unexpected.is_empty(),
        "{} records failed, {} of them not listed in known-failures.txt:\n\n{}",
        total,
        unexpected.len(),
        unexpected.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_simple_protocol() {
    run_all(Mode::Simple).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_extended_protocol() {
    run_all(Mode::Extended).await;
}
