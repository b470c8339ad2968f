//! A private PostgreSQL cluster started from the machine's server binaries, for running
//! Holdfast (and its tests) without setting up a database first.
//!
//! The cluster lives in a data directory of its own. `initdb` runs on first use; later starts
//! reuse it. PostgreSQL refuses to run as root, so when Holdfast runs as root the cluster is
//! owned and run by an unprivileged system user (`postgres` when it exists, else `nobody`).
//! A small watchdog shell holds a pipe from this process and stops the cluster when the pipe
//! closes, so even a killed Holdfast leaves no server behind.
//!
//! When that user cannot reach the data directory (root running a clone under `/root`, whose
//! mode is 0700), the cluster lives in a directory of its own under `/var/tmp` instead, named
//! after the data directory so that the same data directory finds the same cluster again.
//! Password files are created with mode 0600 and removed when `initdb` fails.

use anyhow::{Context, anyhow, bail};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The superuser that `initdb` creates and Holdfast connects as.
const SUPERUSER: &str = "holdfast";

pub struct EmbeddedPostgres {
    bindir: PathBuf,
    pgdata: PathBuf,
    port: u16,
    password: String,
    run_as: Option<(u32, u32)>,
    /// Whether this process started the server (and so must stop it).
    started_here: bool,
    watchdog: Option<Child>,
}

/// Extra server settings, such as `fsync=off` for throwaway test clusters.
#[derive(Default, Clone)]
pub struct Options {
    pub settings: Vec<(String, String)>,
    /// Remove the data directory when the watchdog stops the server.
    pub remove_on_stop: bool,
}

impl EmbeddedPostgres {
    /// Starts (or joins) the cluster in `data_dir/pg`, initialising it on first use.
    pub fn start(data_dir: &Path, options: &Options) -> anyhow::Result<Self> {
        let bindir = find_server_binaries()?;
        std::fs::create_dir_all(data_dir).with_context(|| {
            format!("could not create the data directory {}", data_dir.display())
        })?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("could not resolve {}", data_dir.display()))?;
        let run_as = unprivileged_user()?;
        let home = cluster_home(&data_dir, run_as);
        if home != data_dir {
            tracing::info!(
                cluster = %home.display(),
                "the PostgreSQL user cannot reach the data directory; the private cluster lives here"
            );
            prepare_relocated_home(&home, run_as)?;
        }
        let pgdata = home.join("pg");
        let password = cluster_password(&home)?;
        if options.remove_on_stop
            && let Some((uid, gid)) = run_as
        {
            // A throwaway cluster is removed by its watchdog, which runs as the PostgreSQL user.
            std::os::unix::fs::chown(&home, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(home.join("pg-password"), Some(uid), Some(gid))?;
        }

        if !pgdata.join("PG_VERSION").exists() {
            initdb(&bindir, &pgdata, &password, run_as)?;
        }

        let mut cluster = Self {
            bindir,
            pgdata,
            port: 0,
            password,
            run_as,
            started_here: false,
            watchdog: None,
        };
        if let Some(port) = cluster.running_port() {
            // Another Holdfast on this data directory already runs the server: share it.
            cluster.port = port;
            return Ok(cluster);
        }
        cluster.port = free_port()?;
        cluster.pg_ctl_start(options)?;
        cluster.started_here = true;
        cluster.watchdog = Some(cluster.spawn_watchdog(options.remove_on_stop)?);
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Stops the server if this process started it. Called on a clean shutdown; the watchdog
    /// covers every other way out.
    pub fn stop(&mut self) {
        if self.started_here {
            if let Err(error) = self.stop_server() {
                tracing::warn!(%error, "could not stop the private PostgreSQL");
            }
            self.started_here = false;
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }

    /// Stops the server (fast shutdown: open connections are terminated), keeping the
    /// cluster; [`Self::start_again`] brings it back on the same port. For fault drills.
    pub fn stop_server(&self) -> anyhow::Result<()> {
        let status = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(&self.pgdata)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("could not run pg_ctl")?;
        if !status.success() {
            bail!("pg_ctl stop failed: {status}");
        }
        Ok(())
    }

    /// Starts a server stopped by [`Self::stop_server`] again, on the same port.
    pub fn start_again(&self, options: &Options) -> anyhow::Result<()> {
        self.pg_ctl_start(options)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bindir.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.current_dir(&self.pgdata);
        command
    }

    /// The port of a server already running on this data directory, if any.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .command("pg_ctl")
            .args(["status", "-D"])
            .arg(&self.pgdata)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        // postmaster.pid: pid, data dir, start time, port, ...
        let pid_file = std::fs::read_to_string(self.pgdata.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg_ctl_start(&self, options: &Options) -> anyhow::Result<()> {
        let mut server_options = format!("-p {} -c listen_addresses=127.0.0.1", self.port);
        for (name, value) in &options.settings {
            server_options.push_str(&format!(" -c {name}={value}"));
        }
        let log = self.pgdata.join("holdfast-server.log");
        let output = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(&server_options)
            .output()
            .context("could not run pg_ctl")?;
        if !output.status.success() {
            let log_tail = std::fs::read_to_string(&log)
                .map(|text| text.lines().rev().take(10).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
            bail!(
                "the private PostgreSQL in {} did not start: {}{}\n{log_tail}",
                self.pgdata.display(),
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim(),
            );
        }
        Ok(())
    }

    /// A shell that waits for its stdin to close, then stops the server.
    fn spawn_watchdog(&self, remove_on_stop: bool) -> anyhow::Result<Child> {
        let script = if remove_on_stop {
            r#"while read -r _; do :; done; "$0" stop -m fast -w -D "$1" >/dev/null 2>&1; rm -rf "$1"; rm -f "$2/pg-password"; rmdir "$2""#
        } else {
            r#"while read -r _; do :; done; "$0" stop -m fast -w -D "$1" >/dev/null 2>&1"#
        };
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(script)
            .arg(self.bindir.join("pg_ctl"))
            .arg(&self.pgdata)
            .arg(self.pgdata.parent().unwrap_or(&self.pgdata))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Ctrl-C reaches Holdfast (which stops the server
            // cleanly) and not the watchdog first.
            .process_group(0)
            .current_dir(&self.pgdata);
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
            .spawn()
            .context("could not start the PostgreSQL watchdog")
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds `initdb`, `pg_ctl` and `postgres`: `pg_config --bindir` first, then the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_server_binaries() -> anyhow::Result<PathBuf> {
    let has_server = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, dir)| dir).ok_or_else(|| {
        anyhow!(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found: install them (Debian/Ubuntu: `apt-get install postgresql`) or set DATABASE_URL to an existing database"
        )
    })
}

/// When running as root, the (uid, gid) of an unprivileged user to run PostgreSQL as.
fn unprivileged_user() -> anyhow::Result<Option<(u32, u32)>> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's effective user.
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("could not read /etc/passwd")?;
    let lookup = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == name)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    };
    lookup("postgres")
        .or_else(|| lookup("nobody"))
        .map(Some)
        .ok_or_else(|| anyhow!("running as root, PostgreSQL needs an unprivileged user to run as, and neither `postgres` nor `nobody` exists: create one, or run Holdfast as a normal user"))
}

/// The cluster superuser's password, generated once and kept beside the cluster (mode 0600).
fn cluster_password(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("pg-password");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.trim().is_empty()
    {
        return Ok(existing.trim().to_owned());
    }
    let password = crate::auth::tokens::random_token();
    write_private(&path, &password)?;
    Ok(password)
}

/// Writes a file only its owner may read, created so from the start (mode 0600).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// Where the cluster lives: the data directory itself, unless Holdfast runs as root and the
/// PostgreSQL user (`run_as`) cannot reach it; then `/var/tmp/holdfast-<hash of the data
/// directory>` (or under `/tmp` without `/var/tmp`).
pub fn cluster_home(data_dir: &Path, run_as: Option<(u32, u32)>) -> PathBuf {
    use sha2::{Digest, Sha256};
    match run_as {
        Some((uid, gid)) if !reachable(data_dir, uid, gid) => {
            let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
            let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            let base = if Path::new("/var/tmp").is_dir() {
                "/var/tmp"
            } else {
                "/tmp"
            };
            Path::new(base).join(format!("holdfast-{name}"))
        }
        _ => data_dir.to_owned(),
    }
}

/// Whether the user `uid`/`gid` may enter `dir` and every directory above it.
fn reachable(dir: &Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    dir.ancestors().all(|path| match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.mode();
            (meta.uid() == uid && mode & 0o100 != 0)
                || (meta.gid() == gid && mode & 0o010 != 0)
                || mode & 0o001 != 0
        }
        Err(_) => false,
    })
}

/// The relocated home: owned by the PostgreSQL user, closed to everyone else.
fn prepare_relocated_home(home: &Path, run_as: Option<(u32, u32)>) -> anyhow::Result<()> {
    std::fs::create_dir_all(home)
        .with_context(|| format!("could not create {}", home.display()))?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(home, Some(uid), Some(gid))
            .with_context(|| format!("could not hand {} to the PostgreSQL user", home.display()))?;
    }
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

fn initdb(
    bindir: &Path,
    pgdata: &Path,
    password: &str,
    run_as: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(pgdata)?;
    std::fs::set_permissions(pgdata, std::fs::Permissions::from_mode(0o700))?;
    let pwfile = pgdata.with_file_name("initdb-password");
    write_private(&pwfile, password)?;
    // The password file goes however initdb ends.
    let result = run_initdb(bindir, pgdata, &pwfile, run_as);
    let _ = std::fs::remove_file(&pwfile);
    result
}

fn run_initdb(
    bindir: &Path,
    pgdata: &Path,
    pwfile: &Path,
    run_as: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(pgdata, Some(uid), Some(gid)).with_context(|| {
            format!("could not hand {} to the PostgreSQL user", pgdata.display())
        })?;
        std::os::unix::fs::chown(pwfile, Some(uid), Some(gid))?;
    }
    let mut command = Command::new(bindir.join("initdb"));
    command
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .current_dir(pgdata);
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    let output = command.output().context("could not run initdb")?;
    if !output.status.success() {
        bail!(
            "initdb failed in {} (when running as root, every parent directory must be readable by the PostgreSQL user; set HOLDFAST_DATA_DIR to a directory such as /var/tmp/holdfast): {}",
            pgdata.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("could not find a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_the_postgres_user_cannot_reach_gets_a_home_of_its_own() {
        let base = std::env::temp_dir().join(format!("hf-home-{}", std::process::id()));
        let data_dir = base.join("clone").join(".holdfast");
        std::fs::create_dir_all(&data_dir).expect("dirs");
        let nobody = Some((65_534, 65_534));
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let home = cluster_home(&data_dir, nobody);
        assert_ne!(home, data_dir);
        assert!(
            home.starts_with("/var/tmp") || home.starts_with("/tmp"),
            "{home:?}"
        );
        // The same data directory finds the same home again; another finds another.
        assert_eq!(cluster_home(&data_dir, nobody), home);
        assert_ne!(cluster_home(&base.join("other"), nobody), home);
        // Reachable, or not running as root: the cluster stays in the data directory.
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(cluster_home(&data_dir, nobody), data_dir);
        assert_eq!(cluster_home(&data_dir, None), data_dir);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn private_files_are_created_readable_by_their_owner_only() {
        use std::os::unix::fs::MetadataExt;
        let path = std::env::temp_dir().join(format!("hf-secret-{}", std::process::id()));
        write_private(&path, "s3cret").expect("write");
        assert_eq!(
            std::fs::metadata(&path).expect("meta").mode() & 0o777,
            0o600
        );
        let _ = std::fs::remove_file(&path);
    }
}
