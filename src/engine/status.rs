//! Setting the integration's status in Synthesize (the window's "Set status", the command's
//! `update-status`).

use tokio_util::sync::CancellationToken;

use super::EngineError;
use crate::api::synthesize::{IntegrationStatus, SynthesizeClient, SynthesizeSettings};

/// Sets the status and answers the status now set.
pub async fn set_status(
    settings: &SynthesizeSettings,
    status: IntegrationStatus,
    cancel: &CancellationToken,
) -> Result<IntegrationStatus, EngineError> {
    let client = SynthesizeClient::new(settings.clone())?;
    client.update_status(status, cancel).await?;
    Ok(status)
}
