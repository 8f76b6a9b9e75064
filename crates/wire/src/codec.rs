//! Framing and message codec: [`Conn`] reads frontend messages (decoded
//! here with bounds checks, so malformed input is an error, never a panic)
//! and buffers backend messages (encoded by `pgwire`'s message types).
//!
//! pgwire's own frontend decoders read past a message's end and panic on
//! truncated bodies (`get_u16` on an empty buffer), and they accept any
//! length up to 1 GiB; so frames are cut here, checked against
//! `max_message_bytes`, and each body is parsed by [`Reader`].

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use pgwire::messages::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{invalid_utf8, WireError};

/// The byte stream under a connection: plain TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Write buffer size after which rows are flushed mid-result, so a big
/// result streams instead of piling up in memory twice.
const FLUSH_AT: usize = 64 * 1024;

/// PostgreSQL's MAX_STARTUP_PACKET_LENGTH.
const MAX_STARTUP_PACKET: usize = 10_000;

/// A message from the client after startup.
#[derive(Debug, PartialEq)]
pub enum FrontendMessage {
    /// Simple query, raw bytes (UTF-8 is checked by the handler, so bad
    /// bytes are a 22021 error rather than a broken connection).
    Query(Bytes),
    Parse {
        name: String,
        query: Bytes,
        param_types: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Bytes>>,
        result_formats: Vec<i16>,
    },
    /// `kind` is `b'S'` (statement) or `b'P'` (portal).
    Describe {
        kind: u8,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: i32,
    },
    Close {
        kind: u8,
        name: String,
    },
    Sync,
    Flush,
    Terminate,
    CopyData(Bytes),
    CopyDone,
    CopyFail(String),
    /// PasswordMessage / SASLInitialResponse / SASLResponse: which one
    /// depends on the authentication exchange, so the body is kept raw.
    Password(Bytes),
}

impl FrontendMessage {
    /// The message's type byte, for "unexpected message" errors.
    pub fn type_byte(&self) -> u8 {
        match self {
            FrontendMessage::Query(_) => b'Q',
            FrontendMessage::Parse { .. } => b'P',
            FrontendMessage::Bind { .. } => b'B',
            FrontendMessage::Describe { .. } => b'D',
            FrontendMessage::Execute { .. } => b'E',
            FrontendMessage::Close { .. } => b'C',
            FrontendMessage::Sync => b'S',
            FrontendMessage::Flush => b'H',
            FrontendMessage::Terminate => b'X',
            FrontendMessage::CopyData(_) => b'd',
            FrontendMessage::CopyDone => b'c',
            FrontendMessage::CopyFail(_) => b'f',
            FrontendMessage::Password(_) => b'p',
        }
    }
}

/// What one read produced.
#[derive(Debug)]
pub enum Read {
    Message(FrontendMessage),
    /// A well-framed message of this type with a bad body (an ERROR, the
    /// connection goes on) or a broken frame (FATAL).
    Bad(u8, WireError),
    /// The client closed the connection.
    Eof,
}

/// One client connection's byte stream with its read and write buffers.
pub struct Conn {
    stream: Box<dyn Stream>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// The largest message (type byte excluded, length word included)
    /// accepted from the client.
    max_message: usize,
}

impl Conn {
    pub fn new(stream: Box<dyn Stream>, max_message: usize) -> Conn {
        Conn {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            max_message,
        }
    }

    /// Whether the client sent bytes we have not read yet (after
    /// SSLRequest that is an attack: they would bypass encryption).
    pub fn has_buffered_input(&self) -> bool {
        !self.rbuf.is_empty()
    }

    /// Takes the stream out (for the TLS handshake), leaving a placeholder.
    pub fn take_stream(&mut self) -> Box<dyn Stream> {
        let placeholder: Box<dyn Stream> = Box::new(tokio::io::duplex(1).0);
        std::mem::replace(&mut self.stream, placeholder)
    }

    pub fn set_stream(&mut self, stream: Box<dyn Stream>) {
        self.stream = stream;
    }

    /// Reads more bytes into the read buffer; `false` at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if !self.wbuf.is_empty() {
            // About to wait for the client: whatever it should see first
            // must be on the wire, or a pipelining client could deadlock.
            self.flush().await?;
        }
        Ok(self.stream.read_buf(&mut self.rbuf).await? > 0)
    }

    /// Reads the length-prefixed packet of the startup phase (SSLRequest,
    /// StartupMessage, CancelRequest): its body after the length word.
    pub async fn read_startup_packet(&mut self) -> io::Result<Result<Bytes, WireError>> {
        loop {
            if self.rbuf.len() >= 4 {
                let len =
                    i32::from_be_bytes([self.rbuf[0], self.rbuf[1], self.rbuf[2], self.rbuf[3]]);
                if len < 8 || len as usize > MAX_STARTUP_PACKET {
                    return Ok(Err(WireError::fatal(
                        "08P01",
                        "invalid length of startup packet",
                    )));
                }
                let len = len as usize;
                if self.rbuf.len() >= len {
                    let mut packet = self.rbuf.split_to(len);
                    packet.advance(4);
                    return Ok(Ok(packet.freeze()));
                }
            }
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads one message after startup.
    pub async fn read_message(&mut self) -> io::Result<Read> {
        loop {
            if self.rbuf.len() >= 5 {
                let ty = self.rbuf[0];
                let len =
                    i32::from_be_bytes([self.rbuf[1], self.rbuf[2], self.rbuf[3], self.rbuf[4]]);
                if len < 4 {
                    return Ok(Read::Bad(
                        ty,
                        WireError::fatal("08P01", "invalid message length"),
                    ));
                }
                let len = len as usize;
                if len > self.max_message {
                    return Ok(Read::Bad(
                        ty,
                        WireError::fatal("08P01", "invalid message length").with_detail(format!(
                            "A message of {len} bytes exceeds the limit of {} bytes.",
                            self.max_message
                        )),
                    ));
                }
                if self.rbuf.len() > len {
                    let mut frame = self.rbuf.split_to(1 + len);
                    frame.advance(5);
                    return Ok(match decode(ty, frame.freeze()) {
                        Ok(msg) => Read::Message(msg),
                        Err(e) => Read::Bad(ty, e),
                    });
                }
                self.rbuf.reserve(1 + len - self.rbuf.len());
            }
            if !self.fill().await? {
                return Ok(Read::Eof);
            }
        }
    }

    /// Buffers one backend message.
    pub fn send<M: Message>(&mut self, msg: &M) {
        let mark = self.wbuf.len();
        if let Err(e) = msg.encode(&mut self.wbuf) {
            // Only oversized messages fail to encode (a ParameterStatus
            // value over 10 kB); drop it whole rather than send half.
            self.wbuf.truncate(mark);
            tracing::warn!("dropped an unencodable message: {e}");
        }
    }

    /// Buffers a DataRow whose fields are already encoded (`count` fields,
    /// each length-prefixed) in `fields`.
    pub fn send_data_row(&mut self, count: usize, fields: &[u8]) {
        use bytes::BufMut;
        self.wbuf.reserve(7 + fields.len());
        self.wbuf.put_u8(b'D');
        self.wbuf.put_i32((4 + 2 + fields.len()) as i32);
        self.wbuf.put_i16(count as i16);
        self.wbuf.put_slice(fields);
    }

    /// Sends a raw byte (the answer to SSLRequest / GSSENCRequest).
    pub async fn send_byte_now(&mut self, b: u8) -> io::Result<()> {
        self.flush().await?;
        self.stream.write_all(&[b]).await?;
        self.stream.flush().await
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        // Advancing as bytes go out keeps this cancel-safe: a flush cut
        // short (shutdown) never sends a prefix twice.
        while !self.wbuf.is_empty() {
            let n = self.stream.write(&self.wbuf).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.wbuf.advance(n);
        }
        self.stream.flush().await
    }

    /// Flushes when enough output has piled up (called between rows).
    pub async fn flush_if_full(&mut self) -> io::Result<()> {
        if self.wbuf.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}

/// Decodes one message body of type `ty`.
pub fn decode(ty: u8, body: Bytes) -> Result<FrontendMessage, WireError> {
    let mut r = Reader { buf: body };
    let msg = match ty {
        b'Q' => FrontendMessage::Query(r.cbytes()?),
        b'P' => {
            let name = r.cstr()?;
            let query = r.cbytes()?;
            let n = r.i16()?;
            if n < 0 {
                return Err(WireError::protocol("invalid number of parameter types"));
            }
            let mut param_types = Vec::with_capacity((n as usize).min(r.remaining() / 4));
            for _ in 0..n {
                param_types.push(r.i32()? as u32);
            }
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            }
        }
        b'B' => {
            let portal = r.cstr()?;
            let statement = r.cstr()?;
            let param_formats = r.i16_array()?;
            let n = r.i16()?;
            if n < 0 {
                return Err(WireError::protocol("invalid number of parameters"));
            }
            let mut params = Vec::with_capacity((n as usize).min(r.remaining() / 4));
            for _ in 0..n {
                let len = r.i32()?;
                params.push(match len {
                    -1 => None,
                    len if len < 0 => {
                        return Err(WireError::protocol(format!(
                            "invalid parameter length {len}"
                        )))
                    }
                    len => Some(r.take(len as usize)?),
                });
            }
            let result_formats = r.i16_array()?;
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            }
        }
        b'D' => FrontendMessage::Describe {
            kind: r.u8()?,
            name: r.cstr()?,
        },
        b'E' => FrontendMessage::Execute {
            portal: r.cstr()?,
            max_rows: r.i32()?,
        },
        b'C' => FrontendMessage::Close {
            kind: r.u8()?,
            name: r.cstr()?,
        },
        b'S' => FrontendMessage::Sync,
        b'H' => FrontendMessage::Flush,
        b'X' => FrontendMessage::Terminate,
        b'd' => return Ok(FrontendMessage::CopyData(r.buf)),
        b'c' => FrontendMessage::CopyDone,
        b'f' => FrontendMessage::CopyFail(r.cstr()?),
        b'p' => return Ok(FrontendMessage::Password(r.buf)),
        other => {
            return Err(WireError::fatal(
                "08P01",
                format!("invalid frontend message type {other}"),
            ))
        }
    };
    if r.remaining() != 0 {
        return Err(WireError::protocol(format!(
            "invalid message format (message type \"{}\")",
            char::from(ty)
        )));
    }
    Ok(msg)
}

/// A bounds-checked reader over one message body.
pub struct Reader {
    pub buf: Bytes,
}

fn short() -> WireError {
    WireError::protocol("insufficient data left in message")
}

impl Reader {
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        if self.buf.is_empty() {
            return Err(short());
        }
        Ok(self.buf.get_u8())
    }

    pub fn i16(&mut self) -> Result<i16, WireError> {
        if self.buf.len() < 2 {
            return Err(short());
        }
        Ok(self.buf.get_i16())
    }

    pub fn i32(&mut self) -> Result<i32, WireError> {
        if self.buf.len() < 4 {
            return Err(short());
        }
        Ok(self.buf.get_i32())
    }

    pub fn take(&mut self, n: usize) -> Result<Bytes, WireError> {
        if self.buf.len() < n {
            return Err(short());
        }
        Ok(self.buf.split_to(n))
    }

    /// A NUL-terminated string's bytes, without the NUL.
    pub fn cbytes(&mut self) -> Result<Bytes, WireError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| WireError::protocol("invalid string in message"))?;
        let s = self.buf.split_to(end);
        self.buf.advance(1);
        Ok(s)
    }

    /// A NUL-terminated UTF-8 string.
    pub fn cstr(&mut self) -> Result<String, WireError> {
        let b = self.cbytes()?;
        match std::str::from_utf8(&b) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => Err(invalid_utf8(&b, e)),
        }
    }

    fn i16_array(&mut self) -> Result<Vec<i16>, WireError> {
        let n = self.i16()?;
        if n < 0 {
            return Err(WireError::protocol("invalid array length in message"));
        }
        let mut v = Vec::with_capacity((n as usize).min(self.remaining() / 2));
        for _ in 0..n {
            v.push(self.i16()?);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn bind_body(params: &[Option<&[u8]>]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_slice(b"p1\0s1\0");
        b.put_i16(1);
        b.put_i16(0);
        b.put_i16(params.len() as i16);
        for p in params {
            match p {
                Some(p) => {
                    b.put_i32(p.len() as i32);
                    b.put_slice(p);
                }
                None => b.put_i32(-1),
            }
        }
        b.put_i16(1);
        b.put_i16(1);
        b.freeze()
    }

    #[test]
    fn decodes_bind() {
        let msg = decode(b'B', bind_body(&[Some(b"42"), None])).unwrap();
        assert_eq!(
            msg,
            FrontendMessage::Bind {
                portal: "p1".into(),
                statement: "s1".into(),
                param_formats: vec![0],
                params: vec![Some(Bytes::from_static(b"42")), None],
                result_formats: vec![1],
            }
        );
    }

    #[test]
    fn truncated_messages_are_errors_not_panics() {
        let full = bind_body(&[Some(b"hello"), None]);
        for cut in 0..full.len() {
            let err = decode(b'B', full.slice(..cut)).unwrap_err();
            assert_eq!(err.code, "08P01", "cut at {cut}");
            assert!(!err.is_fatal());
        }
        for ty in [b'P', b'D', b'E', b'C', b'f', b'Q'] {
            assert!(decode(ty, Bytes::new()).is_err());
        }
    }

    #[test]
    fn trailing_bytes_and_unknown_types_are_rejected() {
        let mut body = BytesMut::from(&b"\0"[..]);
        body.put_i32(0);
        body.put_u8(7);
        assert_eq!(decode(b'E', body.freeze()).unwrap_err().code, "08P01");
        assert!(decode(b'?', Bytes::new()).unwrap_err().is_fatal());
    }

    #[test]
    fn invalid_utf8_in_names_is_22021() {
        let err = decode(b'D', Bytes::from_static(b"S\xff\0")).unwrap_err();
        assert_eq!(err.code, "22021");
    }

    proptest::proptest! {
        /// Any body of any type decodes or fails cleanly.
        #[test]
        fn decoding_never_panics(ty in proptest::prelude::any::<u8>(), body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode(ty, Bytes::from(body));
        }

        /// Bind bodies built from valid pieces and then cut or corrupted.
        #[test]
        fn corrupted_binds_never_panic(cut in 0usize..40, flip in 0usize..40, byte in proptest::prelude::any::<u8>()) {
            let mut body = bind_body(&[Some(b"hello"), None, Some(b"")]).to_vec();
            if flip < body.len() {
                body[flip] = byte;
            }
            body.truncate(cut.min(body.len()));
            let _ = decode(b'B', Bytes::from(body));
        }
    }

    #[tokio::test]
    async fn oversized_messages_are_fatal() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn = Conn::new(Box::new(server), 100);
        let mut m = BytesMut::new();
        m.put_u8(b'Q');
        m.put_i32(1_000_000);
        client.write_all(&m).await.unwrap();
        match conn.read_message().await.unwrap() {
            Read::Bad(_, e) => assert!(e.is_fatal()),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn reads_messages_split_across_reads() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn = Conn::new(Box::new(server), 1 << 20);
        tokio::spawn(async move {
            for chunk in [&b"Q\0\0"[..], b"\0\x0dselect", b" 1\0S\0\0\0\x04"] {
                client.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        match conn.read_message().await.unwrap() {
            Read::Message(FrontendMessage::Query(q)) => assert_eq!(&q[..], b"select 1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            conn.read_message().await.unwrap(),
            Read::Message(FrontendMessage::Sync)
        ));
        assert!(matches!(conn.read_message().await.unwrap(), Read::Eof));
    }
}
