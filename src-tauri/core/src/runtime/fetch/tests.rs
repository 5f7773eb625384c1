use super::*;

fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

async fn fetch_from(source: &str, dest: &Path, digest: Digest) -> Result<(), FetchError> {
    fetch_sized(source, dest, digest, None).await
}

async fn fetch_sized(
    source: &str,
    dest: &Path,
    digest: Digest,
    size: Option<u64>,
) -> Result<(), FetchError> {
    fetch(Request {
        source,
        dest,
        digest: &digest,
        size,
        policy: &DownloadPolicy {
            attempts: 1,
            ..DownloadPolicy::default()
        },
        progress: &|_, _| {},
        cancel: &Cancel::default(),
    })
    .await
}

#[tokio::test]
async fn a_folder_source_is_copied_verified_and_renamed_into_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let from = dir.path().join("voice.onnx");
    std::fs::write(&from, b"weights").expect("write");
    let dest = dir.path().join("out/voice.onnx");
    fetch_from(
        &from.to_string_lossy(),
        &dest,
        Digest::Sha256(sha256(b"weights")),
    )
    .await
    .expect("fetched");
    assert_eq!(std::fs::read(&dest).expect("read"), b"weights");
    assert!(!part_path(&dest).exists());

    // md5, as Piper's index gives it: md5("weights").
    let md5 = hex(&Md5::digest(b"weights"));
    let again = dir.path().join("out/again.onnx");
    fetch_from(&from.to_string_lossy(), &again, Digest::Md5(md5))
        .await
        .expect("fetched");
}

#[tokio::test]
async fn a_mismatch_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tmp");
    let from = dir.path().join("voice.onnx");
    std::fs::write(&from, b"tampered").expect("write");
    let dest = dir.path().join("voice-installed.onnx");
    let error = fetch_from(
        &from.to_string_lossy(),
        &dest,
        Digest::Sha256(sha256(b"weights")),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&error, FetchError::Mismatch(m) if m.contains("sha256")),
        "{error:?}"
    );
    assert!(!dest.exists() && !part_path(&dest).exists());
}

/// A loopback server that sends 1 MiB chunks without a length, up to 64 MiB (or until the
/// client goes): how many bytes it got out.
async fn endless_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/model.bin", listener.local_addr().expect("addr"));
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut head = [0u8; 4096];
        let _ = socket.read(&mut head).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await;
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..64 {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if socket.write_all(&frame).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    (url, sent)
}

#[tokio::test]
async fn a_source_sending_more_than_its_size_is_stopped_at_once_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let dest = dir.path().join("model.bin");
    let (url, sent) = endless_server().await;
    let error = fetch_sized(&url, &dest, Digest::Sha256("0".repeat(64)), Some(3 << 20))
        .await
        .expect_err("too much");
    assert!(
        matches!(&error, FetchError::Mismatch(m) if m.contains("more than")),
        "{error:?}"
    );
    assert!(!dest.exists() && !part_path(&dest).exists());
    // Stopped at the size, not at the stream's end (socket buffers hold a few MiB more).
    let out = sent.load(Ordering::SeqCst);
    assert!(out < 24 << 20, "the server got {out} bytes out");

    // A folder source larger than its size is not copied at all.
    let from = dir.path().join("big.bin");
    std::fs::write(&from, vec![1u8; 4096]).expect("write");
    let error = fetch_sized(
        &from.to_string_lossy(),
        &dest,
        Digest::Sha256("0".repeat(64)),
        Some(100),
    )
    .await
    .expect_err("too large");
    assert!(matches!(error, FetchError::Mismatch(_)), "{error:?}");
    assert!(!dest.exists() && !part_path(&dest).exists());
}
