//! What an upload is, from its first bytes — never from the file name or the declared type
//! (Open WebUI declares every recording `application/octet-stream`) — and, for bytes that are
//! not audio, words for what they are instead.

use bytes::Bytes;

/// The containers recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Wav,
    Mp3,
    Flac,
    Ogg,
    Matroska,
    Mp4,
    Adts,
}

impl Container {
    /// What the first bytes say; `Err` names what they are when not audio.
    pub fn sniff(bytes: &[u8]) -> Result<Self, String> {
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WAVE" {
            return Ok(Self::Wav);
        }
        if starts(b"fLaC") {
            return Ok(Self::Flac);
        }
        if starts(b"OggS") {
            return Ok(Self::Ogg);
        }
        if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
            return Ok(Self::Matroska);
        }
        if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
            return Ok(Self::Mp4);
        }
        if starts(b"ID3") {
            return Ok(Self::Mp3);
        }
        if bytes.len() >= 4 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 {
            let layer = (bytes[1] >> 1) & 0b11;
            if layer == 0 && bytes[1] & 0xF0 == 0xF0 {
                return Ok(Self::Adts);
            }
            let version = (bytes[1] >> 3) & 0b11;
            let bitrate = bytes[2] >> 4;
            let rate = (bytes[2] >> 2) & 0b11;
            if version != 0b01 && layer != 0 && bitrate != 0xF && rate != 0b11 {
                return Ok(Self::Mp3);
            }
        }
        Err(describe_unknown(bytes))
    }

    /// For errors: "wav", "webm".
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Flac => "flac",
            Self::Ogg => "ogg",
            Self::Matroska => "webm",
            Self::Mp4 => "mp4",
            Self::Adts => "aac",
        }
    }

    /// The file extension that points symphonia's probe at the right reader.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Matroska => "webm",
            Self::Mp4 => "m4a",
            other => other.name(),
        }
    }

    /// Container and codec, when the codec is Opus ("webm/opus").
    pub fn opus_name(self) -> &'static str {
        match self {
            Self::Matroska => "webm/opus",
            _ => "ogg/opus",
        }
    }

    /// Container and codec otherwise ("ogg/vorbis", "m4a/aac", "mp3").
    pub fn codec_name(self) -> &'static str {
        match self {
            Self::Ogg => "ogg/vorbis",
            Self::Mp4 => "m4a/aac",
            other => other.name(),
        }
    }

    /// The rate and channel count a header states before any decoder reads it (WAV's `fmt `
    /// chunk; FLAC's STREAMINFO), so a lying header is refused before it sizes anything.
    /// Other containers are checked from the track the demuxer reports.
    pub fn declared_format(self, bytes: &[u8]) -> Option<(u32, usize)> {
        match self {
            Self::Wav => {
                let mut at = 12;
                while at + 8 <= bytes.len() {
                    let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
                    if &bytes[at..at + 4] == b"fmt " {
                        let fmt = bytes.get(at + 8..at + 16)?;
                        let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                        let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                        return Some((rate, usize::from(channels)));
                    }
                    at = at.checked_add(8)?.checked_add(size + size % 2)?;
                }
                None
            }
            Self::Flac => {
                // fLaC, then the STREAMINFO block: a 4-byte block header, 2+2+3+3 bytes of
                // block and frame sizes, then 20 bits of rate and 3 of channels − 1.
                let info = bytes.get(18..21)?;
                let rate = (u32::from(info[0]) << 12)
                    | (u32::from(info[1]) << 4)
                    | (u32::from(info[2]) >> 4);
                let channels = usize::from((info[2] >> 1) & 0b111) + 1;
                Some((rate, channels))
            }
            _ => None,
        }
    }

    /// The bytes as a reader should see them: a WAV with its sizes settled (see
    /// [`settle_streamed_wav`]; the one case that copies the upload), anything else as it is.
    pub fn readable(self, bytes: Bytes) -> Bytes {
        if self != Self::Wav {
            return bytes;
        }
        let mut data = bytes.to_vec();
        settle_streamed_wav(&mut data);
        Bytes::from(data)
    }
}

/// Words for bytes that are not audio, so the error says what was sent instead.
fn describe_unknown(bytes: &[u8]) -> String {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let what = if starts(b"PK\x03\x04") {
        "a ZIP archive"
    } else if starts(b"%PDF") {
        "a PDF document"
    } else if starts(&[0x89, b'P', b'N', b'G']) {
        "a PNG image"
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        "a JPEG image"
    } else if starts(b"GIF8") {
        "a GIF image"
    } else if bytes.iter().take(512).all(|b| b.is_ascii() && *b != 0) {
        "text"
    } else {
        "unrecognised bytes"
    };
    what.to_string()
}

/// A WAV written while streaming carries `0xFFFFFFFF` (or 0) as its RIFF and data sizes
/// (Murmur's own, OpenAI's): the data is whatever follows, up to the end. Write the real
/// sizes so the reader takes all of it.
fn settle_streamed_wav(data: &mut [u8]) {
    let total = data.len();
    let riff = u32::try_from(total.saturating_sub(8)).unwrap_or(u32::MAX);
    data[4..8].copy_from_slice(&riff.to_le_bytes());
    let mut at = 12;
    while at + 8 <= total {
        let id = [data[at], data[at + 1], data[at + 2], data[at + 3]];
        let size = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]);
        if &id == b"data" {
            let left = u32::try_from(total - at - 8).unwrap_or(u32::MAX);
            if size == u32::MAX || size == 0 || size > left {
                data[at + 4..at + 8].copy_from_slice(&(left & !1).to_le_bytes());
            }
            return;
        }
        at += 8 + size as usize + (size as usize & 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_their_first_bytes() {
        let cases: [(&[u8], Container); 8] = [
            (b"RIFF\0\0\0\0WAVEfmt ", Container::Wav),
            (b"fLaC\0\0\0\"", Container::Flac),
            (b"OggS\0\x02\0\0", Container::Ogg),
            (&[0x1A, 0x45, 0xDF, 0xA3, 0x9F], Container::Matroska),
            (b"\0\0\0\x20ftypM4A ", Container::Mp4),
            (b"ID3\x04\0\0\0\0", Container::Mp3),
            (&[0xFF, 0xFB, 0x90, 0x64], Container::Mp3),
            (&[0xFF, 0xF1, 0x50, 0x80], Container::Adts),
        ];
        for (bytes, container) in cases {
            assert_eq!(Container::sniff(bytes), Ok(container), "{bytes:?}");
        }
        assert_eq!(
            Container::sniff(b"PK\x03\x04...").expect_err("zip"),
            "a ZIP archive"
        );
        assert_eq!(Container::sniff(b"hello").expect_err("text"), "text");
        assert_eq!(
            Container::sniff(&[0, 1, 2, 3]).expect_err("bytes"),
            "unrecognised bytes"
        );
    }

    #[test]
    fn a_streamed_wavs_sizes_become_the_real_ones() {
        let mut wav = b"RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff".to_vec();
        wav.extend_from_slice(&[1, 0, 2, 0, 3, 0]);
        let settled = Container::Wav.readable(Bytes::from(wav));
        assert_eq!(&settled[4..8], &(settled.len() as u32 - 8).to_le_bytes());
        assert_eq!(&settled[16..20], &6u32.to_le_bytes());
        let mp3 = Bytes::from_static(b"ID3 as it is");
        assert_eq!(Container::Mp3.readable(mp3.clone()), mp3);
    }
}
