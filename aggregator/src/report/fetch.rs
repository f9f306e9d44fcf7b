//! Gathering a report's sources (the I/O edge): the aggregator's answers over gRPC (current
//! reconciliation, coverage history over the window, ILMT imports) and the snapshot folder given
//! with `--snapshots` (each file hashed, each snapshot read and verified).

use std::path::Path;

use subcap_proto::v1 as pb;
use subcap_proto::v1::ilmt_client::IlmtClient;
use subcap_proto::v1::query_client::QueryClient;
use tonic::transport::Channel;

use super::manifest::{input_files, sha256_file};
use super::model::{History, InputFile, SnapshotInputs, Sources, Window};
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
    snapshots: Option<SnapshotInputs>,
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

/// A snapshot folder: every file in it hashed (those directly in it, and those of the extracted
/// snapshot folders one level below, named `folder/file`), and every snapshot read and verified
/// as `subcap snapshots check` reads it.
pub fn snapshot_inputs(dir: &Path) -> Result<SnapshotInputs, ReportError> {
    let mut files = Vec::new();
    for (file_name, path) in input_files(dir)? {
        let (sha256, size) = sha256_file(&path)?;
        files.push(InputFile {
            file_name,
            sha256,
            size,
        });
    }
    let snapshots = crate::snapshots::read::read_dir(dir, &crate::ilmt::Limits::default())
        .map_err(|e| ReportError::Invalid {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(SnapshotInputs { files, snapshots })
}
