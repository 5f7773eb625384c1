//! The proxy's readiness seam with a stand-in backend, in-process on a real port: what the
//! supervisor will plug into. One start attempt for any number of waiting requests; a failed
//! attempt answers every waiter with the reason and is retried by the next request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, join_all};
use murmur_core::backend::{Backend, SingleFlight, Upstream};
use murmur_core::config::{EngineId, Settings};
use murmur_core::engines::{Capability, Engine, Engines};
use murmur_core::problem::{Problem, Stage};
use murmur_core::proxy::{ProxyState, router};
use murmur_tests::{Client, FakeUpstream};

struct StandIn {
    upstream: Upstream,
    starts: AtomicUsize,
    fail: AtomicBool,
    flight: SingleFlight,
}

impl Backend for StandIn {
    fn ensure_ready(&self) -> BoxFuture<'_, Result<Upstream, Problem>> {
        let fail = self.fail.load(Ordering::SeqCst);
        let upstream = self.upstream.clone();
        let starts = &self.starts;
        async move {
            self.flight
                .run(|| {
                    starts.fetch_add(1, Ordering::SeqCst);
                    async move {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if fail {
                            Err(Problem::new("the stand-in refused to start")
                                .at(Stage::Starting)
                                .hint("try again"))
                        } else {
                            Ok(upstream)
                        }
                    }
                    .boxed()
                })
                .await
        }
        .boxed()
    }

    fn current(&self) -> Option<Upstream> {
        self.flight.ready()
    }

    fn report_unreachable(&self, upstream: &Upstream) {
        self.flight.invalidate(upstream);
    }

    fn is_ready(&self) -> bool {
        self.flight.ready().is_some()
    }
}

#[tokio::test]
async fn waiters_share_one_attempt_and_failures_are_not_cached() {
    let fake = FakeUpstream::start().await;
    let backend = Arc::new(StandIn {
        upstream: Upstream::new(fake.addr.to_string().parse().expect("authority")),
        starts: AtomicUsize::new(0),
        fail: AtomicBool::new(true),
        flight: SingleFlight::default(),
    });
    let mut settings = Settings::default();
    settings.engine.id = EngineId::Custom;
    settings.proxy.max_queue = 100;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let speech = Engine::reached_by(Capability::Speech, backend.clone(), &settings);
    let state = ProxyState::new(
        murmur_core::config::LiveSettings::new(settings),
        Engines::of(vec![speech]),
        Arc::default(),
        murmur_core::http_client::new(),
        murmur_core::drain::Lifeline::detached(),
    );
    tokio::spawn(async move { axum::serve(listener, router(state)).await });

    let client = Client::new();
    let models = format!("http://{addr}/v1/models");
    let replies = join_all((0..50).map(|_| client.get(&models))).await;
    assert_eq!(backend.starts.load(Ordering::SeqCst), 1);
    for reply in &replies {
        assert_eq!(reply.status, 503);
        assert_eq!(reply.error_code(), "engine_not_ready");
        assert_eq!(reply.json()["error"]["stage"], "starting");
        assert!(reply.header("retry-after").is_some());
    }

    backend.fail.store(false, Ordering::SeqCst);
    let replies = join_all((0..50).map(|_| client.get(&models))).await;
    assert!(replies.iter().all(|r| r.status == 200));
    assert_eq!(
        backend.starts.load(Ordering::SeqCst),
        2,
        "the next request tried again, once"
    );
}
