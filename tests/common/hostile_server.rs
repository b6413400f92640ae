//! A small misbehaving HTTP server for tests, bound to 127.0.0.1: it reads each request's head
//! and body, records them, and answers whatever the test's handler says, including answers no
//! well-behaved server gives (redirects to other origins, endless bodies, silence, HTML error
//! pages). Every connection gets one answer and is then closed.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What to do with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// These bytes as the whole answer.
    Raw(Vec<u8>),
    /// This head (status line and headers, without the blank line), then body bytes for as
    /// long as the client reads.
    Endless { head: String },
    /// Keep the connection open and never answer.
    Silence,
}

/// An answer with these headers and body (`Content-Length` and `Connection: close` added).
pub fn reply(status: u16, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Reply {
    let body = body.as_ref();
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Raw(bytes)
}

/// A JSON answer.
pub fn json(status: u16, body: &str) -> Reply {
    reply(status, &[("Content-Type", "application/json")], body)
}

/// A redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Reply {
    reply(status, &[("Location", location)], "")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A running hostile server; it stops when dropped.
pub struct HostileServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileServer {
    /// Starts a server answering each request with `handler(request, index)`, where `index`
    /// counts requests from 0 in the order they arrived.
    pub fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = requests.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let (handler, seen) = (handler.clone(), seen.clone());
                        tokio::spawn(async move { serve(stream, &*handler, &seen).await });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            addr,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// The most of a request head read (a 120 KB company id makes long heads).
const MAX_HEAD_BYTES: usize = 1024 * 1024;

async fn serve(mut stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Request>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    match handler(&request, index) {
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await.ok();
            stream.shutdown().await.ok();
        }
        Reply::Endless { head } => {
            if stream
                .write_all(format!("{head}\r\n\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            // Until the client hangs up (the write fails).
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Reply::Silence => {
            // Hold the connection until the client gives up.
            let mut buf = [0u8; 1024];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    // On the heap: a large array would make every connection's future large.
    let mut chunk = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_HEAD_BYTES);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    })
}

/// Waits until `done` holds, checking every 20 ms, for at most `deadline`.
pub fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}
