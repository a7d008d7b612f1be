//! A bench's child process (the `chaintrace` binary, run as an investigator runs it), measured
//! while it runs: wall and CPU time and its peak resident set.
//!
//! Peak RSS is the kernel's high-water mark of the child's own address space (`VmHWM` in
//! `/proc/PID/status`, polled every 2 ms; it counts mapped file pages too). Not `ru_maxrss`: the
//! child is spawned with `vfork` semantics, and the kernel folds the parent's high-water mark
//! into the child's at `exec` (a bench that just built a 4 GiB snapshot reported that for every
//! child). Its split into anonymous memory (the process's own allocations) and file pages (a
//! mapped snapshot, the binaries) is the largest of each seen while polling.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What one child run measured, and what it wrote.
pub(crate) struct Measured {
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub peak_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    /// Killed for passing the anonymous-memory limit.
    pub killed: bool,
    /// Exited with status 0.
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` (its stdout and stderr captured) and measure it; a child whose anonymous memory
/// passes `anon_limit_kib` is killed (`killed`).
pub(crate) fn run(cmd: &mut Command, anon_limit_kib: u64) -> Measured {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let t0 = Instant::now();
    // reaped by `wait4` below, which also reports its CPU time
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("run chaintrace");
    let pid = child.id();
    // The peak and the anonymous/file split of the resident set, polled.
    let status = PathBuf::from(format!("/proc/{pid}/status"));
    let watch = std::thread::spawn(move || {
        let (mut anon, mut file, mut hwm) = (0u64, 0u64, 0u64);
        while let Ok(s) = std::fs::read_to_string(&status) {
            let field = |name: &str| {
                s.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            anon = anon.max(field("RssAnon:"));
            file = file.max(field("RssFile:"));
            hwm = hwm.max(field("VmHWM:"));
            if anon > anon_limit_kib {
                // SAFETY: a signal to our own child, which is not reaped until wait4 below
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                return (anon, file, hwm, true);
            }
            if s.lines().any(|l| l.starts_with("State:") && l.contains("zombie")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        (anon, file, hwm, false)
    });
    let mut stdout = child.stdout;
    let mut stderr = child.stderr;
    let (stdout, stderr) = std::thread::scope(|s| {
        let o = s.spawn(|| {
            let mut b = String::new();
            if let Some(r) = stdout.as_mut() {
                let _ = std::io::Read::read_to_string(r, &mut b);
            }
            b
        });
        let mut e = String::new();
        if let Some(r) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(r, &mut e);
        }
        (o.join().unwrap_or_default(), e)
    });
    // wait4: the exit status with the child's CPU time
    let mut wstatus = 0i32;
    // SAFETY: plain syscall on our own child's pid; `ru` is a valid out-pointer for the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut wstatus, 0, &mut ru) };
    let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(rc, pid as libc::pid_t, "wait4 on chaintrace");
    let (anon, file, hwm, killed) = watch.join().unwrap_or((0, 0, 0, false));
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    Measured {
        wall_ms,
        cpu_ms: tv(ru.ru_utime) + tv(ru.ru_stime),
        // the child's own high-water mark (see the module docs); ru_maxrss only if never read
        peak_kib: if hwm > 0 { hwm } else { ru.ru_maxrss as u64 },
        anon_kib: anon,
        file_kib: file,
        killed,
        success: libc::WIFEXITED(wstatus) && libc::WEXITSTATUS(wstatus) == 0,
        stdout,
        stderr,
    }
}

/// The median of `v` (NaN when empty).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}
