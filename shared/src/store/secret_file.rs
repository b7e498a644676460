//! The local secret store: `secrets.json` (mode 0600) in the data directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::embedded::{dec, enc};
use super::{SecretStore, StoreError};
use crate::domain::AppSecrets;

/// Secrets in `secrets.json` (mode 0600) beside the records. Rewritten whole through a
/// temporary file and a rename, so a crash leaves the old or the new file, never half of one.
#[derive(Clone)]
pub struct SecretFile {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

type Secrets = BTreeMap<String, AppSecrets>;

impl SecretFile {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        let store = Self {
            path: dir.join("secrets.json"),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        if !store.path.exists() {
            store.write(&Secrets::new())?;
        }
        Ok(store)
    }

    fn read(&self) -> Result<Secrets, StoreError> {
        match std::fs::read(&self.path) {
            Ok(b) => dec(&b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Secrets::new()),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    fn write(&self, file: &Secrets) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("json.tmp");
        let bytes = enc(file)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(StoreError::backend)?;
        f.write_all(&bytes).map_err(StoreError::backend)?;
        f.sync_all().map_err(StoreError::backend)?;
        std::fs::rename(&tmp, &self.path).map_err(StoreError::backend)
    }
}

#[async_trait]
impl SecretStore for SecretFile {
    async fn create(&self, name: &str, value: &AppSecrets) -> Result<(), StoreError> {
        let _g = self.lock.lock().await;
        let mut file = self.read()?;
        file.insert(name.to_owned(), value.clone());
        self.write(&file)
    }

    async fn get(&self, name: &str) -> Result<Option<AppSecrets>, StoreError> {
        let _g = self.lock.lock().await;
        Ok(self.read()?.remove(name))
    }

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
        let _g = self.lock.lock().await;
        let mut file = self.read()?;
        if file.remove(name).is_some() {
            self.write(&file)?;
        }
        Ok(())
    }
}
