//! Persisted settings a profile holds besides the counting options: the ConnectWise site and the
//! sync options (zero policy, batch size, concurrency). Pure types, no I/O.

use serde::{Deserialize, Serialize};

/// A ConnectWise PSA site: a cloud region, the developer sandbox, a custom (on-premise) site
/// found through companyinfo discovery, or a full API base URL that skips discovery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectWiseSite {
    /// North America, `https://na.myconnectwise.net`.
    #[default]
    Na,
    /// Europe, `https://eu.myconnectwise.net`.
    Eu,
    /// Australia, `https://au.myconnectwise.net`.
    Au,
    /// Australia (newer region), `https://aus.myconnectwise.net`.
    Aus,
    /// South Africa, `https://za.myconnectwise.net`.
    Za,
    /// The developer sandbox, `https://staging.connectwisedev.com`.
    Staging,
    /// An on-premise or other site URL; the API URL is found through companyinfo.
    Custom { url: String },
    /// The full API base URL (`…/apis/3.0`); no discovery.
    DirectApi { url: String },
}

/// A site setting that cannot be used, in words that name the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error(
        "ConnectWise site: the {what} is empty; type it (for example \"{example}\") or pick a cloud region"
    )]
    EmptyUrl {
        what: &'static str,
        example: &'static str,
    },
    #[error(
        "ConnectWise site: \"{url}\" is not a web address ({reason}); type it as \"https://host\""
    )]
    BadUrl { url: String, reason: String },
}

const SITE_EXAMPLE: &str = "https://cw.example.com";
const API_EXAMPLE: &str = "https://cw.example.com/v4_6_release/apis/3.0";

impl ConnectWiseSite {
    /// The cloud regions and the staging sandbox, in drop-down order. The UI adds
    /// [`ConnectWiseSite::Custom`] and [`ConnectWiseSite::DirectApi`] after them.
    pub fn all_presets() -> [ConnectWiseSite; 6] {
        [
            ConnectWiseSite::Na,
            ConnectWiseSite::Eu,
            ConnectWiseSite::Au,
            ConnectWiseSite::Aus,
            ConnectWiseSite::Za,
            ConnectWiseSite::Staging,
        ]
    }

    /// Every choice of the drop-down, with empty URLs for the two free-text choices.
    pub fn drop_down_choices() -> Vec<ConnectWiseSite> {
        let mut out = Self::all_presets().to_vec();
        out.push(ConnectWiseSite::Custom { url: String::new() });
        out.push(ConnectWiseSite::DirectApi { url: String::new() });
        out
    }

    /// The text shown in the site drop-down.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectWiseSite::Na => "North America (na.myconnectwise.net)",
            ConnectWiseSite::Eu => "Europe (eu.myconnectwise.net)",
            ConnectWiseSite::Au => "Australia (au.myconnectwise.net)",
            ConnectWiseSite::Aus => "Australia (aus.myconnectwise.net)",
            ConnectWiseSite::Za => "South Africa (za.myconnectwise.net)",
            ConnectWiseSite::Staging => "Developer sandbox (staging.connectwisedev.com)",
            ConnectWiseSite::Custom { .. } => "On-premise / custom URL",
            ConnectWiseSite::DirectApi { .. } => "Full API URL (no discovery)",
        }
    }

    /// Whether this is the same drop-down choice as `other`, whatever URL each holds.
    pub fn same_choice(&self, other: &ConnectWiseSite) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// The site URL companyinfo discovery starts from; `None` for a direct API URL.
    /// A custom URL is returned trimmed and without trailing slashes.
    pub fn site_url(&self) -> Option<&str> {
        match self {
            ConnectWiseSite::Na => Some("https://na.myconnectwise.net"),
            ConnectWiseSite::Eu => Some("https://eu.myconnectwise.net"),
            ConnectWiseSite::Au => Some("https://au.myconnectwise.net"),
            ConnectWiseSite::Aus => Some("https://aus.myconnectwise.net"),
            ConnectWiseSite::Za => Some("https://za.myconnectwise.net"),
            ConnectWiseSite::Staging => Some("https://staging.connectwisedev.com"),
            ConnectWiseSite::Custom { url } => Some(clean_url(url)),
            ConnectWiseSite::DirectApi { .. } => None,
        }
    }

    /// The API base URL given directly (no discovery), trimmed and without trailing slashes.
    pub fn direct_api_url(&self) -> Option<&str> {
        match self {
            ConnectWiseSite::DirectApi { url } => Some(clean_url(url)),
            _ => None,
        }
    }

    /// Whether the API URL must be found through companyinfo.
    pub fn needs_discovery(&self) -> bool {
        !matches!(self, ConnectWiseSite::DirectApi { .. })
    }

    /// The site for a site URL (`--cw-url`): a known cloud or staging URL becomes its preset
    /// (scheme, case and trailing slash ignored), anything else a custom site.
    pub fn from_site_url(url: &str) -> ConnectWiseSite {
        let cleaned = clean_url(url);
        let host = cleaned
            .strip_prefix("https://")
            .unwrap_or(cleaned)
            .to_ascii_lowercase();
        Self::all_presets()
            .into_iter()
            .find(|preset| {
                preset
                    .site_url()
                    .and_then(|u| u.strip_prefix("https://"))
                    .is_some_and(|h| h == host)
            })
            .unwrap_or_else(|| ConnectWiseSite::Custom {
                url: cleaned.to_owned(),
            })
    }

    /// The site for a full API base URL (`--cw-api-url`).
    pub fn from_api_url(url: &str) -> ConnectWiseSite {
        ConnectWiseSite::DirectApi {
            url: clean_url(url).to_owned(),
        }
    }

    /// Checks a custom or direct URL is a usable `http(s)://host…` address. Whether plain
    /// `http` is allowed for the host is the HTTP layer's decision.
    pub fn validate(&self) -> Result<(), SiteError> {
        let (url, what, example) = match self {
            ConnectWiseSite::Custom { url } => (url, "site URL", SITE_EXAMPLE),
            ConnectWiseSite::DirectApi { url } => (url, "API URL", API_EXAMPLE),
            _ => return Ok(()),
        };
        let cleaned = clean_url(url);
        if cleaned.is_empty() {
            return Err(SiteError::EmptyUrl { what, example });
        }
        let bad = |reason: &str| SiteError::BadUrl {
            url: cleaned.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = url::Url::parse(cleaned).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(bad("it must start with https://"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host name"));
        }
        Ok(())
    }
}

fn clean_url(url: &str) -> &str {
    url.trim().trim_end_matches('/')
}

/// Which zero counts a usage sync posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroPolicy {
    /// Post a zero only where the last count sent was not zero (a company that dropped to zero).
    #[default]
    ChangedToZero,
    /// Post every zero, for every company counted now or sent to before.
    EveryZero,
    /// Never post a zero.
    SkipZeros,
}

impl ZeroPolicy {
    pub const ALL: [ZeroPolicy; 3] = [
        ZeroPolicy::ChangedToZero,
        ZeroPolicy::EveryZero,
        ZeroPolicy::SkipZeros,
    ];

    /// The text shown in the options drop-down.
    pub fn label(self) -> &'static str {
        match self {
            ZeroPolicy::ChangedToZero => "Post zeros only where the last count sent was not zero",
            ZeroPolicy::EveryZero => "Post every zero",
            ZeroPolicy::SkipZeros => "Never post zeros",
        }
    }
}

/// Synthesize's production address, which a new profile starts with.
pub const DEFAULT_SYNTHESIZE_URL: &str = "https://app.usegradient.com";

/// Limits that keep a sync within the services' rate limits.
pub const MAX_ACCOUNT_BATCH_SIZE: usize = 1000;
pub const MAX_COUNT_CONCURRENCY: usize = 16;

/// How a sync posts: which zeros, how many accounts per request, how many count posts at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncOptions {
    pub zero_policy: ZeroPolicy,
    /// Accounts created per `POST /organization/accounts` request.
    pub account_batch_size: usize,
    /// Count posts in flight at once (Synthesize rate-limits above ~100 requests a second).
    pub count_concurrency: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            zero_policy: ZeroPolicy::default(),
            account_batch_size: 100,
            count_concurrency: 4,
        }
    }
}

/// Sync options that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncOptionsError {
    #[error(
        "Account batch size: {0} is out of range; use a number from 1 to {MAX_ACCOUNT_BATCH_SIZE}"
    )]
    AccountBatchSize(usize),
    #[error(
        "Count concurrency: {0} is out of range; use a number from 1 to {MAX_COUNT_CONCURRENCY}"
    )]
    CountConcurrency(usize),
}

impl SyncOptions {
    pub fn validate(&self) -> Result<(), SyncOptionsError> {
        if !(1..=MAX_ACCOUNT_BATCH_SIZE).contains(&self.account_batch_size) {
            return Err(SyncOptionsError::AccountBatchSize(self.account_batch_size));
        }
        if !(1..=MAX_COUNT_CONCURRENCY).contains(&self.count_concurrency) {
            return Err(SyncOptionsError::CountConcurrency(self.count_concurrency));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_https_site_urls_and_distinct_labels() {
        let presets = ConnectWiseSite::all_presets();
        for p in &presets {
            assert!(p.site_url().unwrap().starts_with("https://"));
            assert!(p.needs_discovery());
            assert_eq!(p.validate(), Ok(()));
        }
        let mut labels: Vec<_> = ConnectWiseSite::drop_down_choices()
            .iter()
            .map(ConnectWiseSite::label)
            .collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), 8);
        assert_eq!(ConnectWiseSite::default(), ConnectWiseSite::Na);
    }

    #[test]
    fn from_site_url_recognises_presets() {
        let cases = [
            ("https://na.myconnectwise.net", ConnectWiseSite::Na),
            ("https://EU.myconnectwise.net/", ConnectWiseSite::Eu),
            (" aus.myconnectwise.net ", ConnectWiseSite::Aus),
            (
                "https://staging.connectwisedev.com",
                ConnectWiseSite::Staging,
            ),
            (
                "https://cw.example.com/",
                ConnectWiseSite::Custom {
                    url: "https://cw.example.com".into(),
                },
            ),
            (
                "http://127.0.0.1:8080",
                ConnectWiseSite::Custom {
                    url: "http://127.0.0.1:8080".into(),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(ConnectWiseSite::from_site_url(input), want, "{input}");
        }
    }

    #[test]
    fn direct_api_skips_discovery() {
        let site = ConnectWiseSite::from_api_url("https://cw.example.com/v4_6_release/apis/3.0/");
        assert!(!site.needs_discovery());
        assert_eq!(site.site_url(), None);
        assert_eq!(
            site.direct_api_url(),
            Some("https://cw.example.com/v4_6_release/apis/3.0")
        );
    }

    #[test]
    fn validate_names_the_field() {
        let empty = ConnectWiseSite::Custom { url: "  ".into() };
        let msg = empty.validate().unwrap_err().to_string();
        assert!(
            msg.starts_with("ConnectWise site: the site URL is empty"),
            "{msg}"
        );
        let bad = ConnectWiseSite::DirectApi {
            url: "ftp://x".into(),
        };
        assert!(bad.validate().unwrap_err().to_string().contains("https://"));
        let no_scheme = ConnectWiseSite::Custom {
            url: "cw.example.com".into(),
        };
        assert!(no_scheme.validate().is_err());
        let good = ConnectWiseSite::Custom {
            url: "https://cw.example.com".into(),
        };
        assert_eq!(good.validate(), Ok(()));
    }

    #[test]
    fn site_serde_round_trip_and_shape() {
        for site in ConnectWiseSite::drop_down_choices() {
            let json = serde_json::to_string(&site).unwrap();
            assert_eq!(
                serde_json::from_str::<ConnectWiseSite>(&json).unwrap(),
                site
            );
        }
        assert_eq!(
            serde_json::to_string(&ConnectWiseSite::Custom { url: "u".into() }).unwrap(),
            r#"{"kind":"custom","url":"u"}"#
        );
    }

    #[test]
    fn sync_options_defaults_and_partial_files() {
        let opts: SyncOptions = serde_json::from_str(r#"{"count_concurrency": 2}"#).unwrap();
        assert_eq!(opts.zero_policy, ZeroPolicy::ChangedToZero);
        assert_eq!(opts.account_batch_size, 100);
        assert_eq!(opts.count_concurrency, 2);
        assert_eq!(SyncOptions::default().validate(), Ok(()));
        let bad = SyncOptions {
            count_concurrency: 0,
            ..SyncOptions::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .starts_with("Count concurrency:")
        );
        let bad = SyncOptions {
            account_batch_size: 5000,
            ..SyncOptions::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .starts_with("Account batch size:")
        );
    }
}
