//! A minimal blocking HTTP/1.1 server on a free loopback port, std only.
//!
//! One handler turns each request body into a [`Reply`]. Connections are kept alive (a client
//! such as reqwest sends many JSON-RPC calls over one connection) until the peer closes them
//! or asks `Connection: close`; each connection gets its own thread. Only `Content-Length`
//! request bodies are read (at most [`MAX_BODY`] bytes), and every reply is
//! `Content-Type: application/json`. Used by `chaintrace demo` to replay its embedded recording
//! and by `chaintrace-testkit`'s fixture, fault and recording servers; it is not a general web
//! server.
#![cfg_attr(not(test), deny(unused_crate_dependencies))]
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The largest request body read (16 MiB); a longer `Content-Length` is cut to this.
pub const MAX_BODY: usize = 16 << 20;

/// How long a connection may sit idle between requests before its thread gives up.
const IDLE: Duration = Duration::from_secs(30);

/// What the handler does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status and body. `content_length` overrides the advertised length (a
    /// test can announce more bytes than it sends); `None` advertises `body.len()`.
    Send {
        /// The HTTP status code.
        status: u16,
        /// The response body (JSON).
        body: Vec<u8>,
        /// The `Content-Length` to advertise instead of the body's length.
        content_length: Option<usize>,
    },
    /// Close the connection without answering.
    Drop,
}

impl Reply {
    /// A `200 OK` with this JSON body.
    pub fn json(body: Vec<u8>) -> Self {
        Reply::Send { status: 200, body, content_length: None }
    }
}

/// A server on `127.0.0.1:<free port>`, accepting until dropped (drop stops the accept loop and
/// waits for it; connections already open finish on their own threads).
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Bind a free loopback port and serve every request with `handler`.
    ///
    /// Errors: binding the port or configuring the listener failed.
    pub fn start(handler: impl Fn(&[u8]) -> Reply + Send + Sync + 'static) -> std::io::Result<Server> {
        Self::start_routed(move |_path: &str, body: &[u8]| handler(body))
    }

    /// Like [`Server::start`], but the handler also gets the request path (`/wallet/…`), for
    /// REST-shaped APIs such as TRON's HTTP API.
    ///
    /// Errors: binding the port or configuring the listener failed.
    pub fn start_routed(handler: impl Fn(&str, &[u8]) -> Reply + Send + Sync + 'static) -> std::io::Result<Server> {
        Self::start_with_headers(move |path: &str, _headers: &[(String, String)], body: &[u8]| handler(path, body))
    }

    /// Like [`Server::start_routed`], but the handler also gets the request headers (names as
    /// sent, values trimmed), for tests that check what a client sends.
    ///
    /// Errors: binding the port or configuring the listener failed.
    pub fn start_with_headers(
        handler: impl Fn(&str, &[(String, String)], &[u8]) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handler = Arc::new(handler);
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let h = handler.clone();
                        std::thread::spawn(move || {
                            let _ = serve_conn(s, &*h);
                        });
                    }
                    // WouldBlock (nothing to accept) or a transient accept error: poll again.
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(Server { addr, stop, thread: Some(thread) })
    }

    /// The bound address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve requests on one connection (keep-alive) until the peer closes it, asks
/// `Connection: close`, or the handler drops it.
/// A request handler: path (with query), headers, body.
type Handler = dyn Fn(&str, &[(String, String)], &[u8]) -> Reply;

fn serve_conn(s: TcpStream, handler: &Handler) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(IDLE))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut len = 0usize;
        let mut close = false;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let t = h.trim_end();
            if t.is_empty() {
                break;
            }
            if let Some((k, v)) = t.split_once(':') {
                let k = k.trim();
                headers.push((k.to_string(), v.trim().to_string()));
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0).min(MAX_BODY);
                } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        match handler(path, &headers, &body) {
            Reply::Drop => return Ok(()),
            Reply::Send { status, body, content_length } => {
                let reason = match status {
                    200 => "OK",
                    400 => "Bad Request",
                    429 => "Too Many Requests",
                    503 => "Service Unavailable",
                    _ => "Status",
                };
                let head = format!(
                    "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    content_length.unwrap_or(body.len())
                );
                w.write_all(head.as_bytes())?;
                w.write_all(&body)?;
                w.flush()?;
            }
        }
        if close {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(s: &mut TcpStream, body: &str, close: bool) -> String {
        let conn = if close { "Connection: close\r\n" } else { "" };
        write!(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n{conn}\r\n{body}", body.len()).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut head = String::new();
        let mut len = 0;
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            head.push_str(&l);
            if l == "\r\n" {
                break;
            }
        }
        let mut b = vec![0; len];
        r.read_exact(&mut b).unwrap();
        format!("{}{}", head.lines().next().unwrap(), String::from_utf8(b).unwrap())
    }

    #[test]
    fn keeps_the_connection_alive_until_close_is_asked() {
        let server = Server::start(|b| Reply::json([b"[", b, b"]"].concat())).unwrap();
        let mut s = TcpStream::connect(server.addr()).unwrap();
        assert_eq!(request(&mut s, "1", false), "HTTP/1.1 200 OK[1]");
        assert_eq!(request(&mut s, "22", true), "HTTP/1.1 200 OK[22]");
        // The server closed its side after the `Connection: close` request.
        let mut rest = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
    }

    #[test]
    fn drop_closes_without_an_answer() {
        let server = Server::start(|_| Reply::Drop).unwrap();
        let mut s = TcpStream::connect(server.addr()).unwrap();
        write!(s, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap();
        let mut rest = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
    }
}
