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
    // libpq may try GSS first and then SSL on the same connection; each
    // may be asked once.
    let (mut ssl_done, mut gss_done) = (false, false);
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
            SSL_REQUEST | GSSENC_REQUEST
                if (code == SSL_REQUEST && ssl_done) || (code == GSSENC_REQUEST && gss_done) =>
            {
                return Ok(Err(WireError::fatal(
                    "08P01",
                    "unsupported frontend protocol: SSL/GSS negotiation repeated",
                )));
            }
            SSL_REQUEST => {
                ssl_done = true;
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
                gss_done = true;
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
    match engine.role_auth(user).await {
        Ok(auth) => scram_exchange(conn, user, auth).await,
        Err(e) => Ok(Err(WireError::from(e).into_fatal())),
    }
}

/// The SASL exchange for `user`, whose stored credentials are `auth`.
async fn scram_exchange(
    conn: &mut Conn,
    user: &str,
    auth: Option<RoleAuth>,
) -> io::Result<Result<bool, WireError>> {
    let (verifier, mock) = match auth {
        Some(RoleAuth::Scram(v)) => match Verifier::parse(&v) {
            Some(v) => (v, false),
            None => {
                tracing::warn!(user, "role has an unreadable SCRAM verifier");
                (Verifier::mock(user), true)
            }
        },
        // No such role, or no password: run the exchange anyway and fail
        // it, so the answer does not tell which roles exist.
        _ => (Verifier::mock(user), true),
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
    use bytes::{BufMut, BytesMut};
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

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

    fn packet(code: i32, rest: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        b.put_i32(8 + rest.len() as i32);
        b.put_i32(code);
        b.put_slice(rest);
        b.to_vec()
    }

    fn startup_packet(version: i32) -> Vec<u8> {
        packet(version, &body(&[("user", "alice"), ("database", "db")]))
    }

    /// Reads one typed backend message.
    async fn recv(s: &mut (impl AsyncRead + Unpin)) -> (u8, Vec<u8>) {
        let ty = s.read_u8().await.expect("type");
        let len = s.read_i32().await.expect("length") as usize;
        let mut body = vec![0; len - 4];
        s.read_exact(&mut body).await.expect("body");
        (ty, body)
    }

    async fn send(s: &mut (impl AsyncWrite + Unpin), ty: u8, body: &[u8]) {
        let mut b = BytesMut::new();
        b.put_u8(ty);
        b.put_i32(4 + body.len() as i32);
        b.put_slice(body);
        s.write_all(&b).await.expect("write");
    }

    type Negotiation = tokio::task::JoinHandle<(Conn, Result<Opening, WireError>)>;

    /// Runs `negotiate` on the server end of a duplex.
    fn server(tls: Option<TlsAcceptor>) -> (DuplexStream, Negotiation) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(async move {
            let mut conn = Conn::new(Box::new(server), 1 << 20);
            let opening = negotiate(&mut conn, tls.as_ref())
                .await
                .expect("no I/O error");
            conn.flush().await.expect("flush");
            (conn, opening)
        });
        (client, task)
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

    #[tokio::test]
    async fn ssl_and_gss_are_refused_without_tls() {
        let (mut client, task) = server(None);
        client
            .write_all(&packet(GSSENC_REQUEST, &[]))
            .await
            .unwrap();
        assert_eq!(client.read_u8().await.unwrap(), b'N');
        client.write_all(&packet(SSL_REQUEST, &[])).await.unwrap();
        assert_eq!(client.read_u8().await.unwrap(), b'N');
        client.write_all(&startup_packet(3 << 16)).await.unwrap();
        let (_, opening) = task.await.unwrap();
        match opening.unwrap() {
            Opening::Session(req) => {
                assert_eq!((req.user.as_str(), req.database.as_str()), ("alice", "db"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn ssl_request_upgrades_to_tls() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testdata");
        let acceptor = crate::tls::acceptor(&crate::TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        })
        .unwrap();
        let (mut client, task) = server(Some(acceptor));
        client.write_all(&packet(SSL_REQUEST, &[])).await.unwrap();
        assert_eq!(client.read_u8().await.unwrap(), b'S');

        use rustls_pki_types::pem::PemObject;
        use tokio_rustls::rustls;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector
            .connect(name, client)
            .await
            .expect("TLS handshake");
        tls.write_all(&startup_packet(3 << 16)).await.unwrap();
        tls.flush().await.unwrap();
        let (_, opening) = task.await.unwrap();
        assert!(matches!(opening.unwrap(), Opening::Session(_)));
    }

    #[tokio::test]
    async fn data_pipelined_after_ssl_request_is_refused() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/testdata");
        let acceptor = crate::tls::acceptor(&crate::TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        })
        .unwrap();
        let (mut client, task) = server(Some(acceptor));
        let mut both = packet(SSL_REQUEST, &[]);
        both.extend(startup_packet(3 << 16));
        client.write_all(&both).await.unwrap();
        let (_, opening) = task.await.unwrap();
        assert!(opening.unwrap_err().is_fatal());
    }

    #[tokio::test]
    async fn cancel_request_cancels_the_registered_session() {
        let handle = shoal_sql::session::CancelHandle::default();
        let reg = crate::cancel::register(42, handle.clone());
        let (mut client, task) = server(None);
        let mut key = BytesMut::new();
        key.put_i32(reg.pid);
        key.put_i32(reg.secret);
        client
            .write_all(&packet(CANCEL_REQUEST, &key))
            .await
            .unwrap();
        let (_, opening) = task.await.unwrap();
        assert!(matches!(opening.unwrap(), Opening::Cancel));
        assert!(handle.take());
    }

    #[tokio::test]
    async fn newer_minor_versions_are_negotiated_down() {
        let (mut client, task) = server(None);
        let mut p = BytesMut::new();
        p.put_slice(&body(&[("user", "u"), ("_pq_.x", "1")])[..]);
        client.write_all(&packet((3 << 16) | 2, &p)).await.unwrap();
        let (_, opening) = task.await.unwrap();
        assert!(matches!(opening.unwrap(), Opening::Session(_)));
        let (ty, body) = recv(&mut client).await;
        assert_eq!(ty, b'v');
        assert_eq!(&body[..8], &[0, 3, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&body[8..], b"_pq_.x\0");
    }

    #[tokio::test]
    async fn bad_startup_packets_are_fatal() {
        let (mut client, task) = server(None);
        client.write_all(&[0, 0, 0, 2]).await.unwrap();
        assert!(task.await.unwrap().1.unwrap_err().is_fatal());
        let (mut client, task) = server(None);
        client.write_all(&startup_packet(2 << 16)).await.unwrap();
        assert_eq!(task.await.unwrap().1.unwrap_err().code, "0A000");
    }

    /// A SCRAM client (rust-postgres's) against `scram_exchange`.
    async fn scram_login(
        password: &str,
        auth: Option<RoleAuth>,
    ) -> (Result<bool, WireError>, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(async move {
            let mut conn = Conn::new(Box::new(server), 1 << 20);
            let r = scram_exchange(&mut conn, "alice", auth)
                .await
                .expect("no I/O error");
            conn.flush().await.unwrap();
            r
        });
        let (ty, body) = recv(&mut client).await;
        assert_eq!(ty, b'R');
        assert_eq!(&body[..4], &[0, 0, 0, 10], "AuthenticationSASL");
        assert_eq!(&body[4..], b"SCRAM-SHA-256\0\0");
        let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let mut initial = BytesMut::new();
        initial.put_slice(b"SCRAM-SHA-256\0");
        initial.put_i32(scram.message().len() as i32);
        initial.put_slice(scram.message());
        send(&mut client, b'p', &initial).await;
        let (ty, body) = recv(&mut client).await;
        assert_eq!((ty, &body[..4]), (b'R', &[0, 0, 0, 11][..]), "SASLContinue");
        scram.update(&body[4..]).unwrap();
        send(&mut client, b'p', scram.message()).await;
        let result = task.await.unwrap();
        let mut rest = Vec::new();
        if result == Ok(true) {
            let (ty, body) = recv(&mut client).await;
            assert_eq!((ty, &body[..4]), (b'R', &[0, 0, 0, 12][..]), "SASLFinal");
            scram.finish(&body[4..]).expect("server signature verifies");
            rest = body;
        }
        (result, rest)
    }

    #[tokio::test]
    async fn scram_exchange_with_a_driver() {
        let verifier = postgres_protocol::password::scram_sha_256(b"wonderland");
        let (ok, _) = scram_login("wonderland", Some(RoleAuth::Scram(verifier.clone()))).await;
        assert_eq!(ok, Ok(true));
        let (bad, _) = scram_login("rabbit", Some(RoleAuth::Scram(verifier))).await;
        assert_eq!(bad.unwrap_err().code, "28P01");
        let (none, _) = scram_login("x", None).await;
        assert_eq!(none.unwrap_err().code, "28P01");
        let (nopw, _) = scram_login("", Some(RoleAuth::NoPassword)).await;
        assert_eq!(nopw.unwrap_err().code, "28P01");
    }
}
