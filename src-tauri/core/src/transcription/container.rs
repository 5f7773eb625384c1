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

/// Bytes that are no audio Murmur knows: what they are instead ("text", "a ZIP archive").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAudio(pub &'static str);

/// A FLAC file whose header cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("its metadata blocks are cut short or have no STREAMINFO")]
pub struct BadFlacHeader;

impl Container {
    /// What the first bytes say; `Err` names what they are when not audio.
    pub fn sniff(bytes: &[u8]) -> Result<Self, NotAudio> {
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
        Err(NotAudio(describe_unknown(bytes)))
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
    /// [`settle_streamed_wav`]), a FLAC with no metadata but its STREAMINFO (see
    /// [`audio_only_flac`]), an MP3 without its ID3v2 tag; anything else as it is.
    ///
    /// Tags and pictures say nothing Whisper needs, and symphonia's readers of them allocate
    /// what a length field claims before reading it: a 16-byte FLAC whose picture block
    /// claims a 1.7 GB MIME type made it ask for 1.7 GB (found by `make fuzz`).
    /// `Err` says why the bytes cannot be read at all.
    pub fn readable(self, bytes: Bytes) -> Result<Bytes, BadFlacHeader> {
        Ok(match self {
            Self::Wav => {
                let mut data = bytes.to_vec();
                settle_streamed_wav(&mut data);
                Bytes::from(data)
            }
            Self::Flac => Bytes::from(audio_only_flac(&bytes).ok_or(BadFlacHeader)?),
            Self::Mp3 => {
                let tag = id3v2_len(&bytes);
                bytes.slice(tag.min(bytes.len())..)
            }
            _ => bytes,
        })
    }
}

/// A FLAC's bytes with only its STREAMINFO block before the frames; `None` when its metadata
/// blocks do not parse (the reader then says what is wrong).
fn audio_only_flac(bytes: &[u8]) -> Option<Vec<u8>> {
    const STREAMINFO: u8 = 0;
    let mut at = 4;
    let mut info: Option<&[u8]> = None;
    loop {
        let header = bytes.get(at..at + 4)?;
        let last = header[0] & 0x80 != 0;
        let kind = header[0] & 0x7F;
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        let block = bytes.get(at + 4..at + 4 + len)?;
        if kind == STREAMINFO && info.is_none() {
            info = Some(block);
        }
        at += 4 + len;
        if last {
            break;
        }
    }
    let info = info.filter(|i| i.len() == 34)?;
    let mut out = Vec::with_capacity(bytes.len() - at + 42);
    out.extend_from_slice(b"fLaC");
    out.extend_from_slice(&[0x80 | STREAMINFO, 0, 0, 34]);
    out.extend_from_slice(info);
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

/// The length of the ID3v2 tag(s) an MP3 starts with (10-byte header, a 28-bit size, and a
/// 10-byte footer when flagged), 0 without one.
fn id3v2_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 10) {
        if &header[..3] != b"ID3" || header[6..10].iter().any(|b| b & 0x80 != 0) {
            break;
        }
        let size = header[6..10]
            .iter()
            .fold(0usize, |size, b| size << 7 | usize::from(*b));
        let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
        at += 10 + size + footer;
    }
    at
}

/// Words for bytes that are not audio, so the error says what was sent instead.
fn describe_unknown(bytes: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"PK\x03\x04") {
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
    }
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
            NotAudio("a ZIP archive")
        );
        assert_eq!(
            Container::sniff(b"hello").expect_err("text"),
            NotAudio("text")
        );
        assert_eq!(
            Container::sniff(&[0, 1, 2, 3]).expect_err("bytes"),
            NotAudio("unrecognised bytes")
        );
    }

    #[test]
    fn a_streamed_wavs_sizes_become_the_real_ones() {
        let mut wav = b"RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff".to_vec();
        wav.extend_from_slice(&[1, 0, 2, 0, 3, 0]);
        let settled = Container::Wav.readable(Bytes::from(wav)).expect("a wav");
        assert_eq!(&settled[4..8], &(settled.len() as u32 - 8).to_le_bytes());
        assert_eq!(&settled[16..20], &6u32.to_le_bytes());
        let ogg = Bytes::from_static(b"OggS as it is");
        assert_eq!(Container::Ogg.readable(ogg.clone()), Ok(ogg));
    }

    #[test]
    fn a_flac_keeps_its_streaminfo_and_frames_and_loses_tags_and_pictures() {
        let info = [7u8; 34];
        let mut flac = b"fLaC".to_vec();
        flac.extend_from_slice(&[0, 0, 0, 34]);
        flac.extend_from_slice(&info);
        // A picture block (6) whose contents claim a 1.7 GB MIME type; then the frames.
        flac.extend_from_slice(&[0x80 | 6, 0, 0, 8, 0, 0, 0, 3, 0x67, 0x53, 0, 0]);
        flac.extend_from_slice(b"FRAMES");
        let readable = Container::Flac.readable(Bytes::from(flac)).expect("parses");
        assert_eq!(&readable[..8], b"fLaC\x80\0\0\x22");
        assert_eq!(&readable[8..42], &info);
        assert_eq!(&readable[42..], b"FRAMES");
        // Found by `make fuzz`: a block that claims more than the file holds.
        let bomb = [
            b"fLaC".as_slice(),
            &[6, 40, 152, 24, 0, 0, 1, 103, 103, 83, 0, 0, 0, 1, 0],
        ]
        .concat();
        assert!(Container::Flac.readable(Bytes::from(bomb)).is_err());
    }

    #[test]
    fn an_mp3_is_read_from_after_its_id3v2_tag() {
        let mut mp3 = b"ID3\x04\0\0\0\0\x01\x00".to_vec(); // a 128-byte tag
        mp3.extend_from_slice(&[0u8; 128]);
        mp3.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        let readable = Container::Mp3.readable(Bytes::from(mp3)).expect("parses");
        assert_eq!(&readable[..], &[0xFF, 0xFB, 0x90, 0x00]);
    }
}
