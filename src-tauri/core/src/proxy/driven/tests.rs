//! The pool against a raw HTTP/1.1 engine on loopback, which counts its connections.

use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;

/// How the engine treats a connection after each answer.
#[derive(Clone, Copy)]
enum After {
    KeepOpen,
    /// Close it without saying so (as an engine's idle timeout does).
    Close,
}

struct RawEngine {
    authority: Authority,
    accepted: Arc<AtomicUsize>,
    /// One message each time a connection is closed by Murmur's side.
    closed: mpsc::UnboundedReceiver<()>,
}

/// A listener on a free loopback port, and its address as an engine's.
pub(super) async fn loopback() -> (TcpListener, Authority) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority = listener
        .local_addr()
        .expect("address")
        .to_string()
        .parse()
        .expect("authority");
    (listener, authority)
}

/// Answer every request head with `answer`.
async fn raw_engine(answer: &'static [u8], after: After) -> RawEngine {
    let (listener, authority) = loopback().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, closed) = mpsc::unbounded_channel();
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        let _ = tx.send(());
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        head.clear();
                        let _ = stream.write_all(answer).await;
                        if let After::Close = after {
                            return;
                        }
                    }
                }
            });
        }
    });
    RawEngine {
        authority,
        accepted,
        closed,
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(http::header::HOST, "engine")
        .body(Body::empty())
        .expect("request")
}

async fn text(pool: &Pool, authority: &Authority) -> String {
    let response = pool.send(authority, get("/probe")).await.expect("answered");
    let body = response.into_body().collect().await.expect("body");
    String::from_utf8_lossy(&body.to_bytes()).into_owned()
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[tokio::test]
async fn a_connection_read_to_its_end_is_kept_and_used_again() {
    let engine = raw_engine(OK, After::KeepOpen).await;
    let pool = Pool::default();
    for _ in 0..3 {
        assert_eq!(text(&pool, &engine.authority).await, "ok");
    }
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_kept_connection_the_engine_has_closed_is_replaced_and_the_request_answered() {
    let engine = raw_engine(OK, After::Close).await;
    let pool = Pool::default();
    assert_eq!(text(&pool, &engine.authority).await, "ok");
    // The engine's close reaches Murmur's side of the kept connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(text(&pool, &engine.authority).await, "ok");
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_left_unread_closes_its_connection_and_is_not_reused() {
    // Ten bytes promised, five sent: the body never ends.
    let mut engine = raw_engine(
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello",
        After::KeepOpen,
    )
    .await;
    let pool = Pool::default();
    let response = pool
        .send(&engine.authority, get("/stuck"))
        .await
        .expect("answered");
    drop(response);
    // The engine sees its client leave, as it would a client that hung up.
    tokio::time::timeout(Duration::from_secs(5), engine.closed.recv())
        .await
        .expect("the connection was closed")
        .expect("a message");
    let again = pool.send(&engine.authority, get("/stuck")).await;
    assert!(again.is_ok(), "{:?}", again.err());
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_engine_that_listens_nowhere_is_a_connect_error() {
    let (listener, authority) = loopback().await;
    drop(listener);
    let error = Pool::default()
        .send(&authority, get("/probe"))
        .await
        .err()
        .expect("refused");
    assert!(error.is_connect(), "{error}");
}

/// An engine whose first connection answers one request, then closes on the next without
/// answering (its idle timeout firing as the request arrives); later connections answer all.
async fn closes_as_the_second_request_arrives() -> (Authority, Arc<AtomicUsize>) {
    let (listener, authority) = loopback().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut answered = 0;
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 || (first && answered == 1) {
                        return;
                    }
                    let _ = stream.write_all(OK).await;
                    answered += 1;
                }
            });
        }
    });
    (authority, accepted)
}

#[tokio::test]
async fn a_request_without_a_body_lost_by_a_kept_connection_is_sent_again_and_a_post_is_not() {
    let (authority, accepted) = closes_as_the_second_request_arrives().await;
    let pool = Pool::default();
    assert_eq!(text(&pool, &authority).await, "ok");
    assert_eq!(text(&pool, &authority).await, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    let (authority, _) = closes_as_the_second_request_arrives().await;
    assert_eq!(text(&pool, &authority).await, "ok");
    let post = Request::post("/v1/audio/speech")
        .header(http::header::HOST, "engine")
        .body(Body::from("{}"))
        .expect("request");
    let error = pool
        .send(&authority, post)
        .await
        .err()
        .expect("not sent again");
    assert!(
        crate::http_client::describe(&error).contains("without an answer"),
        "{error}"
    );
}
