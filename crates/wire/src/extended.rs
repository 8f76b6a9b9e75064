//! The extended query protocol: Parse, Bind, Describe, Execute (with row
//! limits: a portal runs once and its rows are handed out in batches),
//! Close and Sync.

use std::sync::Arc;
use std::vec;

use bytes::Bytes;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use shoal_sql::session::{Column, Description, Output, Parsed};
use shoal_sql::{DataType, Value};

use crate::connection::{Connection, Fail};
use crate::error::{invalid_utf8, WireError};
use crate::values::{decode_params, result_formats, row_description};

/// A prepared statement: the parsed statement (`None` for the empty
/// query) and what Parse learned about it.
pub struct Prepared {
    /// Shared with the portals bound from it (and so is its plan).
    pub parsed: Option<Arc<Parsed>>,
    pub description: Description,
}

/// A bound statement, ready to run or part-way through its rows.
pub struct Portal {
    parsed: Option<Arc<Parsed>>,
    params: Vec<Value>,
    /// The result format of each column.
    formats: Vec<i16>,
    columns: Option<Vec<Column>>,
    state: PortalState,
}

enum PortalState {
    /// Not executed yet.
    Ready,
    /// Executed; rows are handed out by Execute.
    Rows {
        /// The result columns' types (json and jsonb differ in binary).
        types: Vec<shoal_sql::DataType>,
        rows: vec::IntoIter<Vec<Value>>,
        tag: String,
        /// Whether some Execute stopped at its row limit.
        suspended: bool,
    },
    /// All rows sent (`rows`: it was a row-returning statement).
    Done { rows: bool, tag: String },
    /// The execution failed.
    Failed,
}

/// The CommandComplete tag after a portal's last batch: PostgreSQL counts
/// only that batch's rows for a SELECT it suspended before.
pub fn final_tag(tag: &str, suspended: bool, sent_now: usize) -> String {
    if suspended && (tag == "SELECT" || tag.starts_with("SELECT ")) {
        format!("SELECT {sent_now}")
    } else {
        tag.to_string()
    }
}

fn no_statement(name: &str) -> WireError {
    if name.is_empty() {
        WireError::new("26000", "unnamed prepared statement does not exist")
    } else {
        WireError::new(
            "26000",
            format!("prepared statement \"{name}\" does not exist"),
        )
    }
}

fn no_portal(name: &str) -> WireError {
    WireError::new("34000", format!("portal \"{name}\" does not exist"))
}

impl Connection {
    pub async fn parse(
        &mut self,
        name: String,
        query: Bytes,
        param_types: Vec<u32>,
    ) -> Result<(), Fail> {
        if !name.is_empty() && self.statements.contains_key(&name) {
            return Err(WireError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            )
            .into());
        }
        let text = std::str::from_utf8(&query).map_err(|e| invalid_utf8(&query, e))?;
        let mut parsed: Vec<Parsed> = shoal_sql::session::parse(text)
            .map_err(WireError::from)?
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if parsed.len() > 1 {
            return Err(WireError::new(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            )
            .into());
        }
        let types = param_types
            .iter()
            .map(|&oid| match oid {
                0 => Ok(None),
                oid => DataType::from_oid(oid).map(Some).ok_or_else(|| {
                    WireError::new("42704", format!("type with OID {oid} does not exist"))
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parsed = parsed.pop().map(Arc::new);
        let description = match &parsed {
            Some(stmt) => {
                let described = self.session.describe(stmt, &types).await;
                self.send_notices();
                described.map_err(WireError::from)?
            }
            None => Description {
                params: types
                    .into_iter()
                    .map(|t| t.unwrap_or(DataType::Unknown))
                    .collect(),
                columns: None,
            },
        };
        self.statements.insert(
            name,
            Prepared {
                parsed,
                description,
            },
        );
        self.conn.send(&ParseComplete::new());
        Ok(())
    }

    pub fn bind(
        &mut self,
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Bytes>>,
        formats: Vec<i16>,
    ) -> Result<(), Fail> {
        let prepared = self
            .statements
            .get(&statement)
            .ok_or_else(|| no_statement(&statement))?;
        if !portal.is_empty() && self.portals.contains_key(&portal) {
            return Err(
                WireError::new("42P03", format!("cursor \"{portal}\" already exists")).into(),
            );
        }
        let values = decode_params(
            &statement,
            &prepared.description.params,
            &param_formats,
            &params,
            self.session.format_options(),
        )?;
        let columns = prepared.description.columns.clone();
        // PostgreSQL checks result formats only against a row description.
        let formats = match &columns {
            Some(columns) => result_formats(&formats, columns.len())?,
            None => Vec::new(),
        };
        let bound = Portal {
            parsed: prepared.parsed.clone(),
            params: values,
            formats,
            columns,
            state: PortalState::Ready,
        };
        self.portals.insert(portal, bound);
        self.conn.send(&BindComplete::new());
        Ok(())
    }

    pub fn describe(&mut self, kind: u8, name: &str) -> Result<(), Fail> {
        match kind {
            b'S' => {
                let prepared = self
                    .statements
                    .get(name)
                    .ok_or_else(|| no_statement(name))?;
                let types = prepared
                    .description
                    .params
                    .iter()
                    .map(DataType::oid)
                    .collect();
                let rows = prepared
                    .description
                    .columns
                    .as_ref()
                    .map(|c| row_description(c, &[]));
                self.conn.send(&ParameterDescription::new(types));
                match rows {
                    Some(rows) => self.conn.send(&rows),
                    None => self.conn.send(&NoData::new()),
                }
            }
            b'P' => {
                let portal = self.portals.get(name).ok_or_else(|| no_portal(name))?;
                match &portal.columns {
                    Some(columns) => {
                        let rows = row_description(columns, &portal.formats);
                        self.conn.send(&rows);
                    }
                    None => self.conn.send(&NoData::new()),
                }
            }
            other => {
                return Err(WireError::protocol(format!(
                    "invalid DESCRIBE message subtype {other}"
                ))
                .into());
            }
        }
        Ok(())
    }

    pub async fn execute(&mut self, name: &str, max_rows: i32) -> Result<(), Fail> {
        let mut portal = self.portals.remove(name).ok_or_else(|| no_portal(name))?;
        let result = self.execute_portal(name, &mut portal, max_rows).await;
        if result.is_err() {
            portal.state = PortalState::Failed;
        }
        self.portals.insert(name.to_string(), portal);
        result
    }

    async fn execute_portal(
        &mut self,
        name: &str,
        portal: &mut Portal,
        max_rows: i32,
    ) -> Result<(), Fail> {
        if let PortalState::Ready = portal.state {
            let Some(stmt) = &portal.parsed else {
                self.conn.send(&EmptyQueryResponse::new());
                return Ok(());
            };
            self.cancel.take();
            let output = self.session.execute(stmt, &portal.params).await;
            self.send_notices();
            let output = output.map_err(|e| Fail::Sql(e.into()));
            let output = match output {
                Ok(output) => output,
                Err(fail) => {
                    self.send_parameter_changes();
                    return Err(fail);
                }
            };
            match output {
                Output::Rows { rows, tag, columns } => {
                    portal.state = PortalState::Rows {
                        types: columns.into_iter().map(|c| c.data_type).collect(),
                        rows: rows.into_iter(),
                        tag,
                        suspended: false,
                    };
                }
                other => {
                    let tag = match &other {
                        Output::Command { tag } | Output::CopyOut { tag, .. } => tag.clone(),
                        _ => String::new(),
                    };
                    let sent = self.send_output(other, &portal.formats, false).await;
                    self.send_parameter_changes();
                    sent?;
                    portal.state = PortalState::Done { rows: false, tag };
                    return Ok(());
                }
            }
        }
        match &mut portal.state {
            PortalState::Ready => unreachable!("executed above"),
            PortalState::Rows {
                types,
                rows,
                tag,
                suspended,
            } => {
                let limit = if max_rows <= 0 {
                    usize::MAX
                } else {
                    max_rows as usize
                };
                let batch: Vec<Vec<Value>> = rows.by_ref().take(limit).collect();
                let sent = self.send_rows(batch.iter(), &portal.formats, types).await?;
                if rows.len() > 0 {
                    *suspended = true;
                    self.conn.send(&PortalSuspended::new());
                } else {
                    let tag = final_tag(tag, *suspended, sent);
                    self.conn.send(&CommandComplete::new(tag.clone()));
                    portal.state = PortalState::Done { rows: true, tag };
                }
                self.send_parameter_changes();
                Ok(())
            }
            PortalState::Done { rows: true, tag } => {
                // Running a finished SELECT portal again fetches nothing.
                let tag = final_tag(tag, true, 0);
                self.conn.send(&CommandComplete::new(tag));
                Ok(())
            }
            PortalState::Done { rows: false, .. } | PortalState::Failed => {
                Err(WireError::new("55000", format!("portal \"{name}\" cannot be run")).into())
            }
        }
    }

    pub fn close(&mut self, kind: u8, name: &str) -> Result<(), Fail> {
        match kind {
            b'S' => {
                self.statements.remove(name);
            }
            b'P' => {
                self.portals.remove(name);
            }
            other => {
                return Err(
                    WireError::protocol(format!("invalid CLOSE message subtype {other}")).into(),
                )
            }
        }
        self.conn.send(&CloseComplete::new());
        Ok(())
    }

    pub fn sync(&mut self) {
        self.skip_until_sync = false;
        self.ready_for_query();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_tags_count_only_the_last_batch() {
        assert_eq!(final_tag("SELECT 10", false, 10), "SELECT 10");
        assert_eq!(final_tag("SELECT 10", true, 3), "SELECT 3");
        assert_eq!(final_tag("INSERT 0 5", true, 2), "INSERT 0 5");
    }
}
