//! Real backends for the end-to-end tests: the `rotel` OpenTelemetry collector (PyPI wheel
//! `rotel`, a collector binary with a Python processor hook) and, in `phoenix.rs`, Arize
//! Phoenix. Missing Python, a failed install or a backend that does not start is a test
//! failure with a message saying what to do, never a silent pass.
//!
//! Python packages go into a virtual environment under `target/e2e-python` (made on first
//! use, shared by every test process through a file lock), unless `TRACE_LLM_E2E_PYTHON`
//! names an interpreter that already has them (`.ci/run` sets it up).

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

fn workspace_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        })
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what}: cannot run {cmd:?}: {e} (is Python 3 with pip installed?)")
    });
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A Python interpreter with `packages` importable: `TRACE_LLM_E2E_PYTHON`, or a venv under
/// `target/e2e-python` where missing packages are installed with pip.
pub fn python_with(packages: &[(&str, &str)]) -> PathBuf {
    if let Some(python) = std::env::var_os("TRACE_LLM_E2E_PYTHON") {
        return PathBuf::from(python);
    }
    let dir = workspace_target().join("e2e-python");
    std::fs::create_dir_all(&dir).expect("create target/e2e-python");
    let lock = File::create(dir.join(".lock")).expect("lock file");
    lock.lock().expect("lock target/e2e-python");
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&system).arg("-m").arg("venv").arg(&venv),
            "creating a Python venv for the end-to-end tests",
        );
    }
    for (module, requirement) in packages {
        let present = Command::new(&python)
            .arg("-c")
            .arg(format!("import {module}"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            run(
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg(requirement),
                &format!("pip install {requirement} (needed by the end-to-end tests)"),
            );
        }
    }
    drop(lock);
    python
}

/// A free TCP port on 127.0.0.1 (the collector does not accept port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
}

fn rotel_agent() -> PathBuf {
    static AGENT: OnceLock<PathBuf> = OnceLock::new();
    AGENT
        .get_or_init(|| {
            if let Some(agent) = std::env::var_os("ROTEL_AGENT") {
                return PathBuf::from(agent);
            }
            let python = python_with(&[("rotel", "rotel")]);
            let dir = run(
                Command::new(python).args([
                    "-c",
                    "import os, rotel; print(os.path.dirname(rotel.__file__))",
                ]),
                "locating the rotel package",
            );
            let agent = Path::new(&dir).join("rotel-agent");
            assert!(
                agent.exists(),
                "the rotel wheel has no rotel-agent binary at {agent:?}"
            );
            agent
        })
        .clone()
}

/// The JSON lines a processor has written to `file` so far (none if it has written none).
fn json_lines(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line from the processor"))
        .collect()
}

/// User plus system CPU time of a process, from its `/proc/<pid>/stat` (or
/// `/proc/self/stat`); zero where that cannot be read.
pub fn process_cpu_time(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10) // USER_HZ is 100 on Linux
}

/// A running rotel collector that appends every span it receives to a JSON-lines file.
pub struct Rotel {
    child: Option<Child>,
    pub grpc_port: u16,
    pub http_port: u16,
    dir: PathBuf,
    spans_file: PathBuf,
    metrics_file: PathBuf,
    /// Only count spans (throughput runs): `count.py` instead of `record.py`.
    counting: bool,
}

impl Rotel {
    /// Starts the collector on two free loopback ports.
    pub fn start() -> Rotel {
        Rotel::start_with(false)
    }

    /// Starts a collector that only counts the spans it receives (see [`Rotel::received`]):
    /// recording each one would make the collector, not the exporter, the bottleneck.
    pub fn start_counting() -> Rotel {
        Rotel::start_with(true)
    }

    fn start_with(counting: bool) -> Rotel {
        let dir = workspace_target().join("e2e-rotel").join(format!(
            "{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("rotel dir");
        let mut rotel = Rotel {
            child: None,
            grpc_port: free_port(),
            http_port: free_port(),
            spans_file: dir.join("spans.jsonl"),
            metrics_file: dir.join("metrics.jsonl"),
            counting,
            dir,
        };
        rotel.launch();
        rotel
    }

    fn launch(&mut self) {
        let collector = Path::new(env!("CARGO_MANIFEST_DIR")).join("collector");
        let processor = collector.join("record.py");
        let metrics = collector.join("record_metrics.py");
        let traces = if self.counting {
            collector.join("count.py")
        } else {
            processor
        };
        let log = File::create(self.dir.join("rotel.log")).expect("rotel log");
        let child = Command::new(rotel_agent())
            .arg("start")
            .args([
                "--otlp-grpc-endpoint",
                &format!("127.0.0.1:{}", self.grpc_port),
            ])
            .args([
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{}", self.http_port),
            ])
            .args(["--exporter", "blackhole"])
            .arg("--otlp-with-trace-processor")
            .arg(&traces)
            .arg("--otlp-with-metrics-processor")
            .arg(&metrics)
            .args(["--metrics-batch-timeout", "50ms"])
            .args(["--traces-batch-timeout", "50ms"])
            .arg("--pid-file")
            .arg(self.dir.join("rotel.pid"))
            .arg("--log-file")
            .arg(self.dir.join("rotel-agent.log"))
            .env("TRACE_LLM_SPANS_FILE", &self.spans_file)
            .env("TRACE_LLM_COUNT_FILE", self.dir.join("count"))
            .env("TRACE_LLM_METRICS_FILE", &self.metrics_file)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the rotel collector: {e}"));
        self.child = Some(child);
        let started = wait_until(Duration::from_secs(20), || {
            accepts(self.grpc_port) && accepts(self.http_port)
        });
        if !started {
            let log = std::fs::read_to_string(self.dir.join("rotel.log")).unwrap_or_default();
            self.kill();
            panic!(
                "the rotel collector did not start listening within 20 s. Its log:\n{log}\n\
                 (it needs libpython3.11: on Debian, apt-get install libpython3.11)"
            );
        }
    }

    /// The base URL for OTLP over HTTP.
    pub fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The URL for OTLP over gRPC.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Value> {
        json_lines(&self.spans_file)
    }

    /// Waits until at least `n` spans arrived (or `timeout`), then returns them all.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<Value> {
        wait_until(timeout, || self.count() >= n);
        self.spans()
    }

    /// Spans received so far by a counting collector ([`Rotel::start_counting`]).
    pub fn received(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("count"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Every metric received so far, one entry per metric per export: name, unit, kind and
    /// (for histograms) points with attributes, count, sum and buckets.
    pub fn metrics(&self) -> Vec<Value> {
        json_lines(&self.metrics_file)
    }

    /// Number of spans received so far (counts lines, cheaper than parsing).
    pub fn count(&self) -> usize {
        std::fs::read(&self.spans_file)
            .map(|b| bytecount_lines(&b))
            .unwrap_or(0)
    }

    /// User plus system CPU time the collector process has used so far (Linux).
    pub fn cpu_time(&self) -> Duration {
        self.child.as_ref().map_or(Duration::ZERO, |c| {
            process_cpu_time(&format!("/proc/{}/stat", c.id()))
        })
    }

    /// Stops the collector (SIGKILL: an outage, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Appends a marker line to the collector's log (debugging aid).
    pub fn note(&self, text: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("rotel.log"))
        {
            let _ = writeln!(f, "--- test: {text}");
        }
    }
}

fn bytecount_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

impl Drop for Rotel {
    fn drop(&mut self) {
        self.kill();
    }
}
