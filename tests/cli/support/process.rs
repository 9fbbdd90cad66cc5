//! Running `todo` under test: its clean environment, the fluent runner's
//! entry point, background processes, pseudo-terminals and embedded
//! database homes of their own.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use super::{embedded_home, server_bindir, stdout, Run, TestDb};

/// The environment every `todo` under test gets: nothing of the
/// developer's (no `DATABASE_URL`, `TODO_*`, `PG*`, `NO_COLOR`, locale),
/// only `PATH` (to find PostgreSQL's binaries) and `CI=true`, as CI runs it;
/// `TODO_PG_BINDIR` when the run's servers are another version's
/// ([`server_bindir`]), so that embedded databases run that version too;
/// and `TODO_HOME` ([`embedded_home`]) unless a test gives its own.
const KEPT: [&str; 1] = ["PATH"];

/// `program` with the test environment, run in `dir`.
pub fn command_in_test_env(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> StdCommand {
    let mut cmd = StdCommand::new(program);
    cmd.env_clear();
    for key in KEPT {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    if let Some(bindir) = server_bindir() {
        cmd.env("TODO_PG_BINDIR", bindir);
    }
    cmd.env("TODO_HOME", embedded_home());
    cmd.env("CI", "true").current_dir(dir);
    cmd
}

/// Polls `condition` every 25 ms until it holds (true) or `timeout` passes
/// (false): for what happens some time after a command, never a fixed sleep.
pub fn wait_for(timeout: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// `todo` with the test environment, run in `dir`, for the fluent runner
/// (`todo_cmd(dir).args([...]).expect(0)`).
pub fn todo_cmd(dir: &Path) -> Run {
    let cmd = assert_cmd::Command::from_std(command_in_test_env(
        assert_cmd::cargo::cargo_bin("todo"),
        dir,
    ));
    Run::new(cmd, std::iter::empty::<&str>())
}

/// The same as a `std::process::Command`, for tests that spawn `todo` and
/// act while it runs (signals, races); stdout and stderr are captured.
pub fn todo_process(dir: &Path) -> StdCommand {
    let mut cmd = command_in_test_env(assert_cmd::cargo::cargo_bin("todo"), dir);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// `sh -c SCRIPT` with `$0` the `todo` binary and the test environment,
/// for what needs a shell (closed descriptors, pipes into `head`).
pub fn todo_in_shell(dir: &Path, script: &str) -> StdCommand {
    let mut cmd = command_in_test_env("sh", dir);
    cmd.arg("-c")
        .arg(script)
        .arg(assert_cmd::cargo::cargo_bin("todo"));
    cmd
}

/// Starts `todo ARGS` with `url` as `DATABASE_URL`, without waiting; stdout
/// and stderr are captured.
pub fn spawn_todo(dir: &Path, url: &str, args: &[&str]) -> std::process::Child {
    todo_process(dir)
        .args(args)
        .env("DATABASE_URL", url)
        .spawn()
        .unwrap()
}

/// Runs `n` copies of `todo ARGS` at once (`{i}` in an argument becomes the
/// copy's number) and returns their outputs.
pub fn run_concurrently(
    dir: &Path,
    n: usize,
    url: &str,
    args: &[&str],
) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("{i}", &i.to_string()))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            spawn_todo(dir, url, &args)
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// A background session; killed when dropped.
pub struct Holder(pub(super) std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh `TODO_HOME`; the cluster in it is stopped and removed at the end.
pub struct LocalHome {
    pub path: PathBuf,
}

impl LocalHome {
    pub fn new(tag: &str) -> LocalHome {
        let path = PathBuf::from(format!("/tmp/todo-lt-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        LocalHome { path }
    }

    pub fn cmd(&self) -> Run {
        todo_cmd(&std::env::temp_dir()).env("TODO_HOME", &self.path)
    }

    /// Runs `todo ARGS` in this home and asserts it succeeds.
    pub fn ok(&self, args: &[&str]) {
        self.run(args.iter().copied()).ok();
    }

    /// `todo ARGS` in this home, for the fluent runner.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        self.cmd().args(args)
    }

    pub fn url(&self) -> String {
        stdout(&self.cmd().args(["db", "local", "url"]).output())
            .trim()
            .to_string()
    }
}

impl Drop for LocalHome {
    fn drop(&mut self) {
        let _ = self.cmd().args(["db", "local", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.path);
        // A long or unusual home has its socket directory under /tmp.
        let socket_dir = todo::local::Cluster::new(&self.path).socket_dir();
        if !socket_dir.starts_with(&self.path) {
            let _ = std::fs::remove_dir_all(socket_dir);
        }
    }
}

/// Runs `todo ARGS` on a pseudo-terminal (util-linux `script`), typing
/// `answer` once the prompt shows; returns (exit code, everything the
/// terminal showed).
pub fn on_a_terminal(db: &TestDb, args: &str, answer: &str) -> (Option<i32>, String) {
    on_a_terminal_after(db, args, answer, std::time::Duration::ZERO)
}

/// [`on_a_terminal`], typing the answer `think` after the prompt shows.
pub fn on_a_terminal_after(
    db: &TestDb,
    args: &str,
    answer: &str,
    think: std::time::Duration,
) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    let bin = assert_cmd::cargo::cargo_bin("todo");
    let mut child = command_in_test_env("script", &db.dir)
        // A pseudo-terminal starts with no size; give it one, as a window
        // has (a pager such as `less -F` needs it to quit on a short list).
        .args([
            "-qec",
            &format!("stty cols 120 rows 40; {} {args}", bin.display()),
            "/dev/null",
        ])
        .env("TODO_DATABASE_URL", db.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !String::from_utf8_lossy(&screen).contains("[y/N]") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => screen.extend(bytes),
            Err(_) => break,
        }
    }
    std::thread::sleep(think);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    screen.extend(rx.try_iter().flatten());
    (status.code(), String::from_utf8_lossy(&screen).into_owned())
}
