//! Against a real server on a bound port, written by hand so each test decides when it closes.

use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;

/// How the stand-in engine treats a connection after answering.
#[derive(Clone, Copy)]
enum After {
    /// Waits for the next request.
    Stays,
    /// Closes it, a moment later (an engine with a short keep-alive).
    Closes,
}

struct Engine {
    authority: Authority,
    accepted: Arc<AtomicUsize>,
    /// A message whenever a connection ends on the client's side.
    ended: mpsc::UnboundedReceiver<()>,
}

/// Answers each request with `body`; a body longer than 64 KiB is sent in part, the rest
/// never (an answer still being produced).
async fn engine(body: &'static [u8], after: After) -> Engine {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let authority: Authority = listener
        .local_addr()
        .expect("addr")
        .to_string()
        .parse()
        .expect("authority");
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, ended) = mpsc::unbounded_channel();
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut have = Vec::new();
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        let _ = tx.send(());
                        return;
                    }
                    have.extend_from_slice(&buf[..n]);
                    if !have.windows(4).any(|w| w == b"\r\n\r\n") {
                        continue;
                    }
                    have.clear();
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                    let part = &body[..body.len().min(64 * 1024)];
                    if stream.write_all(head.as_bytes()).await.is_err()
                        || stream.write_all(part).await.is_err()
                    {
                        return;
                    }
                    if let After::Closes = after {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        return;
                    }
                }
            });
        }
    });
    Engine {
        authority,
        accepted,
        ended,
    }
}

fn get(engine: &Engine) -> Request<Body> {
    Request::get(format!("http://{}/probe", engine.authority))
        .header(http::header::HOST, engine.authority.as_str())
        .body(Body::empty())
        .expect("request")
}

async fn read(answer: Response<Answer>) -> Bytes {
    answer.into_body().collect().await.expect("body").to_bytes()
}

#[tokio::test]
async fn answers_read_to_the_end_leave_their_connection_for_the_next_request() {
    let engine = engine(b"hello", After::Stays).await;
    let connections = Arc::new(Connections::default());
    for _ in 0..3 {
        let answer = connections
            .send(&engine.authority, get(&engine), true)
            .await
            .expect("answer");
        assert_eq!(&read(answer).await[..], b"hello");
    }
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_engine_closed_while_idle_is_replaced() {
    let engine = engine(b"hello", After::Closes).await;
    let connections = Arc::new(Connections::default());
    for _ in 0..3 {
        let answer = connections
            .send(&engine.authority, get(&engine), true)
            .await
            .expect("answer");
        assert_eq!(&read(answer).await[..], b"hello");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_connection_not_to_be_kept_is_not_reused() {
    let engine = engine(b"hello", After::Stays).await;
    let connections = Arc::new(Connections::default());
    for _ in 0..2 {
        let answer = connections
            .send(&engine.authority, get(&engine), false)
            .await
            .expect("answer");
        assert_eq!(&read(answer).await[..], b"hello");
    }
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_answer_dropped_half_read_closes_its_connection() {
    static LONG: [u8; 1 << 20] = [7; 1 << 20];
    let mut engine = engine(&LONG, After::Stays).await;
    let connections = Arc::new(Connections::default());
    let answer = connections
        .send(&engine.authority, get(&engine), true)
        .await
        .expect("answer");
    let mut body = answer.into_body();
    let frame = body.frame().await.expect("a frame").expect("data");
    assert!(frame.data_ref().is_some_and(|d| !d.is_empty()));
    drop(body);
    tokio::time::timeout(Duration::from_secs(5), engine.ended.recv())
        .await
        .expect("the engine saw its connection close");
    // Nothing half-read was kept: the next request opens a new connection.
    let answer = connections
        .send(&engine.authority, get(&engine), true)
        .await
        .expect("answer");
    drop(answer);
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn nobody_listening_is_a_connect_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let authority: Authority = listener
        .local_addr()
        .expect("addr")
        .to_string()
        .parse()
        .expect("authority");
    drop(listener);
    let connections = Arc::new(Connections::default());
    let request = Request::get("/").body(Body::empty()).expect("request");
    let Err(error) = connections.send(&authority, request, true).await else {
        panic!("an answer from nobody");
    };
    assert!(error.is_connect(), "{error}");
}
