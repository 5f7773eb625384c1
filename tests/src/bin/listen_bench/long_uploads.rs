//! What long uploads cost murmurd: its peak memory for three-hour FLACs, one and five at once.

use std::time::Instant;

use anyhow::{Result, bail};
use murmur_tests::Murmurd;
use murmur_tests::listening::transcribe;
use murmur_tests::measure::peak_rss_mb;

/// Peak memory of a fresh murmurd (external transcription on a stand-in) over `uploads`
/// three-hour FLACs sent at once: (MB added to its peak, seconds, pieces the engine got).
async fn long_upload_peak(uploads: usize) -> Result<(f64, f64, usize, f64)> {
    let fake = murmur_tests::fake_upstream::FakeUpstream::start().await;
    let config = murmur_tests::murmurd::external_config(
        &fake.url(),
        &format!(
            "[transcription]\nengine = \"external\"\nurl = \"{}\"\nprobe_path = \"/probe\"\n",
            fake.url()
        ),
    );
    let murmurd = Murmurd::start(&config);
    let pid = murmurd.child.id();
    let bomb = murmur_tests::flac::silence(16_000, 3 * 3600, 16_384);
    let before = peak_rss_mb(pid);
    let started = Instant::now();
    let sends = (0..uploads).map(|_| {
        transcribe(
            &murmurd,
            "/v1/audio/transcriptions",
            &[],
            "three-hours.flac",
            &bomb,
        )
    });
    for reply in futures_util::future::join_all(sends).await {
        if reply.status != 200 {
            bail!("a long upload was answered {}", reply.status);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let pieces = fake
        .stats
        .transcribed
        .lock()
        .map_err(|_| anyhow::anyhow!("stats"))?
        .clone();
    let longest = pieces.iter().copied().fold(0.0, f64::max);
    Ok((peak_rss_mb(pid) - before, secs, pieces.len(), longest))
}

/// Print the peak memory for one long upload, then five at once.
pub async fn report() -> Result<()> {
    println!("Long uploads (a 130 KB FLAC of 3 hours of silence; external stand-in engine):");
    for uploads in [1, 5] {
        let (added, secs, pieces, longest) = long_upload_peak(uploads).await?;
        println!(
            "  {uploads} at once: murmurd peak RSS +{added:.0} MB, {secs:.1} s, {pieces} pieces to the engine (longest {longest:.0} s)"
        );
    }
    Ok(())
}
