//! Wyoming's framing: one JSON line per event (`type`, optional `data`, `data_length`,
//! `payload_length`), then `data_length` bytes of JSON merged into `data`, then
//! `payload_length` bytes of binary payload (audio). Reading is bounded: a line or a data block
//! over [`MAX_LINE`], or a payload over [`MAX_PAYLOAD`], is an error that closes the
//! connection.

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest JSON line (and data block) Murmur reads.
pub const MAX_LINE: usize = 64 * 1024;
/// The largest payload of one event (an audio chunk is a few KB).
pub const MAX_PAYLOAD: usize = 4 * 1024 * 1024;

/// The protocol version Murmur writes (that of the `wyoming` library it is tested with).
const VERSION: &str = "1.10.2";

/// One event as it travels: its type, its data, its payload. [`super::message`] reads and
/// writes these as typed events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub kind: String,
    pub data: Map<String, Value>,
    pub payload: Option<Bytes>,
}

impl Frame {
    pub fn new(kind: &str, data: Value) -> Self {
        Self {
            kind: kind.into(),
            data: match data {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            payload: None,
        }
    }

    pub fn with_payload(mut self, payload: Bytes) -> Self {
        self.payload = Some(payload);
        self
    }

    /// A string field of `data`.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    /// A number field of `data`.
    pub fn number(&self, key: &str) -> Option<u64> {
        self.data.get(key).and_then(Value::as_u64)
    }
}

/// Why a connection's input cannot be read on.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("not an event: {0}")]
    Garbage(String),
    #[error("a payload of {0} bytes (at most {MAX_PAYLOAD})")]
    PayloadTooLarge(u64),
}

/// The next event, or `None` when the client closed the connection.
pub async fn read(reader: &mut (impl AsyncBufRead + Unpin)) -> Result<Option<Frame>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return if line.iter().all(u8::is_ascii_whitespace) {
                Ok(None)
            } else {
                Err(ReadError::Garbage("the connection ended mid-line".into()))
            };
        }
        let (piece, ends) = match buffer.iter().position(|b| *b == b'\n') {
            Some(at) => (&buffer[..at], Some(at + 1)),
            None => (buffer, None),
        };
        if line.len() + piece.len() > MAX_LINE {
            return Err(ReadError::LineTooLong);
        }
        line.extend_from_slice(piece);
        let used = ends.unwrap_or(buffer.len());
        reader.consume(used);
        if ends.is_some() {
            if line.iter().all(u8::is_ascii_whitespace) {
                line.clear();
                continue;
            }
            break;
        }
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&line).map_err(|e| ReadError::Garbage(e.to_string()))?;
    let kind = header
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ReadError::Garbage("no type".into()))?
        .to_string();
    let length = |key: &str| -> Result<u64, ReadError> {
        match header.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(value) => value
                .as_u64()
                .ok_or_else(|| ReadError::Garbage(format!("{key} is not a length"))),
        }
    };
    let mut data = match header.get("data") {
        Some(Value::Object(map)) => map.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ReadError::Garbage("data is not an object".into())),
    };
    let data_length = length("data_length")?;
    if data_length > MAX_LINE as u64 {
        return Err(ReadError::LineTooLong);
    }
    if data_length > 0 {
        let mut block = vec![0u8; data_length as usize];
        reader.read_exact(&mut block).await?;
        let more: Map<String, Value> =
            serde_json::from_slice(&block).map_err(|e| ReadError::Garbage(e.to_string()))?;
        data.extend(more);
    }
    let payload_length = length("payload_length")?;
    if payload_length > MAX_PAYLOAD as u64 {
        return Err(ReadError::PayloadTooLarge(payload_length));
    }
    let payload = if payload_length > 0 {
        let mut payload = vec![0u8; payload_length as usize];
        reader.read_exact(&mut payload).await?;
        Some(Bytes::from(payload))
    } else {
        None
    };
    Ok(Some(Frame {
        kind,
        data,
        payload,
    }))
}

/// Write `event` as Wyoming frames it: the header line, the data block, the payload.
pub async fn write(
    writer: &mut (impl AsyncWrite + Unpin + ?Sized),
    event: &Frame,
) -> std::io::Result<()> {
    let mut header = Map::new();
    header.insert("type".into(), event.kind.clone().into());
    header.insert("version".into(), VERSION.into());
    let data = (!event.data.is_empty())
        .then(|| serde_json::to_vec(&event.data))
        .transpose()
        .map_err(std::io::Error::other)?;
    if let Some(data) = &data {
        header.insert("data_length".into(), data.len().into());
    }
    if let Some(payload) = &event.payload {
        header.insert("payload_length".into(), payload.len().into());
    }
    let mut out = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    out.push(b'\n');
    if let Some(data) = data {
        out.extend_from_slice(&data);
    }
    if let Some(payload) = &event.payload {
        out.extend_from_slice(payload);
    }
    writer.write_all(&out).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(bytes: &[u8]) -> Vec<Result<Option<Frame>, String>> {
        let mut reader = tokio::io::BufReader::with_capacity(5, bytes);
        let mut out = Vec::new();
        loop {
            match read(&mut reader).await {
                Ok(None) => break,
                Ok(Some(event)) => out.push(Ok(Some(event))),
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn events_round_trip_with_data_and_payload() {
        let event = Frame::new(
            "audio-chunk",
            serde_json::json!({"rate": 16000, "width": 2}),
        )
        .with_payload(Bytes::from_static(&[1, 2, 3, 4]));
        let mut wire = Vec::new();
        write(&mut wire, &event).await.expect("write");
        write(&mut wire, &Frame::new("describe", Value::Null))
            .await
            .expect("write");
        let read = read_all(&wire).await;
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].as_ref().expect("ok").as_ref(), Some(&event));
        assert_eq!(
            read[1]
                .as_ref()
                .expect("ok")
                .as_ref()
                .map(|e| e.kind.as_str()),
            Some("describe")
        );
    }

    #[tokio::test]
    async fn inline_data_and_a_data_block_are_merged() {
        let wire = b"{\"type\":\"synthesize\",\"data\":{\"text\":\"hi\"},\"data_length\":17}\n{\"voice\":{\"a\":1}}";
        let read = read_all(wire).await;
        let event = read[0].as_ref().expect("ok").clone().expect("event");
        assert_eq!(event.text("text"), Some("hi"));
        assert_eq!(event.data["voice"]["a"], 1);
    }

    #[tokio::test]
    async fn garbage_overlong_lines_and_lying_lengths_are_errors() {
        assert!(read_all(b"not json\n").await[0].is_err());
        assert!(read_all(b"{\"no\":\"type\"}\n").await[0].is_err());
        let long = [vec![b' '; MAX_LINE + 1], b"\n".to_vec()].concat();
        assert!(read_all(&long).await[0].is_err());
        let lying = b"{\"type\":\"audio-chunk\",\"payload_length\":1073741824}\n";
        let outcome = &read_all(lying).await[0];
        assert!(
            matches!(outcome, Err(e) if e.contains("1073741824")),
            "{outcome:?}"
        );
        // A payload shorter than promised ends the read.
        assert!(
            read_all(b"{\"type\":\"audio-chunk\",\"payload_length\":10}\nabc").await[0].is_err()
        );
    }
}
