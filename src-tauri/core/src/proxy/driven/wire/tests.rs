//! Murmur's HTTP/1.1 to an engine, against a scripted engine on loopback: every framing an
//! answer may use, every way a request's body goes out, and the answers it must refuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Request;
use http::uri::Authority;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::super::{Pool, SendError};

/// An engine that answers every request with the same bytes, after reading the request's
/// head and its body (by its length, or to the last chunk). It sends each request's bytes
/// to `requests`; `read_body: false` answers before reading any body. It closes the
/// connection after an answer that says so (or is HTTP/1.0).
struct Scripted {
    authority: Authority,
    accepted: Arc<AtomicUsize>,
    requests: mpsc::UnboundedReceiver<Vec<u8>>,
}

async fn scripted(answer: &'static [u8], read_body: bool) -> Scripted {
    let (listener, authority) = super::super::tests::loopback().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, requests) = mpsc::unbounded_channel();
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, answer, read_body, tx.clone()));
        }
    });
    Scripted {
        authority,
        accepted,
        requests,
    }
}

async fn serve(
    mut stream: TcpStream,
    answer: &'static [u8],
    read_body: bool,
    requests: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Some(end) = find(&seen, b"\r\n\r\n") else {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .map(|n| n.trim().parse::<usize>().expect("length"));
        let chunked = head.contains("transfer-encoding: chunked");
        let whole = loop {
            match request_end(&seen, end, length, chunked) {
                Some(whole) if read_body => break whole,
                _ if !read_body => break end + 4,
                _ => match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                },
            }
        };
        let _ = requests.send(seen.drain(..whole.min(seen.len())).collect());
        if stream.write_all(answer).await.is_err() {
            return;
        }
        let said = String::from_utf8_lossy(answer).to_ascii_lowercase();
        if said.contains("connection: close") || said.starts_with("http/1.0") {
            return;
        }
        if !read_body {
            // Answered without reading: wait for the client to go.
            let _ = stream.read_to_end(&mut Vec::new()).await;
            return;
        }
    }
}

/// Where the request whose head ends at `end` ends, once it is all in `seen`.
fn request_end(seen: &[u8], end: usize, length: Option<usize>, chunked: bool) -> Option<usize> {
    match (length, chunked) {
        (Some(length), _) => (seen.len() >= end + 4 + length).then_some(end + 4 + length),
        (None, true) => find(&seen[end..], b"\r\n0\r\n\r\n").map(|at| end + at + 7),
        (None, false) => Some(end + 4),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn request(method: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("/v1/thing?x=1")
        .header(http::header::HOST, "engine")
        .body(body)
        .expect("request")
}

async fn fetch(pool: &Pool, engine: &Scripted, request: Request<Body>) -> (u16, String) {
    let response = pool
        .send(&engine.authority, request)
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("body");
    (
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    )
}

/// Two GETs answered with `answer` by one engine through one pool: what each read, and how
/// many connections the engine accepted.
async fn twice(answer: &'static [u8]) -> (Vec<(u16, String)>, usize) {
    let engine = scripted(answer, true).await;
    let pool = Pool::default();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(fetch(&pool, &engine, request("GET", Body::empty())).await);
    }
    (got, engine.accepted.load(Ordering::SeqCst))
}

async fn fails(answer: &'static [u8]) -> String {
    let engine = scripted(answer, true).await;
    let pool = Pool::default();
    match pool
        .send(&engine.authority, request("GET", Body::empty()))
        .await
    {
        Err(e) => crate::http_client::describe(&e),
        Ok(response) => match response.into_body().collect().await {
            Err(e) => e.to_string(),
            Ok(body) => panic!("read as {:?}", body.to_bytes()),
        },
    }
}

#[tokio::test]
async fn a_chunked_answer_is_read_through_its_extensions_and_trailers_and_its_connection_kept() {
    let (got, accepted) = twice(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
          5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: dropped\r\n\r\n",
    )
    .await;
    assert_eq!(got, vec![(200, "hello world".to_string()); 2]);
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn an_answer_without_a_length_is_read_until_the_engine_closes_and_its_connection_not_kept() {
    let (got, accepted) = twice(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it").await;
    assert_eq!(got, vec![(200, "all of it".to_string()); 2]);
    assert_eq!(accepted, 2);
}

#[tokio::test]
async fn head_204_and_interim_answers_have_no_body_and_keep_the_connection() {
    let engine = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true).await;
    let pool = Pool::default();
    let response = pool
        .send(&engine.authority, request("HEAD", Body::empty()))
        .await
        .expect("answered");
    assert_eq!(response.headers()["content-length"], "5");
    assert!(http_body::Body::is_end_stream(response.body()));
    drop(response);
    let again = pool
        .send(&engine.authority, request("HEAD", Body::empty()))
        .await;
    assert!(again.is_ok());
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 1);

    let engine = scripted(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nx-then: yes\r\n\r\n",
        true,
    )
    .await;
    let got = fetch(&pool, &engine, request("DELETE", Body::empty())).await;
    assert_eq!(got, (204, String::new()));
    let got = fetch(&pool, &engine, request("DELETE", Body::empty())).await;
    assert_eq!(got, (204, String::new()));
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_http_1_0_answer_or_one_that_says_close_is_not_reused() {
    for answer in [
        &b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"[..],
        &b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"[..],
        &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n"[..],
    ] {
        let (got, accepted) = twice(answer).await;
        assert_eq!(got, vec![(200, "ok".to_string()); 2], "{answer:?}");
        assert_eq!(accepted, 2, "{answer:?}");
    }
}

#[tokio::test]
async fn a_body_goes_with_its_own_length_or_in_chunks_whatever_the_client_declared() {
    let mut engine = scripted(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true).await;
    let pool = Pool::default();
    let mut known = request("POST", Body::from("abc"));
    known
        .headers_mut()
        .insert("content-length", "999".parse().expect("value"));
    known
        .headers_mut()
        .insert("transfer-encoding", "gzip".parse().expect("value"));
    assert_eq!(fetch(&pool, &engine, known).await.0, 200);
    let sent = String::from_utf8(engine.requests.recv().await.expect("seen")).expect("text");
    assert!(
        sent.starts_with("POST /v1/thing?x=1 HTTP/1.1\r\n"),
        "{sent}"
    );
    assert!(sent.contains("content-length: 3\r\n"), "{sent}");
    assert!(!sent.contains("999") && !sent.contains("gzip"), "{sent}");
    assert!(sent.ends_with("\r\n\r\nabc"), "{sent}");

    let pieces: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(Bytes::from("hello ")), Ok(Bytes::from("world"))];
    let streamed = request("PUT", Body::from_stream(futures_util::stream::iter(pieces)));
    assert_eq!(fetch(&pool, &engine, streamed).await.0, 200);
    let sent = String::from_utf8(engine.requests.recv().await.expect("seen")).expect("text");
    assert!(sent.contains("transfer-encoding: chunked\r\n"), "{sent}");
    assert!(
        sent.ends_with("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"),
        "{sent}"
    );

    let empty = request("POST", Body::empty());
    assert_eq!(fetch(&pool, &engine, empty).await.0, 200);
    let sent = String::from_utf8(engine.requests.recv().await.expect("seen")).expect("text");
    assert!(sent.contains("content-length: 0\r\n"), "{sent}");
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_engine_that_answers_before_reading_the_body_is_heard_and_its_connection_dropped() {
    let engine = scripted(
        b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo much",
        false,
    )
    .await;
    // A body that never ends: only the early answer can end the exchange.
    let (_feed, body) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let endless = Body::from_stream(tokio_stream_of(body));
    let pool = Pool::default();
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        fetch(&pool, &engine, request("POST", endless)),
    )
    .await
    .expect("answered while the body was still coming");
    assert_eq!(got, (413, "too much".to_string()));
    let got = fetch(&pool, &engine, request("GET", Body::empty())).await;
    assert_eq!(got.0, 413);
    assert_eq!(engine.accepted.load(Ordering::SeqCst), 2);
}

/// The receiver as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn answers_that_cannot_be_read_fail_with_what_is_wrong() {
    let cases: [(&'static [u8], &str); 6] = [
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n",
            "Content-Length is not a number",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
            "two different Content-Lengths",
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", "cannot be parsed"),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n",
            "does not end where its size says",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            "chunk size is not a number",
        ),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\nhalf",
            "closed before the answer's end",
        ),
    ];
    for (answer, expected) in cases {
        let said = fails(answer).await;
        assert!(said.contains(expected), "{answer:?}: {said}");
    }
}

#[tokio::test]
async fn an_answer_head_over_64_kib_is_refused() {
    static LONG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let answer = LONG.get_or_init(|| {
        let mut answer = b"HTTP/1.1 200 OK\r\nx-long: ".to_vec();
        answer.extend(std::iter::repeat_n(b'a', 70 * 1024));
        answer.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        answer
    });
    let said = fails(answer).await;
    assert!(said.contains("over 64 KiB"), "{said}");
}

#[tokio::test]
async fn an_engine_that_closes_without_answering_is_an_error_not_a_hang() {
    let (listener, authority) = super::super::tests::loopback().await;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.read(&mut [0u8; 1024]).await;
        }
    });
    let error = Pool::default()
        .send(&authority, request("GET", Body::empty()))
        .await
        .err()
        .expect("no answer");
    assert!(matches!(error, SendError::Wire(_)), "{error:?}");
    assert!(
        crate::http_client::describe(&error).contains("without an answer"),
        "{error}"
    );
}
