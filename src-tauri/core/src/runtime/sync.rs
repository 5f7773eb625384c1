//! `provision`: fast path, lock, uv, sync beside, swap. See the module docs of [`super`].

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};
use tokio::io::BufReader;

use super::download;
use super::fetch::{DownloadPolicy, hex};
use super::{Progress, Runtime, RuntimeError, parse_uv_line, runtime_dir, uv};
use crate::config::RuntimeSettings;
use crate::problem::Stage;

/// The launcher every provisioned engine runs under.
pub const LAUNCHER: &str = include_str!("../../../../python-runtime/murmur_launch.py");

const STAMP: &str = ".murmur-stamp";
const MANAGED_PYTHON: &str = "3.12";
const SYSTEM_PYTHON: &str = ">=3.10,<3.14";

/// What the stamp and the engine log need from the caller.
pub struct Provision<'a> {
    /// The folder with `pyproject.toml` and `uv.lock`.
    pub project: &'a Path,
    /// The runtime's name: `<data-dir>/runtimes/<name>`.
    pub name: &'a str,
    pub settings: &'a RuntimeSettings,
    pub data_dir: &'a Path,
    pub policy: DownloadPolicy,
    pub progress: Progress,
    /// Where uv's output goes (the engine log).
    pub log: &'a (dyn Fn(&str) + Send + Sync),
    /// The `PATH` searched for uv; `None`: the process's own.
    pub search_path: Option<std::ffi::OsString>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError + use<> {
    let path = path.to_path_buf();
    move |source| RuntimeError::Io { path, source }
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Make the runtime match the project, as cheaply as possible.
pub async fn provision(request: Provision<'_>) -> Result<Runtime, RuntimeError> {
    let (pyproject, lock) = (
        request.project.join("pyproject.toml"),
        request.project.join("uv.lock"),
    );
    if !pyproject.is_file() || !lock.is_file() {
        return Err(RuntimeError::NoProject(request.project.to_path_buf()));
    }
    let dir = runtime_dir(request.data_dir, request.name);
    fs_err::create_dir_all(&dir).map_err(io(&dir))?;
    let inputs = inputs_hash(&pyproject, &lock, request.settings.python.as_deref())?;

    // Fast path, before taking the lock: nothing to do, nothing to wait for.
    if let Some(runtime) = fresh(&dir, &inputs) {
        return Ok(runtime);
    }
    let lock_path = dir.join(".lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    request.progress.stage(
        Stage::Python,
        "waiting for another Murmur to finish setting up",
    );
    let lock_file = tokio::task::spawn_blocking(move || lock_file.lock().map(|()| lock_file))
        .await
        .map_err(|e| RuntimeError::Io {
            path: lock_path.clone(),
            source: std::io::Error::other(e),
        })?
        .map_err(io(&lock_path))?;
    // Someone may have synced while we waited.
    if let Some(runtime) = fresh(&dir, &inputs) {
        return Ok(runtime);
    }
    let outcome = sync(&request, &dir, &pyproject, &lock, &inputs).await;
    drop(lock_file);
    outcome
}

/// The runtime as it is, if its stamp matches and its interpreter works.
fn fresh(dir: &Path, inputs: &str) -> Option<Runtime> {
    let venv = dir.join(".venv");
    let python = venv_python(&venv);
    std::fs::metadata(&python).ok()?; // follows the symlink: the base interpreter must exist too
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
    let stamp = std::fs::read_to_string(dir.join(STAMP)).ok()?;
    (stamp.trim() == stamp_of(inputs, &cfg)).then(|| Runtime {
        python,
        dir: dir.to_path_buf(),
        fast_path: true,
        note: None,
    })
}

fn inputs_hash(
    pyproject: &Path,
    lock: &Path,
    python: Option<&str>,
) -> Result<String, RuntimeError> {
    let mut hasher = Sha256::new();
    for path in [pyproject, lock] {
        hasher.update(fs_err::read(path).map_err(io(path))?);
        hasher.update([0]);
    }
    hasher.update(LAUNCHER.as_bytes());
    hasher.update(python.unwrap_or("").as_bytes());
    Ok(hex(&hasher.finalize()))
}

fn stamp_of(inputs: &str, pyvenv_cfg: &str) -> String {
    hex(&Sha256::digest(format!("{inputs}\n{pyvenv_cfg}")))
}

/// Which interpreter to ask uv for.
#[derive(Debug, Clone, PartialEq)]
enum Interpreter {
    Managed,
    System,
    Forced(String),
}

async fn sync(
    request: &Provision<'_>,
    dir: &Path,
    pyproject: &Path,
    lock: &Path,
    inputs: &str,
) -> Result<Runtime, RuntimeError> {
    // Finding uv may run `uv --version`: a process, so off the async workers.
    let (configured, data_dir, search_path) = (
        request.settings.uv_path.clone(),
        request.data_dir.to_path_buf(),
        request.search_path.clone(),
    );
    let found = tokio::task::spawn_blocking(move || {
        uv::find(configured.as_deref(), &data_dir, search_path)
    })
    .await
    .map_err(|e| RuntimeError::download(format!("cannot look for uv: {e}")))??;
    let uv = match found {
        Some(found) => found.path().to_path_buf(),
        None => {
            let bin = request.data_dir.join("bin");
            download::uv(
                &request.settings.pypi_url,
                &download::UV,
                &bin,
                &request.policy,
                &request.progress,
            )
            .await?
        }
    };
    for (from, name) in [(pyproject, "pyproject.toml"), (lock, "uv.lock")] {
        let to = dir.join(name);
        let text = fs_err::read(from).map_err(io(from))?;
        fs_err::write(&to, text).map_err(io(&to))?;
    }
    let launcher = dir.join("murmur_launch.py");
    fs_err::write(&launcher, LAUNCHER).map_err(io(&launcher))?;

    let next = dir.join(".venv-next");
    let attempts = match &request.settings.python {
        Some(forced) => vec![Interpreter::Forced(forced.clone())],
        None => vec![Interpreter::Managed, Interpreter::System],
    };
    let mut note = None;
    let mut failure = None;
    for interpreter in attempts {
        remove_tree(&next).await;
        match run_uv(request, &uv, dir, &next, &interpreter).await {
            Ok(()) => {
                if interpreter == Interpreter::System {
                    note = Some(format!(
                        "no managed Python {MANAGED_PYTHON} could be had (offline?); using {}",
                        describe_interpreter(&next)
                    ));
                }
                failure = None;
                break;
            }
            Err(e) => {
                (request.log)(&format!("[murmur] uv sync ({interpreter:?}) failed: {e}"));
                failure = Some(e);
            }
        }
    }
    let venv = dir.join(".venv");
    if let Some(error) = failure {
        remove_tree(&next).await;
        // The previous environment still works: keep using it, and say so.
        if std::fs::metadata(venv_python(&venv)).is_ok() {
            return Ok(Runtime {
                python: venv_python(&venv),
                dir: dir.to_path_buf(),
                fast_path: false,
                note: Some(format!(
                    "the Python environment could not be updated ({error}); using the previous one"
                )),
            });
        }
        return Err(error);
    }
    let old = venv.with_file_name(".venv-old");
    remove_tree(&old).await;
    swap(&next, &venv)?;
    remove_tree(&old).await;
    let cfg_path = venv.join("pyvenv.cfg");
    let cfg = fs_err::read_to_string(&cfg_path).map_err(io(&cfg_path))?;
    let stamp = dir.join(STAMP);
    fs_err::write(&stamp, stamp_of(inputs, &cfg)).map_err(io(&stamp))?;
    request
        .progress
        .stage(Stage::Python, "Python environment ready");
    Ok(Runtime {
        python: venv_python(&venv),
        dir: dir.to_path_buf(),
        fast_path: false,
        note,
    })
}

/// Delete a Python environment (thousands of files) on a blocking thread, if it is there.
async fn remove_tree(path: &Path) {
    let path = path.to_path_buf();
    #[allow(clippy::disallowed_methods)] // on a blocking thread
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(path)).await;
}

/// Put the freshly built venv in place of the old one (moved to `.venv-old`, which the caller
/// deletes off the async workers, before and after).
fn swap(next: &Path, venv: &Path) -> Result<(), RuntimeError> {
    let old = venv.with_file_name(".venv-old");
    if venv.exists() {
        fs_err::rename(venv, &old).map_err(io(venv))?;
    }
    if let Err(e) = fs_err::rename(next, venv) {
        let _ = std::fs::rename(&old, venv);
        return Err(io(venv)(e));
    }
    Ok(())
}

fn describe_interpreter(venv: &Path) -> String {
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap_or_default();
    let value = |key: &str| {
        cfg.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
    };
    match (
        value("version_info").or_else(|| value("version")),
        value("home"),
    ) {
        (Some(version), Some(home)) => format!("the system's Python {version} from {home}"),
        _ => "a system Python".into(),
    }
}

async fn run_uv(
    request: &Provision<'_>,
    uv: &Path,
    dir: &Path,
    target: &Path,
    interpreter: &Interpreter,
) -> Result<(), RuntimeError> {
    let mut command = tokio::process::Command::new(uv);
    command
        .arg("sync")
        .arg("--project")
        .arg(dir)
        .args([
            "--frozen",
            "--no-dev",
            "--no-install-project",
            "--color",
            "never",
        ])
        .env("UV_PROJECT_ENVIRONMENT", target)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match interpreter {
        Interpreter::Managed => {
            // One try: offline, the fallback below is the answer, not uv's retries.
            command
                .args(["--managed-python", "--python", MANAGED_PYTHON])
                .env("UV_HTTP_RETRIES", "0");
            if let Some(mirror) = &request.settings.python_install_mirror {
                command.env("UV_PYTHON_INSTALL_MIRROR", mirror);
            }
        }
        Interpreter::System => {
            command
                .args(["--python", SYSTEM_PYTHON])
                .env("UV_PYTHON_DOWNLOADS", "never");
        }
        Interpreter::Forced(python) => {
            command.args(["--python", python]);
        }
    }
    request
        .progress
        .stage(Stage::Python, format!("preparing Python ({interpreter:?})"));
    let mut child = command.spawn().map_err(|source| RuntimeError::RunUv {
        path: uv.to_path_buf(),
        source,
    })?;
    let mut tail = std::collections::VecDeque::new();
    // Both pipes are read to their end (uv says little on stdout, but a full pipe would stop
    // it), as bytes: a path that is not UTF-8 does not end the reading.
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out = async {
        if let Some(stdout) = stdout {
            crate::lines::each_line(BufReader::new(stdout), |line| {
                (request.log)(&format!("[uv] {line}"));
            })
            .await;
        }
    };
    let err = async {
        if let Some(stderr) = stderr {
            crate::lines::each_line(BufReader::new(stderr), |line| {
                (request.log)(&format!("[uv] {line}"));
                if let Some(warmup) = parse_uv_line(line) {
                    request.progress.report(warmup);
                }
                if tail.len() == 8 {
                    tail.pop_front();
                }
                tail.push_back(line.to_string());
            })
            .await;
        }
    };
    tokio::join!(out, err);
    let status = child.wait().await.map_err(|source| RuntimeError::RunUv {
        path: uv.to_path_buf(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(RuntimeError::Sync {
            status: status.to_string(),
            stderr_tail: tail.into_iter().collect(),
        })
    }
}
