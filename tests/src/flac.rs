//! Tiny FLAC files of silence, written by hand: a STREAMINFO block, then one frame per block
//! whose only subframe is CONSTANT 0 — about 12 bytes whatever the block's length. Three
//! hours at 16 kHz is ~130 KB: the "small upload that claims hours" a careless client or a
//! hostile one sends.

/// `secs` of silence at `rate` Hz, mono 16-bit, in blocks of `block` samples (≤ 65,535).
pub fn silence(rate: u32, secs: u64, block: u16) -> Vec<u8> {
    let total = u64::from(rate) * secs;
    let mut out = b"fLaC".to_vec();
    // The last metadata block, STREAMINFO, 34 bytes.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&[0; 6]); // frame sizes unknown
    // 20 bits of rate, 3 of channels − 1 (0), 5 of bits per sample − 1 (15), 36 of samples.
    let packed: u64 = (u64::from(rate) << 44) | (15 << 36) | (total & 0xF_FFFF_FFFF);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5 unknown
    let mut left = total;
    let mut number = 0u64;
    while left > 0 {
        let samples = left.min(u64::from(block)) as u16;
        out.extend(frame(number, samples));
        left -= u64::from(samples);
        number += 1;
    }
    out
}

fn frame(number: u64, samples: u16) -> Vec<u8> {
    // Sync and fixed blocking; block size as 16 bits at the end of the header (0111), rate
    // from STREAMINFO (0000); mono (0000), 16 bits (100), reserved 0.
    let mut header = vec![0xFF, 0xF8, 0x70, 0x08];
    header.extend(utf8_number(number));
    header.extend_from_slice(&(samples - 1).to_be_bytes());
    header.push(crc8(&header));
    // One CONSTANT subframe of value 0 (16 bits).
    header.extend_from_slice(&[0x00, 0x00, 0x00]);
    let crc = crc16(&header);
    header.extend_from_slice(&crc.to_be_bytes());
    header
}

/// FLAC's frame number, coded as UTF-8 codes a character.
fn utf8_number(n: u64) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let mut tail = Vec::new();
    let mut rest = n;
    let mut room = 0x1F; // bits the lead byte holds with one continuation byte
    while rest > room {
        tail.push(0x80 | (rest & 0x3F) as u8);
        rest >>= 6;
        room >>= 1;
    }
    let marker = !((0xFFu16 >> (tail.len() + 1)) as u8) & 0xFE;
    let mut out = vec![marker | rest as u8];
    out.extend(tail.into_iter().rev());
    out
}

fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |mut crc, b| {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, b| {
        crc ^= u16::from(*b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
        crc
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn murmur_s_decoder_reads_it_as_the_silence_it_is() {
        let flac = super::silence(16_000, 90, 16_384);
        assert!(flac.len() < 2_000, "{} bytes", flac.len());
        let decoded =
            murmur_core::transcription::decode::decode(flac.into(), 3600).expect("a valid FLAC");
        assert_eq!(decoded.format, "flac");
        assert!((decoded.seconds - 90.0).abs() < 0.01, "{}", decoded.seconds);
        assert!(decoded.samples.iter().all(|s| *s == 0));
    }

    #[test]
    fn frame_numbers_are_coded_as_utf8_codes_characters() {
        assert_eq!(super::utf8_number(0x41), [0x41]);
        assert_eq!(super::utf8_number(0xE9), "é".as_bytes());
        assert_eq!(super::utf8_number(0x20AC), "€".as_bytes());
        assert_eq!(super::utf8_number(0x1F600), "😀".as_bytes());
    }
}
