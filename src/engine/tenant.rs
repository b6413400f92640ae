//! The tenant a sync talks to, its history and its run lock, opened one way for the window and
//! the command: the tenant is named from both services (the ConnectWise site and company, the
//! Synthesize organization the keys belong to), so no run can plan from, or write into, another
//! tenant's history, and two runs never send to one tenant at once.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::sync::{PlannedSync, SyncReport, SyncRequest, SyncSession, SyncUpdate};
use crate::domain::safety::TenantIdentity;
use crate::domain::sync_plan::LastSent;
use crate::storage::journal::{self, Journal, JournalReadout};
use crate::storage::paths::AppDirs;
use crate::storage::run_lock::{DEFAULT_RUN_LOCK_WAIT, RunLock, RunLockError};

/// The ConnectWise half of a tenant as the settings name it: the site (a host, site URL or
/// API URL; only its host and port count) and the company id. No key is part of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectWiseTenant {
    pub site: String,
    pub company_id: String,
}

/// Where a tenant's history is kept and which tenant the settings name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPlace {
    pub dirs: AppDirs,
    pub connectwise: ConnectWiseTenant,
}

/// A tenant, named, with its journal and what the journal said when it was read.
#[derive(Debug, Clone)]
pub struct TenantHistory {
    pub tenant: TenantIdentity,
    pub journal: Arc<Journal>,
    pub readout: JournalReadout,
}

impl TenantHistory {
    /// Reads the tenant's journal. A journal that cannot be read stops the run: without it
    /// the zeros and the drop check cannot be planned.
    pub fn read(dirs: &AppDirs, tenant: TenantIdentity) -> Result<Self, EngineError> {
        let journal = Journal::for_tenant(dirs, &tenant);
        let readout = journal.read().map_err(|e| {
            EngineError::Other(format!(
                "could not read the sync history: {e}; nothing was sent"
            ))
        })?;
        Ok(Self {
            tenant,
            journal: Arc::new(journal),
            readout,
        })
    }

    /// The counts last sent to this tenant.
    pub fn last_sent(&self) -> LastSent {
        self.readout.last_sent()
    }

    /// Reads the journal again and says whether anything was written to it since this
    /// history was read (another run, a window, a profile change).
    pub fn changed_since(&self, dirs: &AppDirs) -> Result<Option<Self>, EngineError> {
        let now = Self::read(dirs, self.tenant.clone())?;
        Ok((now.readout != self.readout).then_some(now))
    }
}

impl SyncSession {
    /// Names the tenant, asking Synthesize which organization its keys belong to.
    pub async fn name_tenant(
        &self,
        place: &TenantPlace,
        cancel: &CancellationToken,
    ) -> Result<TenantIdentity, EngineError> {
        let organization_id = self.organization_id(cancel).await?;
        Ok(TenantIdentity::new(
            &place.connectwise.site,
            &place.connectwise.company_id,
            self.synthesize_url().as_str(),
            &organization_id,
        ))
    }

    /// Names the tenant and reads its history.
    pub async fn open_tenant(
        &self,
        place: &TenantPlace,
        cancel: &CancellationToken,
    ) -> Result<TenantHistory, EngineError> {
        let tenant = self.name_tenant(place, cancel).await?;
        TenantHistory::read(&place.dirs, tenant)
    }
}

impl SyncSession {
    /// Runs a plan made earlier against `history` (the window's confirm): under the tenant's
    /// run lock, and only when nothing was written to the tenant's history since (another
    /// run, another window). Returns what the run did and the history after it.
    pub async fn execute_for_tenant(
        &self,
        planned: &PlannedSync,
        request: &SyncRequest,
        history: &TenantHistory,
        dirs: &AppDirs,
        on_update: &(dyn Fn(SyncUpdate) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(SyncReport, Option<TenantHistory>), EngineError> {
        let _lock = lock_tenant(dirs, &history.tenant).await?;
        if history.changed_since(dirs)?.is_some() {
            return Err(EngineError::Other(
                "this tenant's sync history changed since the plan was made (another run or window sent to it); nothing was sent — plan the sync again".into(),
            ));
        }
        let report = self
            .execute(planned, request, Some(&history.journal), on_update, cancel)
            .await;
        let after = match TenantHistory::read(dirs, history.tenant.clone()) {
            Ok(after) => Some(after),
            Err(e) => {
                tracing::warn!(error = %e, "the sync history could not be read after the run");
                None
            }
        };
        Ok((report, after))
    }
}

/// Takes the tenant's run lock (waiting a few seconds for a run that holds it) on a blocking
/// thread. [`EngineError::Busy`] when another run keeps it.
pub async fn lock_tenant(dirs: &AppDirs, tenant: &TenantIdentity) -> Result<RunLock, EngineError> {
    let dirs = dirs.clone();
    let key = tenant.journal_key();
    let locked =
        tokio::task::spawn_blocking(move || RunLock::acquire(&dirs, &key, DEFAULT_RUN_LOCK_WAIT))
            .await
            .map_err(|e| EngineError::Other(format!("could not take the run lock: {e}")))?;
    locked.map_err(|e| match e {
        RunLockError::Busy { .. } => EngineError::Busy(format!(
            "{e}; nothing was sent — try again when it has finished"
        )),
        RunLockError::Io { .. } => EngineError::Other(e.to_string()),
    })
}

/// The journal History shows for a tenant named only by the settings (no call to Synthesize):
/// the tenant journal of this ConnectWise site and company and this Synthesize URL. When the
/// organization behind the URL changed there are several; the one written last is shown.
/// `None` before the first run.
pub fn history_journal(
    dirs: &AppDirs,
    connectwise: &ConnectWiseTenant,
    synthesize_url: &str,
) -> Result<Option<Journal>, EngineError> {
    let matching = journal::tenant_journals_matching(
        dirs,
        &connectwise.site,
        &connectwise.company_id,
        synthesize_url,
    )
    .map_err(|e| EngineError::Other(format!("the sync history cannot be listed: {e}")))?;
    let modified = |path: &std::path::Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
    };
    Ok(matching
        .into_iter()
        .max_by_key(|j| modified(&j.path))
        .map(|j| Journal::for_tenant(dirs, &j.tenant)))
}

/// Where the window looks for a tenant's history: the folders, and the tenant as the connection
/// form names it (before a run has asked Synthesize for its organization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPlace {
    pub dirs: AppDirs,
    pub connectwise: ConnectWiseTenant,
    pub synthesize_url: String,
}

/// Everything the tenant's history holds, for the window's History and the table's "last
/// sent" (empty before its first run); the files are read here, never while the window draws.
pub fn read_history(place: &HistoryPlace) -> Result<JournalReadout, EngineError> {
    match history_journal(&place.dirs, &place.connectwise, &place.synthesize_url)? {
        Some(journal) => journal
            .read()
            .map_err(|e| EngineError::Other(e.to_string())),
        None => Ok(JournalReadout::default()),
    }
}
