use murmur_core::audio::{EngineAudio, Format, Pipeline};
fn main() {
    let rate = 22050u32;
    let n = rate as usize * 12;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..n {
        let t = i as f32 / rate as f32;
        let s = ((t * 220.0 * 6.28).sin() * 8000.0 + ((rnd() % 2000) as f32 - 1000.0)) as i16;
        wav.extend_from_slice(&s.to_le_bytes());
    }
    for iter in 0..400 {
        for format in Format::ALL {
            let mut p = Pipeline::new(EngineAudio::Wav, format, iter % 2 == 0).unwrap();
            let mut at = 0;
            while at < wav.len() {
                let len = match rnd() % 4 {
                    0 => 1 + (rnd() % 7) as usize,
                    1 => 1 + (rnd() % 5000) as usize,
                    _ => 1 + (rnd() % 60000) as usize,
                };
                let end = (at + len).min(wav.len());
                p.push(&wav[at..end]).unwrap();
                at = end;
            }
            p.finish().unwrap();
        }
        if iter % 50 == 0 {
            eprintln!("{iter}");
        }
    }
    eprintln!("ok");
}
