//! The reliability promise under fire: 30 s of concurrent speech requests while the engine is
//! SIGKILLed every few seconds. Every request must end as a complete 200 or a clean 502/503
//! — none hangs, none returns a truncated body as complete — and at least 99% must be 200s.
//! Run with `--nocapture` to see the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use http_body_util::BodyExt;
use murmur_core::status::State;
use murmur_tests::client::request;
use murmur_tests::murmurd::{fake_engine_config, kill};
use murmur_tests::{Client, Murmurd};

const LOAD: Duration = Duration::from_secs(30);
const KILL_EVERY: Duration = Duration::from_secs(3);
const CLIENTS: usize = 4;

#[derive(Default)]
struct Outcomes {
    complete: AtomicUsize,
    clean_errors: AtomicUsize,
    aborted: AtomicUsize,
    hung: AtomicUsize,
    wrong: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_survives_an_engine_killed_every_few_seconds() {
    let config = fake_engine_config(
        &[],
        "[proxy]\nmax_queue = 64\n[supervisor]\nrestart_delay_ms = 200\nmax_restarts = 1000\nhealthy_reset_secs = 1\n",
    );
    let murmurd = Arc::new(Murmurd::start(&config));
    murmurd
        .wait_for_engine("ready", Duration::from_secs(20), |s| {
            s.state == State::Ready
        })
        .await;

    let outcomes = Arc::new(Outcomes::default());
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let killer = {
        let (murmurd, done) = (murmurd.clone(), done.clone());
        tokio::spawn(async move {
            let mut kills = 0;
            while !done.load(Ordering::SeqCst) {
                tokio::time::sleep(KILL_EVERY).await;
                let status = murmurd.engine().await;
                if let Some(pid) = status.engine.pid {
                    kill(pid, libc::SIGKILL);
                    kills += 1;
                }
            }
            kills
        })
    };

    let text = "The quick brown fox jumps over the lazy dog. ".repeat(3);
    let body = format!(r#"{{"input":"{text}"}}"#);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (murmurd, outcomes, body) = (murmurd.clone(), outcomes.clone(), body.clone());
            tokio::spawn(async move {
                let client = Client::new();
                while started.elapsed() < LOAD {
                    let req = request(Method::POST, &murmurd.url("/v1/audio/speech"), body.clone());
                    let exchange = async {
                        let response = client.send(req).await;
                        let status = response.status();
                        let collected = response.into_body().collect().await;
                        (status, collected.map(|c| c.to_bytes()))
                    };
                    match tokio::time::timeout(Duration::from_secs(30), exchange).await {
                        Err(_) => outcomes.hung.fetch_add(1, Ordering::SeqCst),
                        Ok((status, Ok(bytes))) if status == 200 => {
                            // The WAV header says how much audio follows: a complete body has it all.
                            let declared = bytes
                                .get(40..44)
                                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
                            if declared == Some(bytes.len() - 44) {
                                outcomes.complete.fetch_add(1, Ordering::SeqCst)
                            } else {
                                outcomes.wrong.fetch_add(1, Ordering::SeqCst)
                            }
                        }
                        Ok((status, Ok(bytes))) if status == 502 || status == 503 => {
                            let shaped = serde_json::from_slice::<serde_json::Value>(&bytes)
                                .is_ok_and(|j| j["error"]["message"].is_string());
                            if shaped {
                                outcomes.clean_errors.fetch_add(1, Ordering::SeqCst)
                            } else {
                                outcomes.wrong.fetch_add(1, Ordering::SeqCst)
                            }
                        }
                        Ok((_, Err(_))) => outcomes.aborted.fetch_add(1, Ordering::SeqCst),
                        Ok(_) => outcomes.wrong.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client task");
    }
    done.store(true, Ordering::SeqCst);
    let kills = killer.await.expect("killer task");

    let complete = outcomes.complete.load(Ordering::SeqCst);
    let clean = outcomes.clean_errors.load(Ordering::SeqCst);
    let aborted = outcomes.aborted.load(Ordering::SeqCst);
    let hung = outcomes.hung.load(Ordering::SeqCst);
    let wrong = outcomes.wrong.load(Ordering::SeqCst);
    let total = complete + clean + aborted + hung + wrong;
    let share = complete as f64 / total.max(1) as f64 * 100.0;
    let status = murmurd.engine().await;
    let replays = murmurd
        .stderr()
        .matches("sending the request again")
        .count();
    eprintln!(
        "kill loop: {total} requests in {} s, engine SIGKILLed {kills} times, {} restarts, \
         {replays} requests replayed: {complete} complete 200 ({share:.2}%), {clean} clean 502/503, \
         {aborted} aborted mid-body, {hung} hung, {wrong} wrong",
        LOAD.as_secs(),
        status.restarts.total
    );
    assert!(kills >= 8, "the engine was killed {kills} times");
    assert_eq!(hung, 0, "no request may hang");
    assert_eq!(
        wrong, 0,
        "no truncated body may look complete, no error may lack its shape"
    );
    assert!(share >= 99.0, "{share:.2}% complete 200s");
}
