//! One client connection: the startup phase, then the message loop that
//! runs simple queries and COPY here and the extended protocol in
//! [`crate::extended`], until the client leaves or the server shuts down.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, NoticeResponse, ReadyForQuery,
    TransactionStatus as RfqStatus,
};
use pgwire::messages::startup::{BackendKeyData, ParameterStatus, SecretKey};
use shoal_sql::session::{
    CancelHandle, CopyFormat, CopyIn, Engine, Output, Session, TransactionStatus,
};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};

use crate::codec::{Conn, FrontendMessage, Read};
use crate::error::{invalid_utf8, WireError};
use crate::extended::{Portal, Prepared};
use crate::startup::{self, Opening};
use crate::values::{encode_row, row_description};
use crate::Shared;

/// PostgreSQL's default authentication_timeout.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a message's processing stopped early.
#[derive(Debug)]
pub enum Fail {
    /// An error from the engine's `execute`/`copy_in`, which already
    /// failed the transaction block as needed.
    Sql(WireError),
    /// An error found here (protocol, parameters, describe): the
    /// transaction block is failed when it is reported.
    Client(WireError),
    /// The socket failed or the client left.
    Io(io::Error),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Io(e)
    }
}

impl From<WireError> for Fail {
    fn from(e: WireError) -> Fail {
        Fail::Client(e)
    }
}

/// Serves one accepted TCP connection to the end. `permit` is `None` when
/// the server is full: the client is then refused after the startup
/// packet (a CancelRequest is still honoured).
pub async fn handle(
    stream: TcpStream,
    engine: Arc<Engine>,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(Box::new(stream), shared.max_message_bytes);
    let opened = tokio::time::timeout(
        STARTUP_TIMEOUT,
        open(&mut conn, &engine, &shared, permit.is_some()),
    )
    .await;
    let session = match opened {
        Ok(Ok(Ok(Some(session)))) => session,
        Ok(Ok(Ok(None))) => return conn.shutdown().await,
        Ok(Ok(Err(e))) => return send_fatal(&mut conn, e).await,
        Ok(Err(e)) => {
            tracing::debug!("connection failed during startup: {e}");
            return;
        }
        Err(_) => {
            let e = WireError::fatal("08006", "canceling authentication due to timeout");
            return send_fatal(&mut conn, e).await;
        }
    };
    let registration = crate::cancel::register(session.backend_pid(), session.cancel_handle());
    let mut connection = Connection {
        cancel: session.cancel_handle(),
        conn,
        session,
        statements: HashMap::new(),
        portals: HashMap::new(),
        skip_until_sync: false,
    };
    for (name, value) in connection.session.startup_parameters() {
        connection.parameter_status(name, value);
    }
    connection.conn.send(&BackendKeyData::new(
        registration.pid,
        SecretKey::I32(registration.secret),
    ));
    connection.ready_for_query();
    match connection.run(shutdown).await {
        Ok(()) => {}
        Err(e) => tracing::debug!("connection ended: {e}"),
    }
    connection.session.close().await;
    connection.conn.shutdown().await;
    drop(registration);
    drop(permit);
}

/// The startup phase up to an open session; `Ok(Ok(None))` when there is
/// nothing more to do (a cancel request, or the client left).
async fn open(
    conn: &mut Conn,
    engine: &Arc<Engine>,
    shared: &Shared,
    have_slot: bool,
) -> io::Result<Result<Option<Session>, WireError>> {
    let request = match startup::negotiate(conn, shared.tls.as_ref()).await? {
        Ok(Opening::Session(request)) => request,
        Ok(Opening::Cancel | Opening::Closed) => return Ok(Ok(None)),
        Err(e) => return Ok(Err(e)),
    };
    if !have_slot {
        return Ok(Err(WireError::fatal(
            "53300",
            "sorry, too many clients already",
        )));
    }
    match startup::authenticate(conn, engine, shared.auth, &request.user).await? {
        Ok(true) => {}
        Ok(false) => return Ok(Ok(None)),
        Err(e) => return Ok(Err(e)),
    }
    match engine
        .new_session(&request.user, &request.database, &request.params)
        .await
    {
        Ok(session) => Ok(Ok(Some(session))),
        Err(e) => Ok(Err(WireError::from(e).into_fatal())),
    }
}

async fn send_fatal(conn: &mut Conn, e: WireError) {
    conn.send(&ErrorResponse::new(e.fields()));
    conn.shutdown().await;
}

/// An open session's connection state.
pub struct Connection {
    pub conn: Conn,
    pub session: Session,
    /// Taken before each statement, so a cancel that arrived while the
    /// session was idle does not cancel the next statement.
    pub cancel: CancelHandle,
    /// Prepared statements by name (`""` is the unnamed one).
    pub statements: HashMap<String, Prepared>,
    /// Portals by name (`""` is the unnamed one).
    pub portals: HashMap<String, Portal>,
    /// After an error in the extended protocol, messages are discarded
    /// until Sync.
    pub skip_until_sync: bool,
}

impl Connection {
    async fn run(&mut self, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
        loop {
            let read = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {
                    let e = WireError::fatal("57P01", "terminating connection due to administrator command");
                    self.conn.send(&ErrorResponse::new(e.fields()));
                    return Ok(());
                }
                read = self.conn.read_message() => read?,
            };
            let msg = match read {
                Read::Eof => return Ok(()),
                Read::Bad(_, e) if e.is_fatal() => {
                    self.conn.send(&ErrorResponse::new(e.fields()));
                    return Ok(());
                }
                Read::Bad(..) if self.skip_until_sync => continue,
                Read::Bad(b'Q', e) => {
                    // A simple query still gets its ReadyForQuery.
                    self.report(Fail::Client(e), false)?;
                    self.ready_for_query();
                    continue;
                }
                Read::Bad(_, e) => {
                    self.report(Fail::Client(e), true)?;
                    continue;
                }
                Read::Message(msg) => msg,
            };
            if self.skip_until_sync
                && !matches!(msg, FrontendMessage::Sync | FrontendMessage::Terminate)
            {
                continue;
            }
            let extended = !matches!(msg, FrontendMessage::Query(_));
            let result = match msg {
                FrontendMessage::Query(query) => {
                    let result = self.simple_query(query).await;
                    if let Err(fail) = result {
                        self.report(fail, false)?;
                    }
                    self.ready_for_query();
                    Ok(())
                }
                FrontendMessage::Parse {
                    name,
                    query,
                    param_types,
                } => self.parse(name, query, param_types).await,
                FrontendMessage::Bind {
                    portal,
                    statement,
                    param_formats,
                    params,
                    result_formats,
                } => self.bind(portal, statement, param_formats, params, result_formats),
                FrontendMessage::Describe { kind, name } => self.describe(kind, &name),
                FrontendMessage::Execute { portal, max_rows } => {
                    self.execute(&portal, max_rows).await
                }
                FrontendMessage::Close { kind, name } => self.close(kind, &name),
                FrontendMessage::Sync => {
                    self.sync();
                    Ok(())
                }
                FrontendMessage::Flush => self.conn.flush().await.map_err(Fail::Io),
                FrontendMessage::Terminate => return Ok(()),
                // Left over from a COPY that failed: ignored, as
                // PostgreSQL does, while the client finishes sending.
                FrontendMessage::CopyData(_)
                | FrontendMessage::CopyDone
                | FrontendMessage::CopyFail(_) => Ok(()),
                FrontendMessage::Password(_) => Err(Fail::Client(WireError::protocol(
                    "unexpected password message",
                ))),
            };
            if let Err(fail) = result {
                self.report(fail, extended)?;
            }
        }
    }

    /// Sends the error of a failed message (and the notices before it).
    /// A fatal error or a dead socket ends the connection (`Err`).
    pub fn report(&mut self, fail: Fail, extended: bool) -> io::Result<()> {
        let error = match fail {
            Fail::Io(e) => return Err(e),
            Fail::Sql(e) => e,
            Fail::Client(e) => {
                self.session.fail_transaction();
                e
            }
        };
        // Client mistakes are the client's business; internal and I/O
        // failures are ours, and this is where they are handled.
        if error.code.starts_with("XX") || error.code.starts_with("58") {
            tracing::error!(code = error.code, "statement failed: {}", error.message);
        }
        self.send_notices();
        self.conn.send(&ErrorResponse::new(error.fields()));
        if error.is_fatal() {
            return Err(io::Error::other(error.message));
        }
        if extended {
            self.skip_until_sync = true;
        }
        Ok(())
    }

    /// ReadyForQuery with the transaction status. Outside a transaction
    /// the portals are gone (they live until their transaction ends).
    pub fn ready_for_query(&mut self) {
        let status = match self.session.transaction_status() {
            TransactionStatus::Idle => {
                self.portals.clear();
                RfqStatus::Idle
            }
            TransactionStatus::InBlock => RfqStatus::Transaction,
            TransactionStatus::Failed => RfqStatus::Error,
        };
        self.conn.send(&ReadyForQuery::new(status));
    }

    fn parameter_status(&mut self, name: String, value: String) {
        self.conn.send(&ParameterStatus::new(name, value));
    }

    pub fn send_notices(&mut self) {
        for notice in self.session.take_notices() {
            let fields = vec![
                (b'S', notice.severity.clone()),
                (b'V', notice.severity),
                (b'C', notice.code),
                (b'M', notice.message),
            ];
            self.conn.send(&NoticeResponse::new(fields));
        }
    }

    /// ParameterStatus for every reported setting a statement changed.
    pub fn send_parameter_changes(&mut self) {
        for (name, value) in self.session.take_parameter_changes() {
            self.parameter_status(name, value);
        }
    }

    /// A simple Query message: every statement in turn, stopping at the
    /// first error. ReadyForQuery is the caller's.
    async fn simple_query(&mut self, query: Bytes) -> Result<(), Fail> {
        // PostgreSQL drops the unnamed statement and portal here.
        self.statements.remove("");
        self.portals.remove("");
        let text = std::str::from_utf8(&query).map_err(|e| invalid_utf8(&query, e))?;
        let parsed = shoal_sql::session::parse(text).map_err(WireError::from)?;
        if parsed.iter().all(|p| p.is_empty()) {
            self.conn.send(&EmptyQueryResponse::new());
            return Ok(());
        }
        for stmt in parsed.iter().filter(|p| !p.is_empty()) {
            self.cancel.take();
            let output = self.session.execute(stmt, &[]).await;
            self.send_notices();
            let output = output.map_err(|e| Fail::Sql(e.into()))?;
            let sent = self.send_output(output, &[], true).await;
            self.send_parameter_changes();
            sent?;
        }
        Ok(())
    }

    /// Sends what a statement produced, the rows in `formats` (text where
    /// missing), with a RowDescription first if `describe`.
    pub async fn send_output(
        &mut self,
        output: Output,
        formats: &[i16],
        describe: bool,
    ) -> Result<(), Fail> {
        match output {
            Output::Rows { columns, rows, tag } => {
                if describe {
                    self.conn.send(&row_description(&columns, formats));
                }
                let types: Vec<_> = columns.iter().map(|c| c.data_type.clone()).collect();
                self.send_rows(rows.iter(), formats, &types).await?;
                self.conn.send(&CommandComplete::new(tag));
            }
            Output::Command { tag } => self.conn.send(&CommandComplete::new(tag)),
            Output::Empty => self.conn.send(&EmptyQueryResponse::new()),
            Output::CopyIn(copy) => self.copy_in(copy).await?,
            Output::CopyOut {
                format,
                columns,
                data,
                tag,
            } => {
                let code = copy_format_code(format);
                self.conn.send(&CopyOutResponse::new(
                    code as i8,
                    columns as i16,
                    vec![code; columns],
                ));
                for chunk in data {
                    self.conn.send(&CopyData::new(Bytes::from(chunk)));
                    self.conn.flush_if_full().await?;
                }
                self.conn.send(&CopyDone::new());
                self.conn.send(&CommandComplete::new(tag));
            }
        }
        Ok(())
    }

    /// Sends DataRows; returns how many.
    pub async fn send_rows<'a>(
        &mut self,
        rows: impl Iterator<Item = &'a Vec<shoal_sql::Value>>,
        formats: &[i16],
        types: &[shoal_sql::DataType],
    ) -> Result<usize, Fail> {
        let mut fields = Vec::new();
        let mut count = 0;
        for row in rows {
            fields.clear();
            encode_row(
                row,
                formats,
                types,
                self.session.format_options(),
                &mut fields,
            )?;
            self.conn.send_data_row(row.len(), &fields);
            self.conn.flush_if_full().await?;
            count += 1;
        }
        Ok(count)
    }

    /// COPY ... FROM STDIN: CopyInResponse, then CopyData until CopyDone
    /// (or CopyFail), then the engine loads it all.
    async fn copy_in(&mut self, copy: CopyIn) -> Result<(), Fail> {
        let code = copy_format_code(copy.format);
        self.conn.send(&CopyInResponse::new(
            code as i8,
            copy.columns as i16,
            vec![code; copy.columns],
        ));
        self.conn.flush().await?;
        let mut data = Vec::new();
        loop {
            match self.conn.read_message().await? {
                Read::Eof => return Err(Fail::Io(io::ErrorKind::UnexpectedEof.into())),
                Read::Bad(_, e) => return Err(Fail::Client(e)),
                Read::Message(FrontendMessage::CopyData(chunk)) => data.extend_from_slice(&chunk),
                Read::Message(FrontendMessage::CopyDone) => break,
                Read::Message(FrontendMessage::CopyFail(message)) => {
                    return Err(Fail::Client(WireError::new(
                        "57014",
                        format!("COPY from stdin failed: {message}"),
                    )))
                }
                // Allowed during COPY, and meaningless there.
                Read::Message(FrontendMessage::Flush | FrontendMessage::Sync) => {}
                // PostgreSQL gives up on the connection here: whatever the
                // client sends next cannot be trusted to line up.
                Read::Message(other) => {
                    tracing::debug!(
                        "unexpected message type 0x{:02X} during COPY from stdin",
                        other.type_byte()
                    );
                    return Err(Fail::Client(WireError::fatal(
                        "08P01",
                        "terminating connection because protocol synchronization was lost",
                    )));
                }
            }
        }
        let rows = self.session.copy_in(&copy, &data).await;
        self.send_notices();
        let rows = rows.map_err(|e| Fail::Sql(e.into()))?;
        self.conn
            .send(&CommandComplete::new(format!("COPY {rows}")));
        Ok(())
    }
}

fn copy_format_code(format: CopyFormat) -> i16 {
    match format {
        CopyFormat::Binary => 1,
        CopyFormat::Text | CopyFormat::Csv => 0,
    }
}
