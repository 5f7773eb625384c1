//! Reading a child process's output (an engine's, uv's) line by line, whatever it writes:
//! bytes that are not UTF-8 become U+FFFD rather than ending the read, and a line longer than
//! [`MAX_LINE`] is cut with a marker and the rest of it dropped. The pipe is always read to its
//! end, so a child never blocks on a full pipe because of what it printed.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longer lines are cut here.
pub const MAX_LINE: usize = 8 * 1024;

/// What ends a cut line.
pub const CUT: &str = " … [line cut]";

/// Call `each` with every line of `reader` (without its line ending) until it ends or fails.
pub async fn each_line(mut reader: impl AsyncBufRead + Unpin, mut each: impl FnMut(&str)) {
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    loop {
        let buffer = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buffer) => buffer,
        };
        let (piece, ends) = match buffer.iter().position(|b| *b == b'\n') {
            Some(at) => (&buffer[..at], Some(at + 1)),
            None => (buffer, None),
        };
        if !cut {
            let room = MAX_LINE - line.len();
            line.extend_from_slice(&piece[..piece.len().min(room)]);
            cut = piece.len() > room;
        }
        let used = ends.unwrap_or(buffer.len());
        reader.consume(used);
        if ends.is_some() {
            emit(&mut line, &mut cut, &mut each);
        }
    }
    if !line.is_empty() || cut {
        emit(&mut line, &mut cut, &mut each);
    }
}

fn emit(line: &mut Vec<u8>, cut: &mut bool, each: &mut impl FnMut(&str)) {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let mut text = String::from_utf8_lossy(line).into_owned();
    if *cut {
        text.push_str(CUT);
    }
    each(&text);
    line.clear();
    *cut = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        // A small buffer, so lines cross reads.
        let reader = tokio::io::BufReader::with_capacity(7, bytes);
        each_line(reader, |l| lines.push(l.to_string())).await;
        lines
    }

    #[tokio::test]
    async fn bad_bytes_are_replaced_and_reading_goes_on() {
        let lines = lines_of(b"first\n\xff\xfe bad\r\nlast line without an end").await;
        assert_eq!(
            lines,
            ["first", "\u{fffd}\u{fffd} bad", "last line without an end"]
        );
    }

    #[tokio::test]
    async fn an_overlong_line_is_cut_and_the_next_one_is_whole() {
        let mut bytes = vec![b'x'; MAX_LINE * 3];
        bytes.extend_from_slice(b"\nnext\n");
        let lines = lines_of(&bytes).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE + CUT.len());
        assert!(lines[0].ends_with(CUT));
        assert_eq!(lines[1], "next");
    }
}
