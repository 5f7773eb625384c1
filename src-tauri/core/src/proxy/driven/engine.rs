//! One connection to the engine and how a request drives it (see the parent module).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use axum::body::Body;
use futures_util::task::AtomicWaker;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::TrySendError;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One connection: what sends on it and what drives it. Kept boxed: its buffers' state is
/// large, and every future that holds it would copy it at each move.
pub(super) struct Engine {
    pub(super) send: SendRequest<Body>,
    connection: Connection<TokioIo<TcpStream>, Body>,
    /// The connection has ended (closed, or failed) and is polled no more.
    pub(super) ended: bool,
    /// Who is woken when the connection (or what it feeds) can go on.
    wakes: Arc<Wakes>,
    /// A waker for `wakes`, made once.
    waker: Waker,
}

impl Engine {
    pub(super) fn new(
        send: SendRequest<Body>,
        connection: Connection<TokioIo<TcpStream>, Body>,
    ) -> Self {
        let wakes = Arc::new(Wakes::default());
        Self {
            send,
            connection,
            ended: false,
            waker: Waker::from(wakes.clone()),
            wakes,
        }
    }

    /// Drive the connection and poll `step` (something the connection feeds: the answer, its
    /// body) until `step` is ready or nothing more can happen now. `step` is told whether the
    /// connection has ended.
    ///
    /// The connection and `step` are polled with a waker of the engine's own ([`Wakes`]): the
    /// connection wakes `step` when it hands it the answer, and `step` wakes the connection
    /// when it wants more of the body, all in this task. With the task's waker each of those
    /// would reschedule the running task — as a yield, which tokio follows by waking an idle
    /// worker thread (a futex call and a thread switch, two per request).
    pub(super) fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut step: impl FnMut(&mut SendRequest<Body>, &mut Context<'_>, bool) -> Poll<T>,
    ) -> Poll<T> {
        self.wakes.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        self.wakes.polling.store(true, Ordering::SeqCst);
        for _ in 0..ROUNDS {
            self.wakes.woken.store(false, Ordering::SeqCst);
            if !self.ended && Pin::new(&mut self.connection).poll(&mut inner).is_ready() {
                self.ended = true;
            }
            if let Poll::Ready(done) = step(&mut self.send, &mut inner, self.ended) {
                self.wakes.polling.store(false, Ordering::SeqCst);
                return Poll::Ready(done);
            }
            if !self.wakes.woken.load(Ordering::SeqCst) {
                break;
            }
        }
        self.wakes.polling.store(false, Ordering::SeqCst);
        // Woken in the last round, or from another thread since the last look: go round
        // again, as the task.
        if self.wakes.woken.swap(false, Ordering::SeqCst) {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Hand the connection a request: what that wakes (the connection) is noted, not passed on
    /// to the task, as [`Engine::poll_with`], which polls the connection next, does.
    pub(super) fn hand(
        &mut self,
        request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Incoming>, TrySendError<Request<Body>>>> + use<> {
        self.wakes.polling.store(true, Ordering::SeqCst);
        let answer = self.send.try_send_request(request);
        self.wakes.polling.store(false, Ordering::SeqCst);
        answer
    }
}

/// How many times [`Engine::poll_with`] goes round before it yields: hyper's connection wakes
/// itself to yield after a burst of work, and that is honoured.
const ROUNDS: usize = 8;

/// The engine's own waker: noted while its connection is being polled (the poll goes round
/// again), passed on to the task otherwise (the socket is ready, from the I/O driver).
#[derive(Default)]
struct Wakes {
    polling: AtomicBool,
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}
