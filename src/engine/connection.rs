//! Connection tests: each service's "Test connection", and the command's `authenticate`, which
//! tests both; and what the tenant's configuration types are called (the counting options'
//! pick list).

use tokio_util::sync::CancellationToken;

use super::EngineError;
use crate::api::connectwise::{ConnectWiseClient, ConnectWiseSettings, ConnectionReport};
use crate::api::synthesize::{IntegrationData, SynthesizeClient, SynthesizeSettings};

/// "Test connection" for ConnectWise: companyinfo, then one authenticated call.
pub async fn test_connectwise(
    settings: &ConnectWiseSettings,
    cancel: &CancellationToken,
) -> Result<ConnectionReport, EngineError> {
    let client = ConnectWiseClient::new(settings.clone())?;
    Ok(client.test_connection(cancel).await)
}

/// The tenant's configuration type names, sorted, for the "Type names" pick list.
pub async fn configuration_types(
    settings: &ConnectWiseSettings,
    cancel: &CancellationToken,
) -> Result<Vec<String>, EngineError> {
    let client = ConnectWiseClient::new(settings.clone())?;
    Ok(client.configuration_types(cancel).await?)
}

/// "Test connection" for Synthesize: the documented `GET /organization`, which also tells the
/// integration's status and last sync.
pub async fn test_synthesize(
    settings: &SynthesizeSettings,
    cancel: &CancellationToken,
) -> Result<IntegrationData, EngineError> {
    let client = SynthesizeClient::new(settings.clone())?;
    Ok(client.authenticate(cancel).await?)
}

/// Both tests, ConnectWise first. Both clients are built before either test runs, so settings
/// that cannot make a client fail the whole run before anything is tried.
pub async fn test_both(
    connectwise: &ConnectWiseSettings,
    synthesize: &SynthesizeSettings,
    cancel: &CancellationToken,
) -> Result<(ConnectionReport, Result<IntegrationData, EngineError>), EngineError> {
    let cw = ConnectWiseClient::new(connectwise.clone())?;
    let synth = SynthesizeClient::new(synthesize.clone())?;
    let report = cw.test_connection(cancel).await;
    if matches!(
        report.failed,
        Some((_, crate::api::error::TransportError::Cancelled))
    ) {
        return Err(EngineError::Cancelled);
    }
    let integration = synth.authenticate(cancel).await.map_err(EngineError::from);
    Ok((report, integration))
}
