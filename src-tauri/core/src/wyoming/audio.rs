//! The audio of a Wyoming session: what a client sends for transcription (any rate, width and
//! channels), and the text a streaming synthesis has gathered, cut at sentence ends.

use super::event::Event;

/// Audio a client is sending for transcription.
pub(super) struct Utterance {
    pub rate: u32,
    pub width: u16,
    pub channels: u16,
    pub pcm: Vec<u8>,
}

pub(super) fn utterance(event: &Event) -> Utterance {
    let field = |key: &str, default: u64| event.number(key).unwrap_or(default);
    Utterance {
        rate: field("rate", 16_000).clamp(1000, 384_000) as u32,
        width: field("width", 2).clamp(1, 4) as u16,
        channels: field("channels", 1).clamp(1, 8) as u16,
        pcm: Vec::new(),
    }
}

/// The client's PCM as a WAV file, so Murmur's one decoder reads every rate, width and
/// channel count (8-bit WAV is unsigned, as Wyoming's 1-byte audio is).
pub(super) fn wav_file(audio: &Utterance) -> Vec<u8> {
    let frame = u32::from(audio.width) * u32::from(audio.channels);
    let usable = audio.pcm.len() - audio.pcm.len() % frame.max(1) as usize;
    let data = u32::try_from(usable).unwrap_or(u32::MAX - 36);
    let mut out = Vec::with_capacity(44 + usable);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(data + 36).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&audio.channels.to_le_bytes());
    out.extend_from_slice(&audio.rate.to_le_bytes());
    out.extend_from_slice(&(audio.rate * frame).to_le_bytes());
    out.extend_from_slice(&(frame as u16).to_le_bytes());
    out.extend_from_slice(&(audio.width * 8).to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    out.extend_from_slice(&audio.pcm[..usable]);
    out
}

/// `text` split after its last finished sentence: (whole sentences, the rest). A sentence ends
/// at `.`, `!`, `?` or `…` followed by a space, or at CJK punctuation.
pub(super) fn split_sentences(text: &str) -> (String, String) {
    let mut end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        let closes = match c {
            '。' | '！' | '？' => true,
            '.' | '!' | '?' | '…' => next.is_some_and(char::is_whitespace),
            _ => false,
        };
        if closes {
            end = at + c.len_utf8();
        }
    }
    (text[..end].to_string(), text[end..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_sentences_are_split_from_the_rest() {
        assert_eq!(
            split_sentences("Hello there. How are"),
            ("Hello there.".into(), " How are".into())
        );
        assert_eq!(
            split_sentences("Pi is 3.14 or so"),
            (String::new(), "Pi is 3.14 or so".into())
        );
        assert_eq!(split_sentences("Done!"), (String::new(), "Done!".into()));
        assert_eq!(
            split_sentences("今日は。明日"),
            ("今日は。".into(), "明日".into())
        );
    }

    #[test]
    fn a_client_s_pcm_becomes_a_wav_of_the_same_format() {
        let audio = Utterance {
            rate: 22_050,
            width: 2,
            channels: 2,
            pcm: vec![0; 4 * 22_050 + 3],
        };
        let wav = wav_file(&audio);
        assert_eq!(wav.len(), 44 + 4 * 22_050);
        assert_eq!(&wav[22..24], &2u16.to_le_bytes());
        assert_eq!(&wav[24..28], &22_050u32.to_le_bytes());
        assert_eq!(&wav[34..36], &16u16.to_le_bytes());
    }
}
