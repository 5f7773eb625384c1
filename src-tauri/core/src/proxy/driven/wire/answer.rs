//! An engine's answer head: read, parsed, and where its body ends.

use std::future::poll_fn;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};
use tokio::io::AsyncRead;

use super::chunked::Chunk;
use super::{WireError, fill};

/// The longest answer head read.
pub(super) const MAX_HEAD: usize = 64 * 1024;
const OVER: &str = "its head is over 64 KiB";
/// The most header fields an answer may have.
const MAX_FIELDS: usize = 128;

/// An answer's head, read.
pub(in crate::proxy::driven) struct Answer {
    pub(in crate::proxy::driven) parts: http::response::Parts,
    pub(in crate::proxy::driven) framing: Framing,
    /// The connection may carry another request once the body has been read.
    pub(in crate::proxy::driven) reusable: bool,
}

/// Where an answer's body ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(in crate::proxy::driven) enum Framing {
    /// It has ended (or there is none).
    Done,
    /// After this many more bytes.
    Length(u64),
    Chunked(Chunk),
    /// When the engine closes the connection.
    UntilClose,
}

/// Read the answer's head (past any 100 Continue or other interim answer).
pub(super) async fn answer<R: AsyncRead + Unpin>(
    stream: &mut R,
    read: &mut BytesMut,
    room: &mut usize,
    head_only: bool,
) -> Result<Answer, WireError> {
    loop {
        if let Some(answer) = parse_answer(read, head_only)? {
            if answer.parts.status.is_informational()
                && answer.parts.status != StatusCode::SWITCHING_PROTOCOLS
            {
                continue;
            }
            return Ok(answer);
        }
        if read.len() >= MAX_HEAD {
            return Err(WireError::Malformed(OVER));
        }
        if poll_fn(|cx| fill(stream, read, room, cx)).await? == 0 {
            return Err(if read.is_empty() {
                WireError::Closed
            } else {
                WireError::BrokeOff
            });
        }
    }
}

/// The answer head at the start of `read`, taken from it once complete.
fn parse_answer(read: &mut BytesMut, head_only: bool) -> Result<Option<Answer>, WireError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut fields);
    let length = match parsed.parse(read) {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD => length,
        Ok(httparse::Status::Complete(_)) => return Err(WireError::Malformed(OVER)),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(WireError::Malformed("it has over 128 header fields"));
        }
        Err(_) => return Err(WireError::Malformed("its head cannot be parsed")),
    };
    let status = parsed
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(WireError::Malformed("its status is not a number"))?;
    let version = match parsed.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    // The values stay where they were read (one allocation, shared), as hyper keeps them.
    let start = read.as_ptr() as usize;
    let mut spans = Vec::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| WireError::Malformed("a header name is not a token"))?;
        let offset = field.value.as_ptr() as usize - start;
        spans.push((name, offset..offset + field.value.len()));
    }
    let head = read.split_to(length).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    for (name, span) in spans {
        let value = HeaderValue::from_maybe_shared(head.slice(span))
            .map_err(|_| WireError::Malformed("a header value is not text"))?;
        headers.append(name, value);
    }
    let (framing, reusable) = framing(status, version, &headers, head_only)?;
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some(Answer {
        parts: response.into_parts().0,
        framing,
        reusable,
    }))
}

/// Where the answer's body ends (RFC 9112 §6.3), and whether the connection can be used again.
fn framing(
    status: StatusCode,
    version: Version,
    headers: &HeaderMap,
    head_only: bool,
) -> Result<(Framing, bool), WireError> {
    let mut reusable = version == Version::HTTP_11
        && status != StatusCode::SWITCHING_PROTOCOLS
        && !headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| names(value, "close"));
    if head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Done, reusable));
    }
    if let Some(last) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    {
        // Both framings at once: the body is read as chunked, the connection never trusted again.
        reusable &= !headers.contains_key(header::CONTENT_LENGTH);
        let chunked = last
            .as_bytes()
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        return Ok(if chunked {
            (Framing::Chunked(Chunk::Size), reusable)
        } else {
            (Framing::UntilClose, false)
        });
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let item = std::str::from_utf8(item.trim_ascii())
                .ok()
                .filter(|item| !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|item| item.parse::<u64>().ok())
                .ok_or(WireError::Malformed("its Content-Length is not a number"))?;
            if length.is_some_and(|length| length != item) {
                return Err(WireError::Malformed("it has two different Content-Lengths"));
            }
            length = Some(item);
        }
    }
    Ok(match length {
        Some(0) => (Framing::Done, reusable),
        Some(length) => (Framing::Length(length), reusable),
        None => (Framing::UntilClose, false),
    })
}

/// `value` (a comma-separated list) names `token`.
pub(super) fn names(value: &HeaderValue, token: &str) -> bool {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}
