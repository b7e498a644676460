//! The local secret store: `secrets.json` (mode 0600) in the data directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::{Result, SecretStore, StoreError, dec, enc};
use crate::domain::AppSecrets;

/// Secrets in `secrets.json` (mode 0600) beside the records. Rewritten whole through a
/// temporary file and a rename, so a crash leaves the old or the new file, never half of one.
#[derive(Clone)]
pub struct SecretFile {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// The file's name in the data directory.
pub const FILE: &str = "secrets.json";

type Secrets = BTreeMap<String, AppSecrets>;

impl SecretFile {
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let store = Self {
            path: dir.join(FILE),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        if !store.path.exists() {
            store.write(&Secrets::new())?;
        }
        Ok(store)
    }

    /// The file's bytes as they are between two writes (for a backup), from blocking code.
    pub fn snapshot_blocking(&self) -> Result<Vec<u8>> {
        let _g = self.lock.blocking_lock();
        std::fs::read(&self.path).map_err(StoreError::backend)
    }

    fn read(&self) -> Result<Secrets> {
        match std::fs::read(&self.path) {
            Ok(b) => dec(&b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Secrets::new()),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    /// Writes a new temporary file (random name, created exclusively, mode 0600: a planted
    /// link cannot redirect it), syncs it and renames it over the old one.
    fn write(&self, file: &Secrets) -> Result<()> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".secrets.")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(StoreError::backend)?;
        tmp.write_all(&enc(file)?).map_err(StoreError::backend)?;
        tmp.as_file().sync_all().map_err(StoreError::backend)?;
        tmp.persist(&self.path)
            .map_err(|e| StoreError::backend(e.error))?;
        Ok(())
    }
}

#[async_trait]
impl SecretStore for SecretFile {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<()> {
        let _g = self.lock.lock().await;
        let mut file = self.read()?;
        file.insert(name.to_owned(), value.clone());
        self.write(&file)
    }

    async fn get(&self, name: &str) -> Result<Option<AppSecrets>> {
        let _g = self.lock.lock().await;
        Ok(self.read()?.remove(name))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let _g = self.lock.lock().await;
        let mut file = self.read()?;
        if file.remove(name).is_some() {
            self.write(&file)?;
        }
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::domain::{AppSecret, EncodingAesKey, WeComToken};

    #[tokio::test]
    async fn a_planted_link_beside_the_file_is_never_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, b"untouched").expect("write");
        let store = SecretFile::open(&dir.path().join("data")).expect("open");
        // Whatever temporary name the store would use, an attacker cannot guess it now.
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("data/secrets.json.tmp"))
            .expect("plant a link");
        let value = AppSecrets {
            app_secret: AppSecret::parse("s3cret-value").expect("secret"),
            token: WeComToken::parse("Token123").expect("token"),
            encoding_aes_key: EncodingAesKey::parse("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
                .expect("key"),
        };
        store.create("a/b", &value).await.expect("create");
        assert_eq!(std::fs::read(&elsewhere).expect("read"), b"untouched");
        assert_eq!(store.get("a/b").await.expect("get"), Some(value));
    }
}
