//! `!command` in the TUI: a shell command the user typed (never the model), run in the
//! working directory with a time limit, its output and exit code kept for the next prompt
//! (as aider's `/run`). Runs processes; must not import `tui`, `core` or `provider`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// How long a command may run before it is killed.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of each stream kept (the end: where a failure is reported).
pub const MAX_STREAM_BYTES: usize = 64 * 1024;

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutput {
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    /// `None`: killed by a signal, or by the time limit (`timed_out`).
    pub code: Option<i32>,
    /// The time limit it was killed at, if it was.
    pub timed_out: Option<Duration>,
}

impl ShellOutput {
    /// How it ended, in words: "exit 0", "exit 101", "killed after 60 s".
    pub fn status(&self) -> String {
        match (self.code, self.timed_out) {
            (_, Some(limit)) => format!("killed after {:.1} s", limit.as_secs_f64()),
            (Some(c), None) => format!("exit {c}"),
            (None, None) => "killed by a signal".to_string(),
        }
    }

    /// The output as the model is shown it: the command, its exit status, then stdout and
    /// stderr fenced.
    pub fn attachment(&self) -> String {
        let mut s = format!("Output of `{}` ({}):", self.command, self.status());
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if text.trim().is_empty() {
                continue;
            }
            s.push_str("\n\n");
            s.push_str(&crate::attach::block(name, text, None));
        }
        s
    }
}

/// The last [`MAX_STREAM_BYTES`] of `bytes` as text, saying how much was left out.
fn tail(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_STREAM_BYTES {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let cut = bytes.len() - MAX_STREAM_BYTES;
    format!(
        "[first {cut} bytes left out]\n{}",
        String::from_utf8_lossy(&bytes[cut..])
    )
}

/// Run `command` with the system shell in `dir`, for at most `timeout`.
pub async fn run(command: &str, dir: &Path, timeout: Duration) -> ShellOutput {
    let mut c = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C");
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c");
        c
    };
    c.arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let failed = |e: std::io::Error| ShellOutput {
        command: command.to_string(),
        stdout: String::new(),
        stderr: format!("could not run it: {e}"),
        code: None,
        timed_out: None,
    };
    let child = match c.spawn() {
        Ok(child) => child,
        Err(e) => return failed(e),
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => ShellOutput {
            command: command.to_string(),
            stdout: tail(&out.stdout),
            stderr: tail(&out.stderr),
            code: out.status.code(),
            timed_out: None,
        },
        Ok(Err(e)) => failed(e),
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => ShellOutput {
            command: command.to_string(),
            stdout: String::new(),
            stderr: String::new(),
            code: None,
            timed_out: Some(timeout),
        },
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_exit_code_and_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), "x").unwrap();
        let out = run("ls; echo oops >&2; exit 3", dir.path(), TIMEOUT).await;
        assert_eq!(out.stdout, "f.txt\n");
        assert_eq!(out.stderr, "oops\n");
        assert_eq!(out.status(), "exit 3");
        assert_eq!(
            out.attachment(),
            "Output of `ls; echo oops >&2; exit 3` (exit 3):\n\nstdout:\n```\nf.txt\n```\n\nstderr:\n```\noops\n```"
        );
        let slow = run("sleep 5", dir.path(), Duration::from_millis(200)).await;
        assert_eq!(slow.status(), "killed after 0.2 s");
        let big = run("head -c 100000 /dev/zero | tr '\\0' a", dir.path(), TIMEOUT).await;
        assert!(
            big.stdout.starts_with("[first 34464 bytes left out]\n"),
            "{}",
            &big.stdout[..40]
        );
    }
}
