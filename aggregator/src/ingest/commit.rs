//! Group commit: many requests write to the store, one flush makes all of them durable, and each
//! request is acknowledged only after a flush that began after its write.
//!
//! A request calls [`GroupCommit::durable`] after its write returned. It takes a ticket (a number
//! that grows by one per request) and waits until the flusher reports a durable ticket at least as
//! high. The flusher reads the highest ticket *before* it starts a flush, so every write with a
//! ticket up to that number had returned before the flush began and is covered by it.
//!
//! The flusher is one dedicated thread ([`GroupCommit::start`]): flushes are blocking file I/O, one
//! at a time, and requests arriving during a flush wait for the next one, which covers them all.
//! Flushes start at least [`MIN_FLUSH_INTERVAL`] apart: a flush costs about the same CPU however
//! many reports it covers, so under load each one should cover many; an idle committer (the last
//! flush longer ago than that) flushes at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::Store;

/// Least time from the start of one flush to the start of the next.
pub const MIN_FLUSH_INTERVAL: Duration = Duration::from_millis(4);

#[derive(Debug, Clone, Default)]
struct State {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The last failed flush: tickets up to this one (and above `durable`) failed with the message.
    failed: Option<(u64, String)>,
}

/// What wakes the flusher thread.
#[derive(Debug, Default)]
struct Wake {
    /// A ticket was issued since the flusher last looked.
    pending: bool,
    /// The flusher should exit.
    stop: bool,
}

pub struct GroupCommit {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    issued: AtomicU64,
    wake: Mutex<Wake>,
    wake_cv: Condvar,
    state: watch::Sender<State>,
}

#[derive(Debug, thiserror::Error)]
#[error("store flush failed: {0}")]
pub struct FlushFailed(pub String);

/// The running flusher thread; dropping it stops the thread and waits for it.
pub struct Flusher {
    commit: Arc<GroupCommit>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if let Ok(mut w) = self.commit.wake.lock() {
            w.stop = true;
        }
        self.commit.wake_cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl GroupCommit {
    /// A committer over `store`; [`GroupCommit::start`] its flusher for it to make progress. Each
    /// flush is counted in `metrics`.
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(GroupCommit {
            store,
            metrics,
            issued: AtomicU64::new(0),
            wake: Mutex::new(Wake::default()),
            wake_cv: Condvar::new(),
            state: watch::Sender::new(State::default()),
        })
    }

    /// Starts the flusher thread.
    pub fn start(self: &Arc<Self>) -> std::io::Result<Flusher> {
        let commit = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || commit.run())?;
        Ok(Flusher {
            commit: Arc::clone(self),
            thread: Some(thread),
        })
    }

    /// Waits until every write that returned before this call is on disk.
    pub async fn durable(&self) -> Result<(), FlushFailed> {
        let ticket = self.issued.fetch_add(1, Ordering::AcqRel) + 1;
        let mut rx = self.state.subscribe();
        self.poke();
        loop {
            {
                let s = rx.borrow_and_update();
                if s.durable >= ticket {
                    return Ok(());
                }
                if let Some((upto, msg)) = &s.failed {
                    if *upto >= ticket {
                        return Err(FlushFailed(msg.clone()));
                    }
                }
            }
            if rx.changed().await.is_err() {
                return Err(FlushFailed("the committer stopped".into()));
            }
        }
    }

    /// Tells the flusher a ticket was issued (a wake-up only when it did not know yet).
    fn poke(&self) {
        match self.wake.lock() {
            Ok(mut w) if !w.pending => {
                w.pending = true;
                self.wake_cv.notify_one();
            }
            Ok(_) => {}
            Err(_) => self.wake_cv.notify_one(),
        }
    }

    /// Blocks until a ticket was issued since the last call; false when the flusher should stop.
    fn wait_for_work(&self) -> bool {
        let Ok(mut w) = self.wake.lock() else {
            return false;
        };
        while !w.pending && !w.stop {
            w = match self.wake_cv.wait(w) {
                Ok(w) => w,
                Err(_) => return false,
            };
        }
        w.pending = false;
        !w.stop
    }

    /// The flusher: one flush at a time, each covering every ticket issued before it began.
    /// After a failed flush it waits for a new request before trying again.
    fn run(&self) {
        let mut last_failed = 0;
        let mut last_start: Option<Instant> = None;
        while self.wait_for_work() {
            if let Some(wait) = last_start
                .map(|t| t + MIN_FLUSH_INTERVAL)
                .and_then(|next| next.checked_duration_since(Instant::now()))
            {
                std::thread::sleep(wait);
            }
            let target = self.issued.load(Ordering::Acquire);
            if target <= self.state.borrow().durable || target <= last_failed {
                continue;
            }
            let started = Instant::now();
            last_start = Some(started);
            match self.store.sync() {
                Ok(()) => {
                    let before = self.state.borrow().durable;
                    self.metrics
                        .flushed(started.elapsed(), target.saturating_sub(before));
                    self.state
                        .send_modify(|s| s.durable = s.durable.max(target));
                }
                Err(e) => {
                    last_failed = target;
                    tracing::error!(error = %e, "store flush failed; requests waiting on it are refused");
                    self.state
                        .send_modify(|s| s.failed = Some((target, e.to_string())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[tokio::test]
    async fn acknowledgements_wait_for_a_flush_and_the_flusher_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let metrics = Metrics::new();
        let commit = GroupCommit::new(Arc::clone(&store), Arc::clone(&metrics));
        let flusher = commit.start().unwrap();
        let waits: Vec<_> = (0..20)
            .map(|_| {
                let c = Arc::clone(&commit);
                tokio::spawn(async move { c.durable().await })
            })
            .collect();
        for w in waits {
            w.await.unwrap().unwrap();
        }
        let text = metrics.render(store.as_ref());
        let count = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
                .unwrap()
        };
        assert!(count("subcap_store_flush_seconds_count") >= 1.0, "{text}");
        assert_eq!(count("subcap_store_flushed_requests_total"), 20.0, "{text}");
        drop(flusher);
        assert_eq!(
            Arc::strong_count(&commit),
            1,
            "the thread let go of the committer"
        );
    }
}
