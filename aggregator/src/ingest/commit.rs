//! Group commit: many requests write to the store, one flush makes all of them durable, and each
//! request is acknowledged only after a flush that began after its write.
//!
//! A request calls [`GroupCommit::durable`] after its write returned. It takes a ticket (a number
//! that grows by one per request) and waits until the flusher reports a durable ticket at least as
//! high. The flusher reads the highest ticket *before* it starts a flush, so every write with a
//! ticket up to that number had returned before the flush began and is covered by it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::store::Store;

#[derive(Debug, Clone, Default)]
struct State {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The last failed flush: tickets up to this one (and above `durable`) failed with the message.
    failed: Option<(u64, String)>,
}

pub struct GroupCommit {
    store: Arc<dyn Store>,
    issued: AtomicU64,
    wake: Notify,
    state: watch::Sender<State>,
}

#[derive(Debug, thiserror::Error)]
#[error("store flush failed: {0}")]
pub struct FlushFailed(pub String);

impl GroupCommit {
    /// A committer over `store`; spawn [`GroupCommit::run`] for it to make progress.
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(GroupCommit {
            store,
            issued: AtomicU64::new(0),
            wake: Notify::new(),
            state: watch::Sender::new(State::default()),
        })
    }

    /// Waits until every write that returned before this call is on disk.
    pub async fn durable(&self) -> Result<(), FlushFailed> {
        let ticket = self.issued.fetch_add(1, Ordering::AcqRel) + 1;
        let mut rx = self.state.subscribe();
        self.wake.notify_one();
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

    /// The flusher: one flush at a time, each covering every ticket issued before it began.
    /// After a failed flush it waits for a new request before trying again.
    pub async fn run(self: Arc<Self>) {
        let mut last_failed = 0;
        loop {
            let target = self.issued.load(Ordering::Acquire);
            if target <= self.state.borrow().durable || target <= last_failed {
                self.wake.notified().await;
                continue;
            }
            let store = Arc::clone(&self.store);
            let result = tokio::task::spawn_blocking(move || store.sync()).await;
            match result {
                Ok(Ok(())) => self
                    .state
                    .send_modify(|s| s.durable = s.durable.max(target)),
                Ok(Err(e)) => {
                    last_failed = target;
                    tracing::error!(error = %e, "store flush failed; requests waiting on it are refused");
                    self.state
                        .send_modify(|s| s.failed = Some((target, e.to_string())));
                }
                Err(e) => {
                    last_failed = target;
                    tracing::error!(error = %e, "store flush task failed");
                    self.state
                        .send_modify(|s| s.failed = Some((target, e.to_string())));
                }
            }
        }
    }
}
