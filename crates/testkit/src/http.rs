//! A minimal blocking HTTP/1.1 client and server for loopback JSON-RPC in tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A loopback port free at the time of the call (bound, read and released), for a child process
/// (anvil, bitcoind) to listen on. Panics when no port can be bound.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// POST `body` (JSON) to `http://addr/` and read the whole response.
pub fn post(addr: SocketAddr, body: &[u8], timeout: Duration) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut len: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                len = v.trim().parse().ok();
            } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = len {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(Response { status, body })
}

/// What a handler does with one request (the server is the one in `chaintrace-loopback`, shared
/// with `chaintrace demo`).
pub use chaintrace_loopback::Reply;

/// A keep-alive HTTP server on a free loopback port (`chaintrace-loopback`'s), stopping on drop;
/// panics when no port can be bound, as a test must fail loudly.
pub struct Server(chaintrace_loopback::Server);

impl Server {
    /// Serve every request body with `handler`.
    pub fn start(handler: impl Fn(&[u8]) -> Reply + Send + Sync + 'static) -> Server {
        Server(chaintrace_loopback::Server::start(handler).expect("bind a loopback port for a test server"))
    }

    /// Like [`Server::start`], but the handler also gets the request path (`/wallet/…`), for
    /// REST-shaped APIs such as TRON's HTTP API.
    pub fn start_routed(handler: impl Fn(&str, &[u8]) -> Reply + Send + Sync + 'static) -> Server {
        Server(chaintrace_loopback::Server::start_routed(handler).expect("bind a loopback port for a test server"))
    }

    /// Like [`Server::start_routed`], but the handler also gets the request headers, to check
    /// what a client sends (an API key header, say).
    pub fn start_with_headers(
        handler: impl Fn(&str, &[(String, String)], &[u8]) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server(
            chaintrace_loopback::Server::start_with_headers(handler).expect("bind a loopback port for a test server"),
        )
    }

    /// The bound address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.0.url()
    }
}
