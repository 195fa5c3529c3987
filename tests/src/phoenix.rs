//! Arize Phoenix, a GenAI observability backend, on loopback with an in-memory SQLite
//! database: proof that a real GenAI backend understands what trace-llm exports.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::collector::{free_port, python_with, wait_until};

pub struct Phoenix {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Phoenix {
    /// Starts Phoenix (installing `arize-phoenix` into the test venv on first use).
    pub fn start() -> Phoenix {
        let python = python_with(&[("phoenix", "arize-phoenix")]);
        let port = free_port();
        let grpc_port = free_port();
        let dir =
            std::env::temp_dir().join(format!("trace-llm-phoenix-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("phoenix dir");
        let log = dir.join("phoenix.log");
        let out = File::create(&log).expect("log");
        let child = Command::new(python)
            .args(["-m", "phoenix.server.main", "serve"])
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", grpc_port.to_string())
            .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
            .env("PHOENIX_SQL_DATABASE_URL", "sqlite:///:memory:")
            .env("PHOENIX_WORKING_DIR", &dir)
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Phoenix: {e}"));
        let mut phoenix = Phoenix { child, port, log };
        let up = wait_until(Duration::from_secs(120), || {
            phoenix.get("/healthz").is_some()
        });
        if !up {
            let log = std::fs::read_to_string(&phoenix.log).unwrap_or_default();
            let _ = phoenix.child.kill();
            panic!("Phoenix did not come up within 120 s. Its log:\n{log}");
        }
        phoenix
    }

    /// Base URL (OTLP over HTTP goes to `/v1/traces` under it).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> Option<String> {
        let url = format!("{}{path}", self.endpoint());
        let response = reqwest::blocking_get(&url)?;
        Some(response)
    }

    /// The spans of the default project, as Phoenix's REST API returns them.
    pub fn spans(&self) -> Vec<Value> {
        self.get("/v1/projects/default/spans?limit=100")
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .and_then(|v| v["data"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal blocking GET over a fresh current-thread runtime (the tests are synchronous).
mod reqwest {
    pub fn blocking_get(url: &str) -> Option<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let response = ::reqwest::Client::new()
                .get(url)
                .timeout(std::time::Duration::from_secs(2))
                .send()
                .await
                .ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.text().await.ok()
        })
    }
}
