//! The sandbox's tenant as the tests see it: its credentials for the clients, a direct count of
//! its records (what every front end must agree with), and the counts its Synthesize holds.

use std::collections::BTreeMap;

use cw_shared_devices::api::connectwise::ConnectWiseCredentials;
use cw_shared_devices::api::synthesize::SynthesizeCredentials;
use cw_shared_devices::domain::configuration::ConfigurationRecord;
use cw_shared_devices::domain::counting::{
    CountingOptions, CountingResult, CountingRule, count_records,
};
use cw_shared_devices::domain::sync_plan::ServiceKind;
use cw_shared_devices::sandbox::{
    SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, SANDBOX_PARTNER_API_KEY, SANDBOX_PRIVATE_KEY,
    SANDBOX_PUBLIC_KEY, SANDBOX_VENDOR_API_KEY, Sandbox,
};

/// The sandbox's ConnectWise keys.
pub fn connectwise_credentials() -> ConnectWiseCredentials {
    ConnectWiseCredentials {
        company_id: SANDBOX_COMPANY_ID.into(),
        public_key: SANDBOX_PUBLIC_KEY.into(),
        private_key: SANDBOX_PRIVATE_KEY.into(),
        client_id: SANDBOX_CLIENT_ID.into(),
    }
}

/// The sandbox's Synthesize keys.
pub fn synthesize_credentials() -> SynthesizeCredentials {
    SynthesizeCredentials {
        vendor_api_key: SANDBOX_VENDOR_API_KEY.into(),
        partner_api_key: SANDBOX_PARTNER_API_KEY.into(),
    }
}

/// Every record the sandbox holds, counted directly with `rule`.
pub fn direct_count(sandbox: &Sandbox, rule: &CountingRule) -> CountingResult {
    let records: Vec<ConfigurationRecord> = sandbox
        .handle()
        .configurations_json()
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    count_records(rule, &records)
}

/// [`direct_count`] with the default counting options.
pub fn direct_default_count(sandbox: &Sandbox) -> CountingResult {
    direct_count(
        sandbox,
        &CountingRule::new(&CountingOptions::default()).unwrap(),
    )
}

/// (company id, service) → the count the sandbox's Synthesize holds now, for our two services.
pub fn held_counts(sandbox: &Sandbox) -> BTreeMap<(i64, ServiceKind), u64> {
    let handle = sandbox.handle();
    let mut out = BTreeMap::new();
    for kind in ServiceKind::ALL {
        if let Some(service) = handle.service_id(kind.service_name()) {
            for ((s, account), count) in handle.last_counts() {
                if s == service {
                    out.insert((account.parse().unwrap(), kind), count);
                }
            }
        }
    }
    out
}
