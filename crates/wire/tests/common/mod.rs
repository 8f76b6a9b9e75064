//! Test harness: `serve()` over a real engine (in-memory object store and
//! an in-process coordinator), and a raw protocol client for what drivers
//! do not expose (exact message sequences, malformed input).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;
use shoal_coordinator::local::LocalCoordinator;
use shoal_coordinator::server::CoordinatorOptions;
use shoal_sql::session::Engine;
use shoal_txn::{Database, DatabaseOptions};
use shoal_wire::WireOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

async fn spawn_serve(
    engine: Arc<Engine>,
    opts: WireOptions,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<anyhow::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(shoal_wire::serve(listener, engine, opts, async move {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

/// A wire server on a free port, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<anyhow::Result<()>>>,
    pub engine: Arc<Engine>,
    /// Servers on the same engine started by [`Server::also_serve`].
    others: Vec<oneshot::Sender<()>>,
    _coordinator: LocalCoordinator,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(WireOptions::default()).await
    }

    pub async fn start_with(opts: WireOptions) -> Server {
        let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let root = Path::from("db");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let coordinator = LocalCoordinator::start(
            listener,
            objects.clone(),
            root.clone(),
            // As in `shoal dev`: the frontend calls the coordinator directly.
            CoordinatorOptions {
                in_process: true,
                ..CoordinatorOptions::default()
            },
        )
        .await
        .expect("coordinator");
        let db = Database::open_on(
            objects,
            root,
            DatabaseOptions {
                frontend_id: 1,
                coordinator: coordinator.addr.to_string(),
                address: "frontend-1".into(),
                cache_bytes: 1 << 20,
                disk_cache: None,
            },
        )
        .await
        .expect("frontend");
        let engine: Arc<Engine> = Engine::open(db, Default::default()).await.expect("engine");
        let (addr, tx, task) = spawn_serve(engine.clone(), opts).await;
        Server {
            addr,
            stop: Some(tx),
            task: Some(task),
            engine,
            others: Vec::new(),
            _coordinator: coordinator,
        }
    }

    /// Serves the same engine with other options on another port.
    pub async fn also_serve(&mut self, opts: WireOptions) -> SocketAddr {
        let (addr, tx, _) = spawn_serve(self.engine.clone(), opts).await;
        self.others.push(tx);
        addr
    }

    /// Stops the server and waits for `serve` to return.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("serve returns after shutdown")
                .expect("serve task")
                .expect("serve result");
        }
    }

    pub fn config(&self, user: &str) -> tokio_postgres::Config {
        config(self.addr, user)
    }

    /// A tokio-postgres client as `postgres`.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = self
            .config("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
    }

    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }
}

/// tokio-postgres settings for `user` on `addr`.
pub fn config(addr: SocketAddr, user: &str) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host(addr.ip().to_string())
        .port(addr.port())
        .user(user)
        .dbname("postgres");
    c
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// One backend message: its type byte and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg {
    pub ty: u8,
    pub body: Bytes,
}

impl Msg {
    /// The value of an ErrorResponse/NoticeResponse field.
    pub fn field(&self, code: u8) -> Option<String> {
        let mut b = self.body.clone();
        while b.has_remaining() {
            let c = b.get_u8();
            if c == 0 {
                break;
            }
            let end = b.iter().position(|&x| x == 0)?;
            let v = String::from_utf8_lossy(&b[..end]).into_owned();
            b.advance(end + 1);
            if c == code {
                return Some(v);
            }
        }
        None
    }

    pub fn sqlstate(&self) -> String {
        self.field(b'C').unwrap_or_default()
    }

    /// A body that is one C string (CommandComplete).
    pub fn text(&self) -> String {
        let end = self
            .body
            .iter()
            .position(|&x| x == 0)
            .unwrap_or(self.body.len());
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }
}

/// The type bytes of `msgs`, as a string ("TDCZ").
pub fn types(msgs: &[Msg]) -> String {
    msgs.iter().map(|m| m.ty as char).collect()
}

/// A raw protocol client.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

fn cstr(b: &mut BytesMut, s: &str) {
    b.put_slice(s.as_bytes());
    b.put_u8(0);
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: BytesMut::new(),
        }
    }

    /// Sends a length-prefixed packet without a type byte (startup phase).
    pub async fn send_untyped(&mut self, body: &[u8]) {
        let mut b = BytesMut::new();
        b.put_i32(4 + body.len() as i32);
        b.put_slice(body);
        self.stream.write_all(&b).await.expect("write");
    }

    /// Sends StartupMessage for `user` on `postgres` and reads up to the
    /// first ReadyForQuery (or error).
    pub async fn startup(&mut self, user: &str) -> Vec<Msg> {
        let mut b = BytesMut::new();
        b.put_i32(3 << 16);
        cstr(&mut b, "user");
        cstr(&mut b, user);
        cstr(&mut b, "database");
        cstr(&mut b, "postgres");
        b.put_u8(0);
        self.send_untyped(&b).await;
        self.until_ready().await
    }

    pub async fn send(&mut self, ty: u8, body: &[u8]) {
        let mut b = BytesMut::new();
        b.put_u8(ty);
        b.put_i32(4 + body.len() as i32);
        b.put_slice(body);
        self.stream.write_all(&b).await.expect("write");
    }

    /// The next message; `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<Msg> {
        loop {
            if self.buf.len() >= 5 {
                let len = i32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if self.buf.len() > len {
                    let ty = self.buf[0];
                    let mut frame = self.buf.split_to(1 + len);
                    frame.advance(5);
                    return Some(Msg {
                        ty,
                        body: frame.freeze(),
                    });
                }
            }
            let read =
                tokio::time::timeout(Duration::from_secs(20), self.stream.read_buf(&mut self.buf))
                    .await
                    .expect("server answers within 20 s");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// One byte (the answer to SSLRequest).
    pub async fn recv_byte(&mut self) -> u8 {
        self.stream.read_u8().await.expect("one byte")
    }

    /// Messages up to and including ReadyForQuery (or until the server
    /// closes the connection).
    pub async fn until_ready(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            let done = m.ty == b'Z';
            out.push(m);
            if done {
                break;
            }
        }
        out
    }

    pub async fn query(&mut self, sql: &str) -> Vec<Msg> {
        let mut b = BytesMut::new();
        cstr(&mut b, sql);
        self.send(b'Q', &b).await;
        self.until_ready().await
    }

    pub async fn parse(&mut self, name: &str, sql: &str, oids: &[u32]) {
        let mut b = BytesMut::new();
        cstr(&mut b, name);
        cstr(&mut b, sql);
        b.put_i16(oids.len() as i16);
        for o in oids {
            b.put_u32(*o);
        }
        self.send(b'P', &b).await;
    }

    pub async fn bind(
        &mut self,
        portal: &str,
        stmt: &str,
        formats: &[i16],
        params: &[Option<&[u8]>],
        results: &[i16],
    ) {
        let mut b = BytesMut::new();
        cstr(&mut b, portal);
        cstr(&mut b, stmt);
        b.put_i16(formats.len() as i16);
        for f in formats {
            b.put_i16(*f);
        }
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
        b.put_i16(results.len() as i16);
        for r in results {
            b.put_i16(*r);
        }
        self.send(b'B', &b).await;
    }

    pub async fn describe(&mut self, kind: u8, name: &str) {
        let mut b = BytesMut::new();
        b.put_u8(kind);
        cstr(&mut b, name);
        self.send(b'D', &b).await;
    }

    pub async fn execute(&mut self, portal: &str, max_rows: i32) {
        let mut b = BytesMut::new();
        cstr(&mut b, portal);
        b.put_i32(max_rows);
        self.send(b'E', &b).await;
    }

    pub async fn close(&mut self, kind: u8, name: &str) {
        let mut b = BytesMut::new();
        b.put_u8(kind);
        cstr(&mut b, name);
        self.send(b'C', &b).await;
    }

    pub async fn sync(&mut self) -> Vec<Msg> {
        self.send(b'S', &[]).await;
        self.until_ready().await
    }
}
