//! Batched writes: requests hand their report to one writer thread, which stores every report
//! waiting at that moment with one store call and answers each request with its own outcome.
//! Durability is [`super::commit`]'s job, after the write.
//!
//! Why a batch: the bodies of a batch are appended to the body log in one write, and one thread
//! writing keeps the store's write order simple (ids are checked and indexed by this thread
//! alone, so a resend in the same batch or the next is seen). A report the store cannot take (a
//! damaged record of its host) fails alone.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use subcap_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{Put, PutOutcome, Store};

/// Most reports in one batch, and most bytes (encoded) when reports are large.
const MAX_BATCH: usize = 256;
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Reports waiting for the writer before senders wait for room.
const QUEUE: usize = 4096;

#[derive(Debug, Clone, thiserror::Error)]
#[error("store write failed: {0}")]
pub struct WriteFailed(pub String);

enum Job {
    Put {
        host_key: String,
        /// Shared with the request's task, which drops it last: the report is freed there, not on
        /// the writer thread.
        report: Arc<pb::HostReport>,
        /// `report` encoded, on the request's task.
        body: Vec<u8>,
        reply: oneshot::Sender<Result<PutOutcome, WriteFailed>>,
    },
    Stop,
}

pub struct Writer {
    tx: mpsc::Sender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread over `store`; each batch is counted in `metrics`.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(store.as_ref(), &metrics, rx))?;
        Ok(Writer {
            tx,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stores `report` for `host_key` (received now); returns once it is written, not yet durable.
    pub async fn put(
        &self,
        host_key: String,
        report: pb::HostReport,
    ) -> Result<PutOutcome, WriteFailed> {
        // The work that needs no store is done here, on the request's task, in parallel with
        // other requests: the writer thread is the one serial step of ingest.
        let body = prost::Message::encode_to_vec(&report);
        let report = Arc::new(report);
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job::Put {
                host_key,
                report: Arc::clone(&report),
                body,
                reply,
            })
            .await
            .map_err(|_| WriteFailed("the store writer stopped".into()))?;
        let outcome = answer
            .await
            .map_err(|_| WriteFailed("the store writer stopped".into()))?;
        drop(report);
        outcome
    }

    /// Writes what was handed in before this call, then stops the thread and waits for it.
    pub async fn stop(&self) {
        let _ = self.tx.send(Job::Stop).await;
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Stores `puts` with one store call; one outcome per put, in order. A report the store refuses
/// fails alone; when the store cannot write at all, every put of the batch fails.
fn store_batch(store: &dyn Store, puts: &[Put<'_>]) -> Vec<Result<PutOutcome, WriteFailed>> {
    match store.put_reports(puts) {
        Ok(outcomes) if outcomes.len() == puts.len() => outcomes
            .into_iter()
            .map(|o| o.map_err(|e| WriteFailed(e.to_string())))
            .collect(),
        Ok(_) => puts
            .iter()
            .map(|_| Err(WriteFailed("the store returned too few outcomes".into())))
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, reports = puts.len(), "batch not stored");
            puts.iter()
                .map(|_| Err(WriteFailed(e.to_string())))
                .collect()
        }
    }
}

/// The writer thread: waits for a report, takes every other one already waiting (up to the batch
/// limits), stores them in one transaction, answers each; until stopped.
fn run(store: &dyn Store, metrics: &Metrics, mut rx: mpsc::Receiver<Job>) {
    type Waiting = (
        String,
        Arc<pb::HostReport>,
        Vec<u8>,
        oneshot::Sender<Result<PutOutcome, WriteFailed>>,
    );
    let mut batch: Vec<Waiting> = Vec::new();
    let mut stop = false;
    while !stop {
        let Some(first) = rx.blocking_recv() else {
            return;
        };
        let mut bytes = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Put {
                    host_key,
                    report,
                    body,
                    reply,
                } => {
                    bytes += body.len();
                    batch.push((host_key, report, body, reply));
                }
                Job::Stop => stop = true,
            }
            if !stop && batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let received_at = SystemTime::now();
        let puts: Vec<Put<'_>> = batch
            .iter()
            .map(|(host_key, report, body, _)| Put {
                host_key,
                report,
                body,
                received_at,
            })
            .collect();
        let outcomes = store_batch(store, &puts);
        metrics.written(puts.len());
        drop(puts);
        for ((_, report, body, reply), outcome) in batch.drain(..).zip(outcomes) {
            // Before the answer: the request's task then holds the last reference to the report.
            drop((report, body));
            let _ = reply.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn report(id: &str, host: &str) -> pb::HostReport {
        pb::HostReport {
            report_id: id.into(),
            collected_at: Some(pbjson_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
            identity: Some(pb::HostIdentity {
                hostname: host.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_report_the_store_refuses_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A corrupt latest-per-host record: any transaction that stores host "bad" aborts.
            let db = sled::open(dir.path()).unwrap();
            db.open_tree("latest")
                .unwrap()
                .insert("bad", &[0xff, 0xff, 0xff][..])
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let reports = [
            report("g1", "good"),
            report("b1", "bad"),
            report("g2", "good2"),
        ];
        let now = SystemTime::now();
        let bodies: Vec<Vec<u8>> = reports.iter().map(prost::Message::encode_to_vec).collect();
        let puts: Vec<Put<'_>> = reports
            .iter()
            .zip(&bodies)
            .map(|(r, body)| Put {
                host_key: &r.identity.as_ref().unwrap().hostname,
                report: r,
                body,
                received_at: now,
            })
            .collect();
        let outcomes = store_batch(&store, &puts);
        assert_eq!(outcomes.len(), 3);
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        assert!(outcomes[1].is_err(), "{outcomes:?}");
        assert!(store.report("g1").unwrap().is_some());
        assert!(store.report("g2").unwrap().is_some());
    }

    #[tokio::test]
    async fn puts_are_answered_in_batches_and_stop_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let metrics = Metrics::new();
        let writer = Arc::new(Writer::start(Arc::clone(&store), Arc::clone(&metrics)).unwrap());
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let w = Arc::clone(&writer);
                tokio::spawn(async move {
                    w.put(
                        format!("h{}", i % 7),
                        report(&format!("r{i}"), &format!("h{}", i % 7)),
                    )
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Ok(PutOutcome::Stored { .. })));
        }
        let again = writer.put("h0".into(), report("r0", "h0")).await.unwrap();
        assert!(matches!(again, PutOutcome::Duplicate { .. }));
        writer.stop().await;
        assert!(writer.put("h1".into(), report("r99", "h1")).await.is_err());
        assert_eq!(store.host_count(), 7);
        let text = metrics.render(store.as_ref());
        assert!(
            text.contains("subcap_store_batched_reports_total 51"),
            "{text}"
        );
    }
}
