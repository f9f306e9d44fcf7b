//! Gathering a report's sources (the I/O edge): the aggregator's answers over gRPC (current
//! reconciliation, coverage history over the window, ILMT imports) and the hashes of the snapshot
//! files given with `--snapshots`.

use std::path::Path;

use subcap_proto::v1 as pb;
use subcap_proto::v1::ilmt_client::IlmtClient;
use subcap_proto::v1::query_client::QueryClient;
use tonic::transport::Channel;

use super::manifest::{regular_files, sha256_file};
use super::model::{History, InputFile, Sources, Window};
use super::ReportError;
use crate::ops::views;

/// Which call failed, and how.
#[derive(Debug)]
pub struct Refused {
    pub call: &'static str,
    pub status: tonic::Status,
}

/// Asks `Query.History` and collects every chunk.
pub async fn history(
    q: &mut QueryClient<Channel>,
    request: pb::HistoryRequest,
) -> Result<History, tonic::Status> {
    let mut stream = q.history(request).await?.into_inner();
    let mut h = History::default();
    while let Some(chunk) = stream.message().await? {
        if chunk.basis.is_some() {
            h.basis = chunk.basis;
        }
        h.hosts.extend(chunk.hosts);
    }
    Ok(h)
}

/// Everything a report over `window` is built from, asked of the aggregator behind `channel`.
pub async fn sources(
    channel: Channel,
    window: Window,
    snapshots: Vec<InputFile>,
) -> Result<Sources, Refused> {
    let mut q = QueryClient::new(channel.clone());
    let mut ilmt = IlmtClient::new(channel);
    let refused = |call| move |status| Refused { call, status };
    let reconcile = views::reconcile(
        &mut q,
        pb::ReconcileRequest {
            with_hosts: true,
            with_findings: true,
            ..Default::default()
        },
    )
    .await
    .map_err(refused("reconcile"))?;
    let history = history(
        &mut q,
        pb::HistoryRequest {
            from: window.from.to_string(),
            to: window.to.to_string(),
            ..Default::default()
        },
    )
    .await
    .map_err(refused("history"))?;
    let imports = ilmt
        .list_imports(pb::ListImportsRequest {})
        .await
        .map_err(refused("list imports"))?
        .into_inner()
        .imports;
    Ok(Sources {
        reconcile,
        history,
        imports,
        snapshots,
    })
}

/// Every regular file directly in `dir` with its SHA-256 and size, by name.
pub fn snapshot_files(dir: &Path) -> Result<Vec<InputFile>, ReportError> {
    regular_files(dir)?
        .into_iter()
        .map(|(file_name, path)| {
            let (sha256, size) = sha256_file(&path)?;
            Ok(InputFile {
                file_name,
                sha256,
                size,
            })
        })
        .collect()
}
