//! The startup phase: SSL/GSS negotiation, the StartupMessage (or a
//! CancelRequest), protocol version negotiation, and authentication
//! (trust or SCRAM-SHA-256 against the role's stored verifier).

use std::io;

use bytes::{Buf, Bytes};
use pgwire::messages::startup::{Authentication, NegotiateProtocolVersion};
use shoal_sql::session::{Engine, RoleAuth};
use tokio_rustls::TlsAcceptor;

use crate::codec::{Conn, FrontendMessage, Read, Reader};
use crate::error::WireError;
use crate::scram::{Exchange, Verifier, MECHANISM};
use crate::AuthMode;

const SSL_REQUEST: i32 = 80877103;
const GSSENC_REQUEST: i32 = 80877104;
const CANCEL_REQUEST: i32 = 80877102;

/// What the client asked for in its StartupMessage.
#[derive(Debug, PartialEq)]
pub struct StartupRequest {
    pub user: String,
    pub database: String,
    /// Every other parameter (`application_name`, `client_encoding`,
    /// `options`...), in the order sent.
    pub params: Vec<(String, String)>,
}

/// How the startup phase ended.
#[derive(Debug)]
pub enum Opening {
    /// A session should be opened for this request.
    Session(StartupRequest),
    /// It was a CancelRequest (handled); close without a reply.
    Cancel,
    /// The client went away or was refused; the reason (if any) was sent.
    Closed,
}

/// Runs negotiation until a StartupMessage or CancelRequest arrives.
/// Errors are FATAL (already decided by the caller to be sent and closed).
pub async fn negotiate(
    conn: &mut Conn,
    tls: Option<&TlsAcceptor>,
) -> io::Result<Result<Opening, WireError>> {
    let mut negotiated = false;
    loop {
        let packet = match conn.read_startup_packet().await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return Ok(Err(e)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Ok(Opening::Closed)),
            Err(e) => return Err(e),
        };
        let mut r = Reader { buf: packet };
        let Ok(code) = r.i32() else {
            return Ok(Err(WireError::fatal(
                "08P01",
                "invalid length of startup packet",
            )));
        };
        match code {
            SSL_REQUEST | GSSENC_REQUEST if negotiated => {
                return Ok(Err(WireError::fatal(
                    "08P01",
                    "unsupported frontend protocol: SSL/GSS negotiation repeated",
                )));
            }
            SSL_REQUEST => {
                negotiated = true;
                let Some(acceptor) = tls else {
                    conn.send_byte_now(b'N').await?;
                    continue;
                };
                conn.send_byte_now(b'S').await?;
                if conn.has_buffered_input() {
                    // Bytes sent before the handshake would be read as if
                    // they came over TLS (CVE-2021-23214).
                    return Ok(Err(WireError::fatal(
                        "08P01",
                        "received unencrypted data after SSL request",
                    )));
                }
                let plain = conn.take_stream();
                let stream = acceptor.accept(plain).await?;
                conn.set_stream(Box::new(stream));
            }
            GSSENC_REQUEST => {
                negotiated = true;
                conn.send_byte_now(b'N').await?;
            }
            CANCEL_REQUEST => {
                if let (Ok(pid), Ok(secret)) = (r.i32(), r.i32()) {
                    if !crate::cancel::cancel(pid, secret) {
                        tracing::debug!(pid, "cancel request with no matching session");
                    }
                }
                return Ok(Ok(Opening::Cancel));
            }
            version => {
                let (major, minor) = ((version >> 16) as u16, (version & 0xffff) as u16);
                if major != 3 {
                    return Ok(Err(WireError::fatal(
                        "0A000",
                        format!(
                            "unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
                        ),
                    )));
                }
                let (request, unsupported) = match parse_startup(r.buf) {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(e.into_fatal())),
                };
                if minor > 0 || !unsupported.is_empty() {
                    // The newest version this server speaks, 3.0, as PostgreSQL
                    // writes it (the full version number).
                    conn.send(&NegotiateProtocolVersion::new(3 << 16, unsupported));
                }
                return Ok(Ok(Opening::Session(request)));
            }
        }
    }
}

/// Parses the StartupMessage parameters; also returns the `_pq_.` protocol
/// options, which this server does not support.
pub fn parse_startup(body: Bytes) -> Result<(StartupRequest, Vec<String>), WireError> {
    let mut r = Reader { buf: body };
    let mut user = None;
    let mut database = None;
    let mut params = Vec::new();
    let mut unsupported = Vec::new();
    loop {
        let name = r.cstr()?;
        if name.is_empty() {
            break;
        }
        let value = r.cstr()?;
        match name.as_str() {
            "user" => user = Some(value),
            "database" => database = Some(value),
            _ if name.starts_with("_pq_.") => unsupported.push(name),
            _ => params.push((name, value)),
        }
    }
    if r.remaining() != 0 {
        return Err(WireError::protocol(
            "invalid startup packet layout: expected terminator as last byte",
        ));
    }
    let user = user.filter(|u| !u.is_empty()).ok_or_else(|| {
        WireError::fatal(
            "28000",
            "no PostgreSQL user name specified in startup packet",
        )
    })?;
    let database = database
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| user.clone());
    Ok((
        StartupRequest {
            user,
            database,
            params,
        },
        unsupported,
    ))
}

/// Authenticates `user`. `Ok(Ok(false))` means the client hung up in the
/// middle (psql does, to ask for a password, and then reconnects).
pub async fn authenticate(
    conn: &mut Conn,
    engine: &Engine,
    mode: AuthMode,
    user: &str,
) -> io::Result<Result<bool, WireError>> {
    match mode {
        AuthMode::Trust => {}
        AuthMode::Scram => match scram(conn, engine, user).await? {
            Ok(true) => {}
            other => return Ok(other),
        },
    }
    conn.send(&Authentication::Ok);
    Ok(Ok(true))
}

fn auth_failed(user: &str) -> WireError {
    WireError::fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

async fn scram(
    conn: &mut Conn,
    engine: &Engine,
    user: &str,
) -> io::Result<Result<bool, WireError>> {
    let (verifier, mock) = match engine.role_auth(user).await {
        Err(e) => return Ok(Err(WireError::from(e).into_fatal())),
        Ok(Some(RoleAuth::Scram(v))) => match Verifier::parse(&v) {
            Some(v) => (v, false),
            None => {
                tracing::warn!(user, "role has an unreadable SCRAM verifier");
                (Verifier::mock(user), true)
            }
        },
        // No such role, or no password: run the exchange anyway and fail
        // it, so the answer does not tell which roles exist.
        Ok(_) => (Verifier::mock(user), true),
    };

    conn.send(&Authentication::SASL(vec![MECHANISM.to_string()]));
    let data = match read_password(conn).await? {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Ok(false)),
        Err(e) => return Ok(Err(e)),
    };
    let mut r = Reader { buf: data };
    let initial = (|| {
        let mechanism = r.cstr()?;
        let len = r.i32()?;
        let data = if len < 0 {
            Bytes::new()
        } else {
            r.take(len as usize)?
        };
        Ok::<_, WireError>((mechanism, data))
    })();
    let (mechanism, data) = match initial {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.into_fatal())),
    };
    if mechanism != MECHANISM {
        return Ok(Err(WireError::fatal(
            "08P01",
            "client selected an invalid SASL authentication mechanism",
        )));
    }
    let (exchange, server_first) = match Exchange::start(verifier, mock, &data) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    conn.send(&Authentication::SASLContinue(Bytes::from(server_first)));
    let data = match read_password(conn).await? {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Ok(false)),
        Err(e) => return Ok(Err(e)),
    };
    match exchange.finish(&data) {
        Ok(Some(server_final)) => {
            conn.send(&Authentication::SASLFinal(Bytes::from(server_final)));
            Ok(Ok(true))
        }
        Ok(None) => Ok(Err(auth_failed(user))),
        Err(e) => Ok(Err(e)),
    }
}

/// Reads the next password-family message; `None` if the client left.
async fn read_password(conn: &mut Conn) -> io::Result<Result<Option<Bytes>, WireError>> {
    Ok(match conn.read_message().await? {
        Read::Message(FrontendMessage::Password(mut b)) => {
            let body = b.copy_to_bytes(b.remaining());
            Ok(Some(body))
        }
        Read::Message(FrontendMessage::Terminate) | Read::Eof => Ok(None),
        Read::Message(other) => Err(WireError::fatal(
            "08P01",
            format!(
                "expected SASL response, got message type {}",
                other.type_byte()
            ),
        )),
        Read::Bad(_, e) => Err(e.into_fatal()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pairs: &[(&str, &str)]) -> Bytes {
        let mut b = Vec::new();
        for (k, v) in pairs {
            b.extend_from_slice(k.as_bytes());
            b.push(0);
            b.extend_from_slice(v.as_bytes());
            b.push(0);
        }
        b.push(0);
        Bytes::from(b)
    }

    #[test]
    fn startup_parameters() {
        let (req, unsupported) = parse_startup(body(&[
            ("user", "alice"),
            ("application_name", "psql"),
            ("_pq_.compression", "on"),
        ]))
        .unwrap();
        assert_eq!(req.user, "alice");
        assert_eq!(req.database, "alice", "database defaults to the user");
        assert_eq!(req.params, vec![("application_name".into(), "psql".into())]);
        assert_eq!(unsupported, vec!["_pq_.compression".to_string()]);
    }

    #[test]
    fn startup_needs_a_user_and_a_terminator() {
        let e = parse_startup(body(&[("database", "x")])).unwrap_err();
        assert_eq!(e.code, "28000");
        assert!(parse_startup(Bytes::from_static(b"user\0bob\0")).is_err());
        assert!(parse_startup(Bytes::from_static(b"user\0bob")).is_err());
    }
}
