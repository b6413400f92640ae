//! The command line as `product.md` specifies it: global flags before or after the subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cw-shared-devices",
    version,
    about = "Counts shared and not shared license devices per company in ConnectWise PSA and syncs them to Synthesize.",
    long_about = "Counts shared and not shared license devices per company in ConnectWise PSA and syncs them to Synthesize.\n\nWith no subcommand it opens the window.\n\nCredentials come from the profile's keychain entries and are overridden by CW_COMPANY_ID, CW_PUBLIC_KEY, CW_PRIVATE_KEY, CW_CLIENT_ID, SYNTHESIZE_VENDOR_API_KEY and SYNTHESIZE_PARTNER_API_KEY. With no --profile and all six set, it runs on defaults.\n\nExit status: 0 all done; 1 failed; 2 usage or configuration error; 3 partly done (some rows failed, the rest were sent)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// The profile to use (one per ConnectWise tenant).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// ConnectWise site URL; the API URL is discovered through login/companyinfo.
    #[arg(long = "cw-url", global = true, value_name = "SITE_URL")]
    pub cw_url: Option<String>,
    /// ConnectWise API base URL (skips discovery), e.g. https://api-na.myconnectwise.net/v4_6_release/apis/3.0
    #[arg(long = "cw-api-url", global = true, value_name = "API_BASE_URL")]
    pub cw_api_url: Option<String>,
    /// Synthesize URL (default https://app.usegradient.com).
    #[arg(long = "synthesize-url", global = true, value_name = "URL")]
    pub synthesize_url: Option<String>,
    /// More detail on stderr (-v: debug, -vv: trace). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub tenants: TenantsArgs,
}

/// Several tenants in one run (`preview`, `sync`, `sync-usage`, `schedule install`).
#[derive(Debug, Clone, Default, Args)]
pub struct TenantsArgs {
    /// Every profile, each in turn with its own journal, lock and safety checks (preview,
    /// sync, sync-usage, schedule install).
    #[arg(long, global = true)]
    pub all_profiles: bool,
    /// These profiles, comma-separated, each in turn (preview, sync, sync-usage).
    #[arg(long, global = true, value_name = "A,B", value_delimiter = ',')]
    pub profiles: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch and count; print the table (nothing is sent anywhere).
    Preview(PreviewArgs),
    /// Check both sides' credentials.
    Authenticate,
    /// Create the two Synthesize services if missing.
    SyncServices,
    /// Create missing Synthesize accounts.
    SyncAccounts,
    /// Post unit counts.
    SyncUsage(DryRunArgs),
    /// Services, then accounts, then usage.
    Sync(DryRunArgs),
    /// Set the integration status: active, inactive, pending, disabled or error.
    UpdateStatus {
        #[arg(value_name = "STATUS")]
        status: String,
    },
    /// Open the window on the embedded sandbox of both services (no keys needed).
    Demo,
    /// Manage profiles without the window.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Print a run's report (a table), or write it as CSV or HTML; --compare diffs two runs.
    Report(ReportArgs),
    /// Run `sync` from the system's own scheduler: a systemd user timer (Linux), a Task
    /// Scheduler task (Windows), a launchd LaunchAgent (macOS).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Serve the embedded sandbox of both services on loopback until stopped (for trying the
    /// command, benchmarks and packaging checks); prints the URLs and the environment to use.
    #[cfg(feature = "sandbox")]
    #[command(hide = true)]
    ServeSandbox(ServeSandboxArgs),
}

/// Settings of `serve-sandbox`.
#[cfg(feature = "sandbox")]
#[derive(Debug, Clone, Args)]
pub struct ServeSandboxArgs {
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 40)]
    pub companies: usize,
    #[arg(long, default_value_t = 600)]
    pub configurations: usize,
    /// Latency added to every request of both services, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Synthesize's rate limit in requests per second (none when 0).
    #[arg(long, default_value_t = 0.0)]
    pub synthesize_rate_limit: f64,
    /// Answer bad ConnectWise logins with 404, as cloud sites do.
    #[arg(long)]
    pub cloud: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PreviewArgs {
    /// Also write the table as CSV to FILE (`-` for standard output, instead of the table).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Separate CSV fields with semicolons (spreadsheets in decimal-comma locales).
    #[arg(long)]
    pub semicolon: bool,
    /// Start the CSV with a UTF-8 byte-order mark, so Excel shows non-Latin names correctly.
    #[arg(long)]
    pub excel: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DryRunArgs {
    /// Show exactly what would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Send the counts read even when the preview is incomplete (records ConnectWise counted
    /// but that could not be read, or a count that changed during the fetch).
    #[arg(long)]
    pub accept_incomplete: bool,
    /// Send even when the plan would set many companies to zero or cut the total sharply
    /// against the counts last sent (the drop guard).
    #[arg(long)]
    pub allow_large_drop: bool,
}

impl DryRunArgs {
    pub fn flags(&self) -> super::sync_cmd::SyncFlags {
        super::sync_cmd::SyncFlags {
            dry_run: self.dry_run,
            json: self.json,
            accept_incomplete: self.accept_incomplete,
            allow_large_drop: self.allow_large_drop,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List profiles.
    List,
    /// Show a profile (secrets only as set or unset).
    Show { name: String },
    /// Set how a profile's notification webhook is called after headless runs (its URL is a
    /// secret: `profile set-secret NAME notify-webhook`).
    Notify(ProfileNotifyArgs),
    /// Create a profile.
    Create(ProfileCreateArgs),
    /// Store a secret in the keychain, reading its value from stdin.
    SetSecret {
        name: String,
        /// cw-public-key, cw-private-key, synthesize-vendor-key, synthesize-partner-key or
        /// notify-webhook (the notification webhook's URL)
        #[arg(value_name = "SECRET-NAME")]
        secret: String,
    },
    /// Delete a profile and its keychain entries.
    Delete { name: String },
    /// Exclude a company from billing: it is never posted nor zeroed.
    Exclude(ProfileExcludeArgs),
    /// Include an excluded company again.
    Include(ProfileIncludeArgs),
    /// Exclude (on) or bill again (off) every company whose ConnectWise status is marked
    /// inactive: each run then reads the companies' statuses and the status list (two small
    /// fetches).
    ExcludeInactive(ProfileExcludeInactiveArgs),
    /// Set a company's count for one service: =N fixed, +N or -N on the computed count.
    Override(ProfileOverrideArgs),
    /// Clear a company's override for one service.
    ClearOverride(ProfileClearOverrideArgs),
}

/// `profile exclude PROFILE COMPANY_ID --reason TEXT`.
#[derive(Debug, Clone, Args)]
pub struct ProfileExcludeArgs {
    pub name: String,
    /// The ConnectWise company's numeric id.
    #[arg(value_name = "COMPANY_ID")]
    pub company_id: String,
    /// Why it is not billed (kept in the history and the run report).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// `profile exclude-inactive PROFILE on|off [--reason TEXT]`.
#[derive(Debug, Clone, Args)]
pub struct ProfileExcludeInactiveArgs {
    pub name: String,
    /// on or off
    #[arg(value_name = "on|off")]
    pub state: String,
    /// Why (optional; kept in the history).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
}

/// `profile include PROFILE COMPANY_ID [--reason TEXT]`.
#[derive(Debug, Clone, Args)]
pub struct ProfileIncludeArgs {
    pub name: String,
    #[arg(value_name = "COMPANY_ID")]
    pub company_id: String,
    /// Why it is billed again (optional; kept in the history).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
}

/// `profile override PROFILE COMPANY_ID shared|not-shared (=N|+N|-N) --reason TEXT [--until DAY]`.
#[derive(Debug, Clone, Args)]
pub struct ProfileOverrideArgs {
    pub name: String,
    #[arg(value_name = "COMPANY_ID")]
    pub company_id: String,
    /// shared or not-shared
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// =N for a fixed count, +N to add, -N to subtract (never below 0).
    #[arg(value_name = "COUNT", allow_hyphen_values = true)]
    pub count: String,
    /// Why (kept in the history and the run report).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The last day it applies, YYYY-MM-DD; after it the computed count applies again.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: Option<String>,
}

/// `profile clear-override PROFILE COMPANY_ID shared|not-shared [--reason TEXT]`.
#[derive(Debug, Clone, Args)]
pub struct ProfileClearOverrideArgs {
    pub name: String,
    #[arg(value_name = "COMPANY_ID")]
    pub company_id: String,
    /// shared or not-shared
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// Why (optional; kept in the history).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
}

/// `report [--run ID|--last] [--compare ID] [--csv FILE] [--html FILE]`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportArgs {
    /// The run to report on (`history` in the window lists them); default the newest.
    #[arg(long, value_name = "ID", conflicts_with = "last")]
    pub run: Option<String>,
    /// The newest run, dry runs included (the default).
    #[arg(long)]
    pub last: bool,
    /// Compare with this other run: the companies whose counts differ between the two.
    #[arg(long, value_name = "ID")]
    pub compare: Option<String>,
    /// Write the report (or the comparison) as CSV to FILE instead of printing the table.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ProfileCreateArgs {
    pub name: String,
    /// Cloud region (na, eu, au, aus, za) or "staging"; or give the global --cw-url (on-premise
    /// site) or --cw-api-url (direct API URL), and --synthesize-url.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    #[arg(long, value_name = "ID")]
    pub company_id: Option<String>,
    #[arg(long, value_name = "GUID")]
    pub client_id: Option<String>,
    /// Configuration type names that count (repeat for several; default License).
    #[arg(long = "type-name", value_name = "NAME")]
    pub type_names: Vec<String>,
    /// Text or wildcard matched against the contact name (default *shared*).
    #[arg(long, value_name = "PATTERN")]
    pub shared_pattern: Option<String>,
    /// Match the shared pattern as a whole word (so "Not Shared" is not shared).
    #[arg(long)]
    pub whole_word: bool,
    /// Read the assignment type from this custom field.
    #[arg(long, value_name = "CAPTION")]
    pub assignment_custom_field: Option<String>,
    /// Read the assignment type from this configuration question.
    #[arg(long, value_name = "QUESTION")]
    pub assignment_question: Option<String>,
    /// Count only active configurations.
    #[arg(long)]
    pub active_only: bool,
    /// Zero policy: changed (default), every, skip.
    #[arg(long, value_name = "POLICY")]
    pub zeros: Option<String>,
    /// Separate CSV fields with semicolons.
    #[arg(long)]
    pub semicolon: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Install (or replace) the scheduled sync of --profile NAME, or of every profile with
    /// --all-profiles, daily or monthly on the local clock.
    Install(ScheduleInstallArgs),
    /// List the scheduled syncs this program installed, with their next and last run.
    Show,
    /// Remove the scheduled sync of --profile NAME, or of --all-profiles; with neither, every
    /// scheduled sync this program installed.
    Remove,
}

#[derive(Debug, Clone, Default, Args)]
#[group(id = "when", required = true, multiple = false)]
pub struct ScheduleInstallArgs {
    /// Every day at HH:MM (24-hour, local time).
    #[arg(long, value_name = "HH:MM", group = "when")]
    pub daily: Option<String>,
    /// Every month on DAY (1-31) at HH:MM (24-hour, local time).
    #[arg(long, num_args = 2, value_names = ["DAY", "HH:MM"], group = "when")]
    pub monthly: Vec<String>,
}

/// Settings of `profile notify`.
#[derive(Debug, Clone, Default, Args)]
pub struct ProfileNotifyArgs {
    pub name: String,
    /// The webhook's kind: teams (a Teams Workflows webhook), slack (a Slack incoming webhook)
    /// or json (the product's own payload, see the README).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Notify after every successful run too (by default only after a run that failed, was
    /// partly done or was stopped by a safety check).
    #[arg(long, conflicts_with = "failures_only")]
    pub on_success: bool,
    /// Notify only after a run that failed, was partly done or was stopped by a safety check.
    #[arg(long)]
    pub failures_only: bool,
    /// Send a test notification now.
    #[arg(long)]
    pub test: bool,
}
