//! A chunked body, read a step at a time from what has arrived.

use bytes::{Buf, Bytes, BytesMut};

use super::WireError;
use super::answer::MAX_HEAD;

/// The longest chunk-size line (with its extensions).
const MAX_LINE: usize = 4 * 1024;

/// Where in a chunked body the reading is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(in crate::proxy::driven) enum Chunk {
    Size,
    Data(u64),
    /// The line end after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines (dropped), this many bytes of them so far.
    Trailers(usize),
}

/// What a look at a chunked body's bytes gave.
pub(super) enum Dechunked {
    Data(Bytes),
    /// The state moved on: look again.
    Moved,
    /// Bytes are needed.
    More,
    /// The body has ended.
    End,
}

/// Move through a chunked body as far as `read` allows.
pub(super) fn dechunk(read: &mut BytesMut, chunk: &mut Chunk) -> Result<Dechunked, WireError> {
    match chunk {
        Chunk::Size => {
            let Some(line) = take_line(read, MAX_LINE, "a chunk-size line is over 4 KiB")? else {
                return Ok(Dechunked::More);
            };
            let digits = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = parse_hex(digits.trim_ascii())
                .ok_or(WireError::Malformed("a chunk size is not a number"))?;
            *chunk = if size == 0 {
                Chunk::Trailers(0)
            } else {
                Chunk::Data(size)
            };
            Ok(Dechunked::Moved)
        }
        Chunk::Data(left) => {
            if read.is_empty() {
                return Ok(Dechunked::More);
            }
            let take = usize::try_from(*left).map_or(read.len(), |left| left.min(read.len()));
            *left -= take as u64;
            if *left == 0 {
                *chunk = Chunk::DataEnd;
            }
            Ok(Dechunked::Data(read.split_to(take).freeze()))
        }
        Chunk::DataEnd => match read.first() {
            None => Ok(Dechunked::More),
            Some(b'\n') => {
                read.advance(1);
                *chunk = Chunk::Size;
                Ok(Dechunked::Moved)
            }
            Some(b'\r') if read.len() < 2 => Ok(Dechunked::More),
            Some(b'\r') if read[1] == b'\n' => {
                read.advance(2);
                *chunk = Chunk::Size;
                Ok(Dechunked::Moved)
            }
            Some(_) => Err(WireError::Malformed(
                "a chunk does not end where its size says",
            )),
        },
        Chunk::Trailers(seen) => {
            let room = MAX_HEAD.saturating_sub(*seen);
            let Some(line) = take_line(read, room, "its trailers are over 64 KiB")? else {
                return Ok(Dechunked::More);
            };
            if line.is_empty() {
                return Ok(Dechunked::End);
            }
            *seen += line.len() + 2;
            Ok(Dechunked::Moved)
        }
    }
}

/// The line at the start of `read` (without its line end), taken from it; `None` until it is
/// all there. A line longer than `longest` is an error (`what`).
fn take_line(
    read: &mut BytesMut,
    longest: usize,
    what: &'static str,
) -> Result<Option<Bytes>, WireError> {
    let Some(end) = read.iter().position(|&b| b == b'\n') else {
        return if read.len() > longest {
            Err(WireError::Malformed(what))
        } else {
            Ok(None)
        };
    };
    if end > longest {
        return Err(WireError::Malformed(what));
    }
    let mut line = read.split_to(end + 1).freeze();
    line.truncate(end);
    if line.last() == Some(&b'\r') {
        line.truncate(end - 1);
    }
    Ok(Some(line))
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |size, &digit| {
        let value = u64::from((digit as char).to_digit(16)?);
        size.checked_mul(16)?.checked_add(value)
    })
}
