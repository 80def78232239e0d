//! [`ensure_single_threaded_openmp`]: makes sure tesseract's OpenMP runs on
//! one thread, by re-executing the program with `OMP_THREAD_LIMIT=1` when the
//! variable is missing.
//!
//! Key decision: a re-exec, because nothing done inside the process helps.
//! libgomp reads `OMP_THREAD_LIMIT` when it is loaded, before `main`; on this
//! machine `std::env::set_var` in `main` still gave 12.8 s per page and
//! `omp_set_num_threads(1)` per worker 13 s, against 1.7 s with the variable
//! in the environment at start. Parallelism comes from one engine per core.
//!
//! It does not override a value the user set (any value, even empty, is
//! respected), and does nothing on non-Unix systems.

/// The variable libgomp reads at load time.
const OMP_THREAD_LIMIT: &str = "OMP_THREAD_LIMIT";

/// Call first thing in `main`. When `OMP_THREAD_LIMIT` is not set, replaces
/// the current process with a fresh run of the same binary, same arguments
/// (including `argv[0]`) and environment plus `OMP_THREAD_LIMIT=1`; it only
/// returns in that case if the exec failed. When the variable is set it
/// returns `Ok(())` at once.
pub fn ensure_single_threaded_openmp() -> std::io::Result<()> {
    if std::env::var_os(OMP_THREAD_LIMIT).is_some() {
        return Ok(());
    }
    reexec_with_thread_limit()
}

#[cfg(unix)]
fn reexec_with_thread_limit() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    // `/proc/self/exe` still works when the binary was replaced or deleted
    // since start (an upgrade); `current_exe` is the fallback elsewhere.
    let proc_self = Path::new("/proc/self/exe");
    let program = if proc_self.exists() { PathBuf::from(proc_self) } else { std::env::current_exe()? };
    let mut arguments = std::env::args_os();
    let mut command = Command::new(program);
    if let Some(argument0) = arguments.next() {
        command.arg0(argument0);
    }
    command.args(arguments).env(OMP_THREAD_LIMIT, "1");
    // `exec` only returns on failure.
    Err(command.exec())
}

#[cfg(not(unix))]
fn reexec_with_thread_limit() -> std::io::Result<()> {
    Ok(())
}
