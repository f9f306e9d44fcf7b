//! A real development PKI for a test, in a temporary folder: CAs, server, agents, operator.

use std::path::{Path, PathBuf};

use subcap_aggregator::certs::{self, Ca, Leaf};

pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    /// CAs, a server certificate for `localhost`/127.0.0.1, an operator `ops`, and one agent
    /// certificate per name in `agents` (`agent-NAME.pem`).
    pub fn new(agents: &[&str]) -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        certs::init(dir.path()).expect("CAs");
        certs::issue(
            dir.path(),
            Leaf::Server,
            &["localhost".into(), "127.0.0.1".into()],
            "server",
        )
        .expect("server cert");
        certs::issue(dir.path(), Leaf::Operator, &["ops".into()], "operator-ops")
            .expect("operator cert");
        for a in agents {
            certs::issue(
                dir.path(),
                Leaf::Agent,
                &[a.to_string()],
                &format!("agent-{a}"),
            )
            .expect("agent cert");
        }
        Pki { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn server_ca(&self) -> PathBuf {
        Ca::Server.cert_path(self.path())
    }

    /// `aggregator.toml` for a server on `port` with its store in `data`; `tls_extra` is added to
    /// the `[tls]` table and `sections` (whole tables such as `[limits]`) at the end.
    pub fn aggregator_config(
        &self,
        port: u16,
        metrics_port: u16,
        data: &Path,
        tls_extra: &str,
        sections: &str,
    ) -> PathBuf {
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nagent_ca = \"{}\"\noperator_ca = \"{}\"\n{tls_extra}\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n{sections}\n",
            data.display(),
            self.file("server.pem").display(),
            self.file("server.key").display(),
            Ca::Agents.cert_path(self.path()).display(),
            Ca::Operators.cert_path(self.path()).display(),
        );
        let path = self.file(&format!("aggregator-{port}.toml"));
        std::fs::write(&path, text).expect("write aggregator.toml");
        path
    }

    /// `agent.toml` for agent certificate `name`, a spool in `spool`, scanning `root`.
    pub fn agent_config(&self, name: &str, port: u16, spool: &Path, root: &Path) -> PathBuf {
        let text = format!(
            "aggregator = \"https://127.0.0.1:{port}\"\nserver_name = \"localhost\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[spool]\ndir = \"{}\"\n[schedule]\ninterval_secs = 3600\njitter_secs = 0\nretry_first_secs = 1\nretry_max_secs = 2\nrequest_timeout_secs = 5\n[scan]\nroot = \"{}\"\n",
            self.server_ca().display(),
            self.file(&format!("agent-{name}.pem")).display(),
            self.file(&format!("agent-{name}.key")).display(),
            spool.display(),
            root.display(),
        );
        let path = self.file(&format!("agent-{name}-{port}.toml"));
        std::fs::write(&path, text).expect("write agent.toml");
        path
    }

    /// `operator.toml` for the operator certificate `ops` and an aggregator on `port`.
    pub fn operator_config(&self, port: u16) -> PathBuf {
        let text = format!(
            "aggregator = \"https://127.0.0.1:{port}\"\nserver_name = \"localhost\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\ntimeout_secs = 20\n",
            self.server_ca().display(),
            self.file("operator-ops.pem").display(),
            self.file("operator-ops.key").display(),
        );
        let path = self.file(&format!("operator-{port}.toml"));
        std::fs::write(&path, text).expect("write operator.toml");
        path
    }
}
