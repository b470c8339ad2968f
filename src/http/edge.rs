//! The listening edge: actix-web's HTTP/1 service over a TCP stream that gives the two answers
//! the HTTP parser writes itself — 400 for a request it cannot parse, 431 for a head over its
//! buffer — the JSON error envelope every other answer carries. The parser writes those with
//! an empty body as its last words on the connection; [`Enveloped`] recognises exactly such a
//! head (status line, `content-length: 0`, perhaps `connection: close`, `date`) at the end of a
//! write and writes it again with a body. Everything else passes through untouched.

use actix_http::{HttpService, KeepAlive, Protocol};
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt, fn_service, map_config,
};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceRequest, ServiceResponse};
use actix_web::{App, Error};
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The status lines of the answers the parser writes itself, and the envelope each gets.
const REWRITTEN: [(&str, &str, &str); 2] = [
    (
        "HTTP/1.1 400 Bad Request",
        "malformed_request",
        "the request line or headers could not be parsed",
    ),
    (
        "HTTP/1.1 431 Request Header Fields Too Large",
        "headers_too_large",
        "the request headers are larger than the server accepts",
    ),
];

/// An HTTP date is always 29 bytes (`Mon, 30 Nov 2026 14:03:49 GMT`).
const DATE_LEN: usize = 29;

/// The same answer with a JSON body, when `written` ends with one the parser wrote itself:
/// the status line, `content-length: 0`, `connection: close` when it closes, and `date`.
fn enveloped(written: &[u8]) -> Option<Vec<u8>> {
    // Almost every write ends with a body: nothing to look at, nothing allocated.
    if !written.ends_with(b"\r\n\r\n") {
        return None;
    }
    REWRITTEN.iter().find_map(|(status, code, message)| {
        for close in [true, false] {
            let connection = if close { "connection: close\r\n" } else { "" };
            let head = format!("{status}\r\ncontent-length: 0\r\n{connection}date: ");
            let whole = head.len() + DATE_LEN + 4;
            let Some(start) = written.len().checked_sub(whole) else {
                continue;
            };
            let tail = &written[start..];
            if !tail.starts_with(head.as_bytes()) || !tail.ends_with(b"\r\n\r\n") {
                continue;
            }
            let date = String::from_utf8_lossy(&tail[head.len()..head.len() + DATE_LEN]);
            let body = serde_json::json!({"error": {"code": code, "message": message, "details": {}}})
                .to_string();
            let mut out = written[..start].to_vec();
            out.extend_from_slice(
                format!(
                    "{status}\r\ncontent-length: {}\r\ncontent-type: application/json\r\n{connection}date: {date}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
            return Some(out);
        }
        None
    })
}

/// A stream whose writes pass through [`enveloped`].
pub struct Enveloped<T> {
    inner: T,
    /// Bytes of a rewritten answer still to be written.
    pending: Vec<u8>,
}

impl<T: AsyncWrite + Unpin> Enveloped<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    fn flush_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Enveloped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Enveloped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.flush_pending(cx))?;
        if let Some(rewritten) = enveloped(buf) {
            // The whole of `buf` is taken; the rewritten bytes go out before anything else.
            self.pending = rewritten;
            return match self.flush_pending(cx) {
                Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.flush_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.flush_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` over HTTP/1 through [`Enveloped`] streams, without signal
/// handling (the caller drains and stops through the server's handle).
pub fn serve<F, T, B>(
    listener: TcpListener,
    keep_alive: std::time::Duration,
    app: F,
) -> io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    Ok(Server::build()
        .disable_signals()
        .listen(format!("holdfast-{addr}"), listener, move || {
            let factory = app()
                .into_factory()
                .map_err(|err: Error| err.error_response());
            let http = HttpService::build()
                .keep_alive(KeepAlive::Timeout(keep_alive))
                .local_addr(addr)
                .finish(map_config(factory, |_| AppConfig::default()));
            fn_service(|io: actix_rt::net::TcpStream| async move {
                let peer = io.peer_addr().ok();
                let _ = io.set_nodelay(true);
                Ok::<_, actix_http::error::DispatchError>((
                    Enveloped::new(io),
                    Protocol::Http1,
                    peer,
                ))
            })
            .and_then(http)
        })?
        .run())
}

#[cfg(test)]
mod tests {
    use super::enveloped;

    #[test]
    fn the_parsers_own_answers_get_a_body_and_nothing_else_changes() {
        let date = "Mon, 30 Nov 2026 14:03:49 GMT";
        let bad = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: {date}\r\n\r\n"
        );
        let out = String::from_utf8(enveloped(bad.as_bytes()).expect("rewritten")).expect("utf8");
        let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains(&format!("date: {date}")), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(json["error"]["code"], "malformed_request");
        let large = bad.replace("400 Bad Request", "431 Request Header Fields Too Large");
        let out = String::from_utf8(enveloped(large.as_bytes()).expect("rewritten")).expect("utf8");
        assert!(out.contains("\"headers_too_large\""), "{out}");
        // An answer of the app's own, with a body, passes untouched.
        let ours = "HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\ncontent-type: application/json\r\n\r\n{\"error\":{}}";
        assert_eq!(enveloped(ours.as_bytes()), None);
        assert_eq!(
            enveloped(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        // After a good answer on the same connection, the parser's 400 keeps it open.
        let after = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{{}}HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: {date}\r\n\r\n"
        );
        let out = String::from_utf8(enveloped(after.as_bytes()).expect("rewritten")).expect("utf8");
        assert!(
            out.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 400"),
            "{out}"
        );
        let body = out.rsplit("\r\n\r\n").next().expect("a body");
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(
            json["error"]["message"],
            "the request line or headers could not be parsed"
        );
    }
}
