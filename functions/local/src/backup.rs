//! `backup DIR` and `restore DIR`: a consistent copy of the data directory's store, secret
//! file and token key, and putting one back into an empty data directory.
//!
//! redb lets one process open the store, so while the runner serves, `backup` asks it over
//! a Unix socket in the data directory ([`SOCKET`], mode 0600, answering only its own user);
//! the socket is never behind the HTTP listener. With no runner, `backup` reads the store
//! itself. A backup is a directory (mode 0700) of `records.redb`, `secrets.json`,
//! `jwt-secret` (when there is one) and `manifest.json` (sizes and SHA-256 of the others),
//! every file mode 0600; the manifest is written last, so a directory with one is complete.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::store::embedded::{self, EmbeddedDb};
use shared::store::secret_file::{self, SecretFile};

/// The socket the running runner answers backup requests on, in the data directory.
pub const SOCKET: &str = "backup.sock";
/// The backup's table of contents.
pub const MANIFEST: &str = "manifest.json";
/// The data directory's token key (see [`crate::token::data_dir_secret`]).
const JWT_SECRET: &str = "jwt-secret";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(pub String);

fn err(s: impl Into<String>) -> BackupError {
    BackupError(s.into())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The runner's version that wrote it.
    pub version: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    /// One line: what the backup holds (names and sizes, never contents).
    pub fn summary(&self) -> String {
        let files: Vec<String> = self
            .files
            .iter()
            .map(|f| format!("{} ({} bytes)", f.name, f.bytes))
            .collect();
        format!("{} of {}", files.join(", "), self.created)
    }
}

/// Where a backup's records and secrets come from: the running runner's open store, or the
/// data directory when no runner holds it.
pub enum Source {
    Running {
        db: Arc<EmbeddedDb>,
        secrets: Arc<SecretFile>,
        data_dir: PathBuf,
    },
    Idle(PathBuf),
}

impl Source {
    fn data_dir(&self) -> &Path {
        match self {
            Self::Running { data_dir, .. } | Self::Idle(data_dir) => data_dir,
        }
    }

    fn records(&self, dest: &Path) -> Result<(), BackupError> {
        match self {
            Self::Running { db, .. } => db.snapshot_to(dest),
            Self::Idle(dir) => EmbeddedDb::snapshot_dir(dir, dest),
        }
        .map_err(|e| err(format!("could not copy the store: {e}")))
    }

    fn secrets(&self) -> Result<Vec<u8>, BackupError> {
        let read = match self {
            Self::Running { secrets, .. } => secrets.snapshot_blocking(),
            Self::Idle(dir) => std::fs::read(dir.join(secret_file::FILE))
                .map_err(shared::store::StoreError::backend),
        };
        read.map_err(|e| err(format!("could not read the secret file: {e}")))
    }
}

/// Writes a backup of `source` into `dir` (created, mode 0700, when missing). A `dir` that
/// already holds one is refused unless `force`.
pub fn write(source: &Source, dir: &Path, force: bool) -> Result<Manifest, BackupError> {
    let shown = dir.display();
    if dir.join(MANIFEST).exists() && !force {
        return Err(err(format!(
            "{shown} already holds a backup ({MANIFEST}); pass --force to replace it"
        )));
    }
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)
            .map_err(|e| err(format!("cannot create {shown}: {e}")))?;
    }
    // An older manifest goes first: until the new one is written, the directory is no backup.
    match std::fs::remove_file(dir.join(MANIFEST)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(err(format!("cannot replace {shown}/{MANIFEST}: {e}")));
        }
        _ => {}
    }
    let mut files = Vec::new();
    // The records first, then the secrets: a channel's secret is saved before the record that
    // names it and deleted well after none does, so every record in the copy finds its secret.
    let tmp = tempfile::Builder::new()
        .prefix(".records.")
        .tempdir_in(dir)
        .map_err(|e| err(format!("cannot write in {shown}: {e}")))?;
    let staged = tmp.path().join(embedded::FILE);
    source.records(&staged)?;
    let bytes = std::fs::read(&staged).map_err(|e| err(format!("{e}")))?;
    set_private(&staged)?;
    std::fs::rename(&staged, dir.join(embedded::FILE))
        .map_err(|e| err(format!("cannot write {shown}/{}: {e}", embedded::FILE)))?;
    files.push(entry(embedded::FILE, &bytes));
    let secrets = source.secrets()?;
    put(dir, secret_file::FILE, &secrets)?;
    files.push(entry(secret_file::FILE, &secrets));
    match std::fs::read(source.data_dir().join(JWT_SECRET)) {
        Ok(key) => {
            put(dir, JWT_SECRET, &key)?;
            files.push(entry(JWT_SECRET, &key));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let _ = std::fs::remove_file(dir.join(JWT_SECRET));
        }
        Err(e) => return Err(err(format!("cannot read the token key: {e}"))),
    }
    let manifest = Manifest {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").into(),
        created: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| err(e.to_string()))?;
    put(dir, MANIFEST, &text)?;
    Ok(manifest)
}

fn entry(name: &str, bytes: &[u8]) -> FileEntry {
    FileEntry {
        name: name.into(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

/// Writes `name` in `dir`: a new temporary file (mode 0600), synced, renamed over.
fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), BackupError> {
    let fail = |e: std::io::Error| err(format!("cannot write {}: {e}", dir.join(name).display()));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(dir.join(name)).map_err(|e| fail(e.error))?;
    Ok(())
}

fn set_private(path: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err(format!("cannot set the mode of {}: {e}", path.display())))?;
    }
    Ok(())
}

/// A backup's files, by name, checked against the manifest.
pub type Files = Vec<(String, Vec<u8>)>;

/// Reads `dir`'s manifest and checks every file it names against its size and checksum.
pub fn check(dir: &Path) -> Result<(Manifest, Files), BackupError> {
    let shown = dir.display();
    let text = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| err(format!("{shown} holds no backup ({MANIFEST}: {e})")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| err(format!("{shown}/{MANIFEST} is unreadable: {e}")))?;
    if manifest.format != FORMAT {
        return Err(err(format!(
            "{shown} is a backup of format {}; this runner reads format {FORMAT}",
            manifest.format
        )));
    }
    let mut files = Vec::new();
    for f in &manifest.files {
        if !matches!(
            f.name.as_str(),
            embedded::FILE | secret_file::FILE | JWT_SECRET
        ) {
            return Err(err(format!(
                "{shown}/{MANIFEST} names an unknown file {:?}",
                f.name
            )));
        }
        let bytes = std::fs::read(dir.join(&f.name))
            .map_err(|e| err(format!("{shown}/{}: {e}", f.name)))?;
        if bytes.len() as u64 != f.bytes || hex::encode(Sha256::digest(&bytes)) != f.sha256 {
            return Err(err(format!(
                "{shown}/{} does not match its checksum in {MANIFEST}: the backup is damaged",
                f.name
            )));
        }
        files.push((f.name.clone(), bytes));
    }
    for needed in [embedded::FILE, secret_file::FILE] {
        if !files.iter().any(|(n, _)| n == needed) {
            return Err(err(format!("{shown}/{MANIFEST} lists no {needed}")));
        }
    }
    Ok((manifest, files))
}

/// Puts the backup in `dir` into `data_dir`: refused while a runner holds `data_dir`, and
/// when `data_dir` is not empty unless `force`.
pub fn restore(dir: &Path, data_dir: &Path, force: bool) -> Result<Manifest, BackupError> {
    let (manifest, files) = check(dir)?;
    let shown = data_dir.display();
    if server_answers(data_dir) || EmbeddedDb::held_by_another(data_dir) {
        return Err(err(format!(
            "a running runner holds {shown}: stop it before restoring"
        )));
    }
    let not_empty = std::fs::read_dir(data_dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if not_empty && !force {
        return Err(err(format!(
            "{shown} is not empty; restore into an empty data directory, or pass --force to \
             replace its store and secrets"
        )));
    }
    if !data_dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(data_dir)
            .map_err(|e| err(format!("cannot create {shown}: {e}")))?;
    }
    for (name, bytes) in &files {
        put(data_dir, name, bytes)?;
    }
    Ok(manifest)
}

/// Whether a runner answers on `data_dir`'s socket.
fn server_answers(data_dir: &Path) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::net::UnixStream::connect(data_dir.join(SOCKET)).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = data_dir;
        false
    }
}

/// A request on the socket (one JSON line) and its answer.
#[derive(Serialize, Deserialize)]
struct Request {
    dir: PathBuf,
    force: bool,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    #[serde(default)]
    manifest: Option<Manifest>,
    #[serde(default)]
    error: Option<String>,
}

/// Who took a backup.
pub enum TakenBy {
    Runner,
    Itself,
}

/// `backup DIR`: asks the runner holding `data_dir`, or, when none answers, reads it here.
pub fn backup(
    data_dir: &Path,
    dir: &Path,
    force: bool,
) -> Result<(Manifest, TakenBy), BackupError> {
    let dir = std::path::absolute(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::net::UnixStream;
        // No answer means no runner, one that stopped and left its socket, or one that could
        // not make it (a data directory path too long for a socket): redb's lock tells.
        if let Ok(mut s) = UnixStream::connect(data_dir.join(SOCKET)) {
            let mut line =
                serde_json::to_vec(&Request { dir, force }).map_err(|e| err(e.to_string()))?;
            line.push(b'\n');
            let io = |e: std::io::Error| err(format!("the running runner did not answer: {e}"));
            s.write_all(&line).map_err(io)?;
            let mut answer = String::new();
            BufReader::new(s.take(1 << 20))
                .read_line(&mut answer)
                .map_err(io)?;
            let a: Answer = serde_json::from_str(&answer)
                .map_err(|_| err("the running runner did not answer"))?;
            return match (a.manifest, a.error) {
                (Some(m), None) => Ok((m, TakenBy::Runner)),
                (_, e) => Err(err(e.unwrap_or_else(|| "no answer".into()))),
            };
        }
    }
    let m = write(&Source::Idle(data_dir.to_path_buf()), &dir, force)?;
    Ok((m, TakenBy::Itself))
}

/// Answers backup requests on `data_dir`'s socket until the runner stops. The socket is
/// created in a private (0700) directory, set to 0600 and only then moved into place, and
/// only a peer of this process's user is answered.
#[cfg(unix)]
pub fn serve(source: Source) -> Result<Socket, BackupError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let data_dir = source.data_dir().to_path_buf();
    let path = data_dir.join(SOCKET);
    let fail = |e: std::io::Error| err(format!("cannot listen on {}: {e}", path.display()));
    // This process holds the store, so a socket left here is a stopped runner's.
    let _ = std::fs::remove_file(&path);
    let private = tempfile::Builder::new()
        .prefix(".socket.")
        .tempdir_in(&data_dir)
        .map_err(fail)?;
    let staged = private.path().join(SOCKET);
    let listener = tokio::net::UnixListener::bind(&staged).map_err(fail)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    let uid = std::fs::metadata(&staged).map_err(fail)?.uid();
    std::fs::rename(&staged, &path).map_err(fail)?;
    let source = Arc::new(source);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            if stream.peer_cred().map(|c| c.uid()).ok() != Some(uid) {
                tracing::warn!("backup socket: a peer of another user refused");
                continue;
            }
            tokio::spawn(answer(stream, source.clone()));
        }
    });
    Ok(Socket(path))
}

#[cfg(unix)]
async fn answer(stream: tokio::net::UnixStream, source: Arc<Source>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write_half) = stream.into_split();
    let mut line = String::new();
    if tokio::io::BufReader::new(read.take(64 * 1024))
        .read_line(&mut line)
        .await
        .is_err()
    {
        return;
    }
    let done = match serde_json::from_str::<Request>(&line) {
        Ok(req) => tokio::task::spawn_blocking(move || write(&source, &req.dir, req.force))
            .await
            .unwrap_or_else(|e| Err(err(e.to_string()))),
        Err(e) => Err(err(format!("malformed backup request: {e}"))),
    };
    let a = match done {
        Ok(m) => {
            tracing::info!(files = %m.summary(), "backup written");
            Answer {
                manifest: Some(m),
                error: None,
            }
        }
        Err(e) => Answer {
            manifest: None,
            error: Some(e.0),
        },
    };
    if let Ok(mut out) = serde_json::to_vec(&a) {
        out.push(b'\n');
        let _ = write_half.write_all(&out).await;
    }
}

/// Without Unix sockets the running runner takes no backups (stop it and run `backup`).
#[cfg(not(unix))]
pub fn serve(_source: Source) -> Result<Socket, BackupError> {
    Err(err("backups of a running runner need a Unix socket"))
}

/// The socket's file, removed when the runner stops.
pub struct Socket(PathBuf);

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
