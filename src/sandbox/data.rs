//! The sandbox tenant's data: typed configurations, the seeded generator covering every tricky
//! case of the counting rule (each contact case, near-miss type names, a licence without a
//! company), and the JSON ConnectWise would write for each record.

use chrono::{DateTime, Duration as ChronoDuration, TimeZone as _, Utc};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::conditions::{FieldValue, Filterable, ValueKind};
use super::json::{ObjectWriter, Projection};

/// A `{id, name}` reference (`type`, `status`, `contact`); `name` may be missing, as on a contact
/// without a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxRef {
    pub id: i64,
    pub name: Option<String>,
}

impl SandboxRef {
    pub fn new(id: i64, name: impl Into<String>) -> Self {
        Self {
            id,
            name: Some(name.into()),
        }
    }
}

/// The company a configuration belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCompany {
    pub id: i64,
    pub identifier: String,
    pub name: String,
}

/// A custom field on a configuration (ConnectWise writes every defined field; the sandbox writes
/// only the ones set here).
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxCustomField {
    pub id: i64,
    pub caption: String,
    pub value: serde_json::Value,
}

/// A configuration question and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxQuestion {
    pub question_id: i64,
    pub question: String,
    pub answer: serde_json::Value,
}

/// One configuration of the sandbox tenant, typed. The fields the counting rule and the filters
/// read are stored; realistic bulk (serial numbers, addresses, notes, …) is derived from
/// `filler_seed` when the record is written, which keeps 100,000 records small in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfiguration {
    pub id: i64,
    pub name: String,
    pub config_type: Option<SandboxRef>,
    pub status: Option<SandboxRef>,
    pub company: Option<SandboxCompany>,
    pub contact: Option<SandboxRef>,
    pub active_flag: bool,
    pub custom_fields: Vec<SandboxCustomField>,
    pub questions: Vec<SandboxQuestion>,
    pub purchase_date: Option<DateTime<Utc>>,
    pub installation_date: Option<DateTime<Utc>>,
    pub warranty_expiration_date: Option<DateTime<Utc>>,
    pub date_entered: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
    /// Seeds the filler fields written with the record.
    pub filler_seed: u64,
}

impl SandboxConfiguration {
    /// A bare active configuration with just an id and a name; fill the other public fields.
    pub fn new(id: i64, name: impl Into<String>) -> Self {
        let epoch = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
        let epoch = epoch.unwrap_or_default();
        Self {
            id,
            name: name.into(),
            config_type: None,
            status: Some(SandboxRef::new(1, "Active")),
            company: None,
            contact: None,
            active_flag: true,
            custom_fields: Vec::new(),
            questions: Vec::new(),
            purchase_date: None,
            installation_date: None,
            warranty_expiration_date: None,
            date_entered: epoch,
            last_updated: epoch,
            filler_seed: id as u64,
        }
    }

    /// Writes the record as ConnectWise returns it, keeping only what `projection` asks for.
    /// `api_base` (no trailing slash) is used for the `_info` hrefs.
    pub(crate) fn write_json(
        &self,
        out: &mut String,
        projection: Option<&Projection>,
        api_base: &str,
    ) {
        let filler = Filler::new(self.filler_seed);
        let mut w = ObjectWriter::begin(out, projection);
        self.write_references(&mut w, &filler, api_base);
        self.write_placement_and_hardware(&mut w, &filler, api_base);
        self.write_backup_and_system(&mut w, &filler);
        self.write_vendor_and_the_rest(&mut w, &filler, api_base);
        w.end();
    }

    /// `id`, `name` and the references: type, status, company, contact.
    fn write_references(&self, w: &mut ObjectWriter<'_, '_>, filler: &Filler, api_base: &str) {
        w.int("id", self.id);
        w.str("name", &self.name);
        if let Some(t) = &self.config_type {
            w.object("type", |o| {
                o.int("id", t.id);
                o.opt_str("name", t.name.as_deref());
                o.object("_info", |i| {
                    i.str_with("type_href", || {
                        format!("{api_base}/company/configurations/types/{}", t.id)
                    });
                });
            });
        }
        if let Some(s) = &self.status {
            w.object("status", |o| {
                o.int("id", s.id);
                o.opt_str("name", s.name.as_deref());
                o.object("_info", |i| {
                    i.str_with("status_href", || {
                        format!("{api_base}/company/configurations/statuses/{}", s.id)
                    });
                });
            });
        }
        if let Some(c) = &self.company {
            w.object("company", |o| {
                o.int("id", c.id);
                o.str("identifier", &c.identifier);
                o.str("name", &c.name);
                o.object("_info", |i| {
                    i.str_with("company_href", || {
                        format!("{api_base}/company/companies/{}", c.id)
                    });
                    i.str_with("mobileGuid", || filler.guid(c.id as u64 ^ 0x00c0_ffee));
                });
            });
        }
        if let Some(c) = &self.contact {
            w.object("contact", |o| {
                o.int("id", c.id);
                o.opt_str("name", c.name.as_deref());
                o.object("_info", |i| {
                    i.str_with("contact_href", || {
                        format!("{api_base}/company/contacts/{}", c.id)
                    });
                });
            });
        }
    }

    /// Site, location, department, the device's identifiers and dates, who installed it.
    fn write_placement_and_hardware(
        &self,
        w: &mut ObjectWriter<'_, '_>,
        filler: &Filler,
        api_base: &str,
    ) {
        let site = filler.pick(1, SITES);
        w.object("site", |o| {
            o.int("id", site.0);
            o.str("name", site.1);
            o.object("_info", |i| {
                i.str_with("site_href", || {
                    let company = self.company.as_ref().map_or(0, |c| c.id);
                    format!("{api_base}/company/companies/{company}/sites/{}", site.0)
                });
            });
        });
        let location = filler.pick(2, LOCATIONS);
        w.int("locationId", location.0);
        let department = filler.pick(3, DEPARTMENTS);
        w.int("businessUnitId", department.0);
        w.object("location", |o| {
            o.int("id", location.0);
            o.str("name", location.1);
        });
        w.object("department", |o| {
            o.int("id", department.0);
            o.str("identifier", &department.1.replace(' ', ""));
            o.str("name", department.1);
        });
        w.str_with("deviceIdentifier", || {
            format!("DEV-{:08X}", filler.bits(28) >> 32)
        });
        let manufacturer = filler.pick(4, MANUFACTURERS);
        w.str_with("serialNumber", || {
            format!("SN{:010X}", filler.bits(5) >> 24)
        });
        w.str_with("modelNumber", || {
            format!("{}-{}", &manufacturer.1[..2], filler.bits(6) % 9000 + 1000)
        });
        w.str_with("tagNumber", || {
            format!("TAG-{:06}", filler.bits(7) % 1_000_000)
        });
        w.opt_date("purchaseDate", self.purchase_date);
        w.opt_date("installationDate", self.installation_date);
        let installer = 100 + (filler.bits(8) % 20) as i64;
        w.object("installedBy", |o| {
            o.int("id", installer);
            o.str("identifier", "TechOne");
            o.str("name", "Tech One");
            o.object("_info", |i| {
                i.str_with("member_href", || {
                    format!("{api_base}/system/members/{installer}")
                });
            });
        });
        w.opt_date("warrantyExpirationDate", self.warranty_expiration_date);
        w.str("vendorNotes", filler.pick(9, VENDOR_NOTES));
        w.str("notes", filler.pick(10, NOTES));
        w.str_with("macAddress", || filler.mac(11));
        w.str_with("lastLoginName", || {
            format!("user{:04}", filler.bits(12) % 10_000)
        });
        w.bool("billFlag", filler.bits(13).is_multiple_of(3));
    }

    /// Backup figures and the operating system, and a parent for a few.
    fn write_backup_and_system(&self, w: &mut ObjectWriter<'_, '_>, filler: &Filler) {
        w.int("backupSuccesses", (filler.bits(14) % 400) as i64);
        w.int("backupIncomplete", (filler.bits(15) % 5) as i64);
        w.int("backupFailed", (filler.bits(16) % 7) as i64);
        w.int("backupRestores", (filler.bits(17) % 3) as i64);
        w.opt_date(
            "lastBackupDate",
            self.installation_date
                .map(|d| d + ChronoDuration::days((filler.bits(29) % 700) as i64)),
        );
        w.str_with("backupServerName", || {
            format!("BACKUP{:02}", filler.bits(30) % 12)
        });
        w.float(
            "backupBillableSpaceGb",
            (filler.bits(18) % 50_000) as f64 / 100.0,
        );
        w.str("backupProtectedDeviceList", "C:, D:");
        w.int("backupYear", 2024);
        w.int("backupMonth", 1 + (filler.bits(31) % 12) as i64);
        w.str_with("ipAddress", || filler.ip(19));
        w.str("defaultGateway", "10.0.0.1");
        w.str("osType", filler.pick(20, OS_TYPES));
        w.str_with("osInfo", || {
            format!(
                "{} build {}",
                filler.pick(20, OS_TYPES),
                filler.bits(21) % 30_000
            )
        });
        w.str_with("cpuSpeed", || {
            format!("{}.{} GHz", 2 + filler.bits(22) % 3, filler.bits(23) % 10)
        });
        w.str_with("ram", || format!("{} GB", 4 << (filler.bits(24) % 4)));
        w.str("localHardDrives", "C: 512 GB SSD");
        // Most configurations stand alone; a few hang under another one.
        if filler.bits(32).is_multiple_of(8) {
            w.int("parentConfigurationId", (self.id - 1).max(1));
        }
    }

    /// Vendor, manufacturer, links, questions, SLA, custom fields and `_info`.
    fn write_vendor_and_the_rest(
        &self,
        w: &mut ObjectWriter<'_, '_>,
        filler: &Filler,
        api_base: &str,
    ) {
        // The same picks as in the placement and hardware fields.
        let location = filler.pick(2, LOCATIONS);
        let manufacturer = filler.pick(4, MANUFACTURERS);
        let vendor = filler.pick(33, VENDORS);
        w.object("vendor", |o| {
            o.int("id", vendor.0);
            o.str("identifier", &vendor.1.replace(' ', ""));
            o.str("name", vendor.1);
            o.object("_info", |i| {
                i.str_with("company_href", || {
                    format!("{api_base}/company/companies/{}", vendor.0)
                });
            });
        });
        w.object("manufacturer", |o| {
            o.int("id", manufacturer.0);
            o.str("name", manufacturer.1);
            o.object("_info", |i| {
                i.str_with("manufacturer_href", || {
                    format!("{api_base}/procurement/manufacturers/{}", manufacturer.0)
                });
            });
        });
        w.bool("activeFlag", self.active_flag);
        w.str_with("managementLink", || {
            format!("https://rmm.example.test/device/{}", self.id)
        });
        w.str_with("remoteLink", || {
            format!("https://remote.example.test/session/{}", self.id)
        });
        w.array("questions", &self.questions, |q, o| {
            o.int("answerId", q.question_id * 1000 + self.id % 1000);
            o.int("questionId", q.question_id);
            o.str("question", &q.question);
            o.json("answer", &q.answer);
            o.int("sequenceNumber", 1);
            o.int("numberOfDecimals", 0);
            o.str("fieldType", "Text");
            o.bool("requiredFlag", false);
        });
        w.object("sla", |o| {
            o.int("id", 1);
            o.str("name", "Standard SLA");
            o.object("_info", |i| {
                i.str_with("sla_href", || format!("{api_base}/service/SLAs/1"));
            });
        });
        w.str_with("mobileGuid", || filler.guid(25));
        w.bool("displayVendorFlag", false);
        w.int("companyLocationId", location.0);
        w.bool("showRemoteFlag", false);
        w.bool("showAutomateFlag", false);
        w.bool("needsRenewalFlag", filler.bits(26).is_multiple_of(10));
        w.str_with("manufacturerPartNumber", || {
            let prefix: String = manufacturer.1.chars().take(3).collect();
            format!("{prefix}-{:05}", filler.bits(34) % 100_000)
        });
        w.array("customFields", &self.custom_fields, |f, o| {
            o.int("id", f.id);
            o.str("caption", &f.caption);
            o.str("type", "Text");
            o.str("entryMethod", "List");
            o.int("numberOfDecimals", 0);
            o.json("value", &f.value);
            o.str_with("connectWiseId", || filler.guid(27 + f.id as u64));
        });
        w.object("_info", |o| {
            o.date("lastUpdated", self.last_updated);
            o.str("updatedBy", "SandboxSync");
            o.date("dateEntered", self.date_entered);
            o.str("enteredBy", "SandboxImport");
        });
    }

    /// The record as full JSON, as the API returns it without `fields=`.
    pub fn to_json(&self, api_base: &str) -> serde_json::Value {
        let mut out = String::with_capacity(2048);
        self.write_json(&mut out, None, api_base);
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    }
}

/// Deterministic filler values derived from one seed (splitmix64 per slot).
struct Filler(u64);

impl Filler {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn bits(&self, slot: u64) -> u64 {
        let mut z = self
            .0
            .wrapping_add(slot.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<T: Copy>(&self, slot: u64, pool: &[T]) -> T {
        pool[(self.bits(slot) % pool.len() as u64) as usize]
    }

    fn mac(&self, slot: u64) -> String {
        let b = self.bits(slot).to_be_bytes();
        format!(
            "00:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4]
        )
    }

    fn ip(&self, slot: u64) -> String {
        let b = self.bits(slot).to_be_bytes();
        format!("10.{}.{}.{}", b[0], b[1], b[2].max(2))
    }

    fn guid(&self, slot: u64) -> String {
        let a = self.bits(slot);
        let b = self.bits(slot ^ 0xffff);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

const SITES: &[(i64, &str)] = &[(1, "Main"), (2, "Branch Office"), (3, "Warehouse")];
const LOCATIONS: &[(i64, &str)] = &[(1, "HQ"), (2, "Remote"), (3, "Data Center")];
const DEPARTMENTS: &[(i64, &str)] = &[(10, "Corporate"), (11, "Field Services"), (12, "Finance")];
const VENDORS: &[(i64, &str)] = &[(30, "Ingram Micro"), (31, "TD Synnex"), (32, "Pax8")];
const MANUFACTURERS: &[(i64, &str)] = &[
    (20, "Microsoft"),
    (21, "Dell"),
    (22, "Lenovo"),
    (23, "Fortinet"),
    (24, "HP"),
];
const OS_TYPES: &[&str] = &[
    "Windows 11 Pro",
    "Windows Server 2022",
    "macOS 14",
    "Ubuntu 22.04",
];
const NOTES: &[&str] = &[
    "Provisioned during the spring onboarding project. The device was imaged with the standard build, enrolled into endpoint management and checked against the asset register. Licence keys are held in the documentation system; renewal reminders go to the account manager thirty days before expiry. Do not reassign without updating the contact.",
    "Migrated from the previous PSA in bulk. Some historical fields were mapped by hand and may be incomplete; check the purchase order before raising a warranty claim. The customer asked for quarterly reviews of seat usage, and any change in headcount should be reflected here so billing stays accurate.",
    "Shared workstation at reception used by several staff during the day. Auto-login is disabled; each user signs in with their own account. Peripheral drivers are managed centrally. Raise a ticket with the service desk if the device is moved between floors or offices so the location stays correct.",
    "Subscription seat assigned through the reseller portal. Seats are reconciled monthly against the distributor invoice; discrepancies are escalated to the vendor team. The assignment type field records whether the seat is shared among users or dedicated to one person.",
];
const VENDOR_NOTES: &[&str] = &[
    "Vendor support contract 24x7, reference on file. Escalation through the partner portal.",
    "Next business day replacement. Ship-to address must match the site on this record.",
    "Purchased through distribution; warranty registered under the customer's name.",
];

const CONTACT_PEOPLE: &[&str] = &[
    "Alice Martin",
    "Bob Nguyen",
    "Chloé Dubois",
    "Dmitri Ivanov",
    "Eve O'Brien",
    "Fatima Zahra",
    "George Smith",
    "Hana Sato",
    "Ivan Petrov",
    "Julia Rossi",
    "Sharon Reed",
];

/// Company names that break naive CSV, spreadsheets and trimming; the second one is renamed
/// between configurations.
const TRICKY_COMPANY_NAMES: &[&str] = &[
    "Acme, Inc.",
    "Contoso Ltd",
    "\"Quoted\" Widgets",
    "Line\nBreak Services",
    "Semi;Colon Partners",
    "=SUM(A1:A2) Holdings",
    "+Plus Networks",
    "-Minus Consulting",
    "@At Systems",
    "  Padded Name  ",
    "株式会社サンプル",
    "Ελληνική Εταιρεία",
    "شركة المثال",
    "\tTabbed, \"Everything\"; Co",
];
/// The renamed company's other name.
pub(crate) const RENAMED_COMPANY_INDEX: usize = 1;
const RENAMED_COMPANY_NEW_NAME: &str = "Contoso Limited";

const NAME_WORDS_A: &[&str] = &[
    "Blue",
    "Northern",
    "Summit",
    "Harbor",
    "Granite",
    "Silver",
    "Pioneer",
    "Evergreen",
];
const NAME_WORDS_B: &[&str] = &[
    "Dental",
    "Logistics",
    "Legal",
    "Bakery",
    "Clinic",
    "Foundry",
    "Studio",
    "Motors",
];
const NAME_SUFFIXES: &[&str] = &["LLC", "Inc.", "GmbH", "Ltd", "& Sons", "Group"];

/// Configuration types: the exact `License`, its near misses, and ordinary hardware types.
pub(crate) const LICENSE_TYPE: (i64, &str) = (1, "License");
const NEAR_MISS_TYPES: &[(i64, &str)] = &[
    (2, "License "),
    (3, " License"),
    (4, "Licence"),
    (5, "Licenses"),
    (6, "license"),
    (7, "LICENSE"),
];
const OTHER_TYPES: &[(i64, &str)] = &[
    (10, "Laptop"),
    (11, "Server"),
    (12, "Firewall"),
    (13, "Seat"),
    (14, "Workstation"),
    (15, "Printer"),
    (16, "Switch"),
];

/// A configuration type as `company/configurations/types` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfigurationType {
    pub id: i64,
    pub name: String,
    pub inactive_flag: bool,
}

impl SandboxConfigurationType {
    pub(crate) fn write_json(
        &self,
        out: &mut String,
        projection: Option<&Projection>,
        api_base: &str,
    ) {
        let mut w = ObjectWriter::begin(out, projection);
        w.int("id", self.id);
        w.str("name", &self.name);
        w.bool("inactiveFlag", self.inactive_flag);
        w.bool("systemFlag", false);
        w.object("_info", |o| {
            o.str_with("questions_href", || {
                format!(
                    "{api_base}/company/configurations/types/{}/questions",
                    self.id
                )
            });
        });
        w.end();
    }
}

/// Every configuration type the generator uses.
pub(crate) fn configuration_types() -> Vec<SandboxConfigurationType> {
    std::iter::once(LICENSE_TYPE)
        .chain(NEAR_MISS_TYPES.iter().copied())
        .chain(OTHER_TYPES.iter().copied())
        .map(|(id, name)| SandboxConfigurationType {
            id,
            name: name.to_owned(),
            inactive_flag: false,
        })
        .collect()
}

/// A company as `company/companies` lists it: its id, identifier, name and status
/// (`{id, name, _info}`; a status without a name, or none at all, can be set for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCompanyRecord {
    pub id: i64,
    pub identifier: String,
    pub name: String,
    pub status: Option<SandboxRef>,
}

/// The company statuses the sandbox's tenants have: (id, name, inactive). The first three
/// are as ConnectWise ships them; the two after are what tenants add, both still billed, so a
/// rule that judged by name rather than by the inactive flag would show.
pub(crate) const COMPANY_STATUSES: &[(i64, &str, bool)] = &[
    (1, "Active", false),
    (2, "Inactive", true),
    (3, "Not Approved", true),
    (4, "Active - Managed", false),
    (5, "Credit Hold", false),
];

/// The demo tenant's companies whose status is not the plain "Active": (company index,
/// status id). Two are inactive (the third and fifth companies), two are not.
const OTHER_STATUS_COMPANIES: &[(usize, i64)] = &[(1, 4), (2, 2), (4, 3), (6, 5)];

/// A company status as `company/companies/statuses` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCompanyStatus {
    pub id: i64,
    pub name: String,
    pub inactive_flag: bool,
}

impl SandboxCompanyStatus {
    pub(crate) fn write_json(&self, out: &mut String, projection: Option<&Projection>) {
        let mut w = ObjectWriter::begin(out, projection);
        w.int("id", self.id);
        w.str("name", &self.name);
        w.bool("defaultFlag", self.id == 1);
        w.bool("inactiveFlag", self.inactive_flag);
        w.bool("notifyFlag", false);
        w.bool("disallowSavingFlag", false);
        w.bool("customNoteFlag", false);
        w.bool("cancelOpenTracksFlag", false);
        w.object("_info", |i| {
            i.str("lastUpdated", "2025-01-01T00:00:00Z");
            i.str("updatedBy", "sandbox");
        });
        w.end();
    }
}

/// The tenant's company status list.
pub(crate) fn company_status_list() -> Vec<SandboxCompanyStatus> {
    COMPANY_STATUSES
        .iter()
        .map(|(id, name, inactive)| SandboxCompanyStatus {
            id: *id,
            name: (*name).to_owned(),
            inactive_flag: *inactive,
        })
        .collect()
}

impl SandboxCompanyRecord {
    pub(crate) fn write_json(
        &self,
        out: &mut String,
        projection: Option<&Projection>,
        api_base: &str,
    ) {
        let mut w = ObjectWriter::begin(out, projection);
        w.int("id", self.id);
        w.str("identifier", &self.identifier);
        w.str("name", &self.name);
        if let Some(s) = &self.status {
            w.object("status", |o| {
                o.int("id", s.id);
                o.opt_str("name", s.name.as_deref());
                o.object("_info", |i| {
                    i.str_with("status_href", || {
                        format!("{api_base}/company/companies/statuses/{}", s.id)
                    });
                });
            });
        }
        w.array("types", &[()], |_, a| {
            a.int("id", 1);
            a.str("name", "Client");
        });
        w.str("phoneNumber", "555-0100");
        w.str("website", "www.example.com");
        w.bool("deletedFlag", false);
        w.bool("leadFlag", false);
        w.bool("unsubscribeFlag", false);
        w.object("_info", |i| {
            i.str("lastUpdated", "2025-01-01T00:00:00Z");
            i.str("updatedBy", "sandbox");
            i.str_with("configurations_href", || {
                format!(
                    "{api_base}/company/configurations?conditions=company/id={}",
                    self.id
                )
            });
        });
        w.end();
    }
}

/// The company list of a tenant: every company Active but the demo's few that are not.
pub(crate) fn company_records(companies: &[SandboxCompany]) -> Vec<SandboxCompanyRecord> {
    let mut out: Vec<SandboxCompanyRecord> = companies
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let status_id = OTHER_STATUS_COMPANIES
                .iter()
                .find(|(at, _)| *at == i)
                .map_or(1, |(_, s)| *s);
            SandboxCompanyRecord {
                id: c.id,
                identifier: c.identifier.clone(),
                name: c.name.clone(),
                status: Some(company_status(status_id)),
            }
        })
        .collect();
    out.sort_by_key(|c| c.id);
    out
}

/// A status reference by id; an id the sandbox does not know is named "Status N".
pub(crate) fn company_status(id: i64) -> SandboxRef {
    let name = COMPANY_STATUSES
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or_else(|| format!("Status {id}"), |(_, n, _)| (*n).to_owned());
    SandboxRef::new(id, name)
}

/// The contact cases the counting rule must tell apart.
#[derive(Debug, Clone, Copy)]
enum ContactCase {
    Shared,
    SharedPrinter,
    FrontDeskShared,
    NotShared,
    NoContact,
    NoName,
    Person,
}

const FORCED_CONTACTS: &[ContactCase] = &[
    ContactCase::Shared,
    ContactCase::SharedPrinter,
    ContactCase::FrontDeskShared,
    ContactCase::NotShared,
    ContactCase::NoContact,
    ContactCase::NoName,
    ContactCase::Person,
];

/// The company table of a generated tenant.
pub(crate) fn generate_companies(seed: u64, companies: usize) -> Vec<SandboxCompany> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0000_c04a_11e5);
    (0..companies)
        .map(|i| {
            let id = 250 + i as i64 * 3;
            let name = match TRICKY_COMPANY_NAMES.get(i) {
                Some(name) => (*name).to_owned(),
                None => format!(
                    "{} {} {} {}",
                    NAME_WORDS_A[rng.random_range(0..NAME_WORDS_A.len())],
                    NAME_WORDS_B[rng.random_range(0..NAME_WORDS_B.len())],
                    NAME_SUFFIXES[rng.random_range(0..NAME_SUFFIXES.len())],
                    i
                ),
            };
            let mut identifier: String = name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(20)
                .collect();
            if identifier.is_empty() {
                identifier = format!("Company{id}");
            }
            SandboxCompany {
                id,
                identifier,
                name,
            }
        })
        .collect()
}

/// Generates a tenant's configurations from a seed: the same seed always gives the same tenant.
///
/// The first records are fixed so even a small tenant has each tricky case: every contact case
/// on a `License`, each near-miss type with a shared contact, and a `License` without a company.
pub(crate) fn generate_configurations(
    seed: u64,
    companies: &[SandboxCompany],
    count: usize,
) -> Vec<SandboxConfiguration> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = Utc
        .with_ymd_and_hms(2019, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(count);
    let mut id: i64 = 1000;
    // Each record draws from `rng` in the same order every time: type, contact, company,
    // active flag, custom fields, questions, dates, filler seed.
    for index in 0..count {
        id += rng.random_range(1..=3);
        let forced_near_miss = index
            .checked_sub(FORCED_CONTACTS.len())
            .and_then(|i| NEAR_MISS_TYPES.get(i));
        let config_type = pick_type(&mut rng, index, forced_near_miss);
        let contact_case = pick_contact_case(&mut rng, index, forced_near_miss.is_some());
        let contact = make_contact(&mut rng, contact_case);
        let company = pick_company(&mut rng, index, companies);
        let active_flag = rng.random_range(0..100) < 85;
        let status = if active_flag {
            SandboxRef::new(1, "Active")
        } else {
            SandboxRef::new(2, "Inactive")
        };
        let custom_fields = pick_custom_fields(&mut rng);
        let mut questions = Vec::new();
        if rng.random_range(0..100) < 10 {
            questions.push(SandboxQuestion {
                question_id: 3,
                question: "Assignment Type".into(),
                answer: serde_json::Value::from(if rng.random_bool(0.5) {
                    "Shared"
                } else {
                    "Not Shared"
                }),
            });
        }
        let purchase = base + ChronoDuration::days(rng.random_range(0..2000));
        let installed = purchase + ChronoDuration::days(rng.random_range(0..30));
        let entered = installed + ChronoDuration::hours(rng.random_range(0..48));
        let updated = entered + ChronoDuration::days(rng.random_range(0..400));
        out.push(SandboxConfiguration {
            id,
            name: format!("{} {:05}", config_type.1.trim(), index + 1),
            config_type: Some(SandboxRef::new(config_type.0, config_type.1)),
            status: Some(status),
            company,
            contact,
            active_flag,
            custom_fields,
            questions,
            purchase_date: Some(purchase),
            installation_date: Some(installed),
            warranty_expiration_date: Some(purchase + ChronoDuration::days(3 * 365)),
            date_entered: entered,
            last_updated: updated,
            filler_seed: rng.random(),
        });
    }
    out
}

/// The type of record `index`: fixed for the first ones, then mostly `License`.
fn pick_type(
    rng: &mut ChaCha8Rng,
    index: usize,
    forced_near_miss: Option<&(i64, &'static str)>,
) -> (i64, &'static str) {
    if index < FORCED_CONTACTS.len() {
        LICENSE_TYPE
    } else if let Some(t) = forced_near_miss {
        *t
    } else {
        let roll = rng.random_range(0..100);
        if roll < 60 {
            LICENSE_TYPE
        } else if roll < 72 {
            NEAR_MISS_TYPES[rng.random_range(0..NEAR_MISS_TYPES.len())]
        } else {
            OTHER_TYPES[rng.random_range(0..OTHER_TYPES.len())]
        }
    }
}

/// Which contact case record `index` gets: fixed for the first ones (a near miss is shared).
fn pick_contact_case(rng: &mut ChaCha8Rng, index: usize, near_miss: bool) -> ContactCase {
    if let Some(case) = FORCED_CONTACTS.get(index) {
        *case
    } else if near_miss {
        ContactCase::Shared
    } else {
        match rng.random_range(0..100) {
            0..10 => ContactCase::NoContact,
            10..15 => ContactCase::NoName,
            15..25 => ContactCase::Shared,
            25..30 => ContactCase::SharedPrinter,
            30..35 => ContactCase::FrontDeskShared,
            35..40 => ContactCase::NotShared,
            _ => ContactCase::Person,
        }
    }
}

/// The contact of a record in `case`.
fn make_contact(rng: &mut ChaCha8Rng, case: ContactCase) -> Option<SandboxRef> {
    let contact_id = 5000 + rng.random_range(0..2000);
    match case {
        ContactCase::NoContact => None,
        ContactCase::NoName => Some(SandboxRef {
            id: contact_id,
            name: None,
        }),
        ContactCase::Shared => Some(SandboxRef::new(contact_id, "Shared")),
        ContactCase::SharedPrinter => Some(SandboxRef::new(contact_id, "SHARED Printer")),
        ContactCase::FrontDeskShared => Some(SandboxRef::new(contact_id, "Front Desk (shared)")),
        ContactCase::NotShared => Some(SandboxRef::new(contact_id, "Not Shared")),
        ContactCase::Person => Some(SandboxRef::new(
            contact_id,
            CONTACT_PEOPLE[rng.random_range(0..CONTACT_PEOPLE.len())],
        )),
    }
}

/// The company of record `index`: none for one fixed record and about 2 % of the rest;
/// round-robin first so every company appears, then skewed towards the first ones.
fn pick_company(
    rng: &mut ChaCha8Rng,
    index: usize,
    companies: &[SandboxCompany],
) -> Option<SandboxCompany> {
    let no_company = index == FORCED_CONTACTS.len() + NEAR_MISS_TYPES.len()
        || (index > 20 && rng.random_range(0..100) < 2);
    if companies.is_empty() || no_company {
        return None;
    }
    let c = if index < companies.len() {
        index
    } else {
        let a = rng.random_range(0..companies.len());
        let b = rng.random_range(0..companies.len());
        a.min(b)
    };
    let mut company = companies[c].clone();
    if c == RENAMED_COMPANY_INDEX && rng.random_bool(0.5) {
        company.name = RENAMED_COMPANY_NEW_NAME.to_owned();
    }
    Some(company)
}

/// An "Assignment Type" field on about a quarter of the records, "Renewal Notes" on a tenth.
fn pick_custom_fields(rng: &mut ChaCha8Rng) -> Vec<SandboxCustomField> {
    let mut custom_fields = Vec::new();
    if rng.random_range(0..100) < 25 {
        let value = match rng.random_range(0..10) {
            0..4 => serde_json::Value::from("Shared"),
            4..8 => serde_json::Value::from("Not Shared"),
            _ => serde_json::Value::Null,
        };
        custom_fields.push(SandboxCustomField {
            id: 7,
            caption: "Assignment Type".into(),
            value,
        });
    }
    if rng.random_range(0..100) < 10 {
        custom_fields.push(SandboxCustomField {
            id: 8,
            caption: "Renewal Notes".into(),
            value: serde_json::Value::from("Renew with the annual agreement"),
        });
    }
    custom_fields
}

/// The configuration fields the sandbox can filter and sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigurationField {
    Id,
    Name,
    TypeId,
    TypeName,
    StatusId,
    StatusName,
    CompanyId,
    CompanyIdentifier,
    CompanyName,
    ContactId,
    ContactName,
    ActiveFlag,
    PurchaseDate,
    InstallationDate,
    WarrantyExpirationDate,
    DateEntered,
    LastUpdated,
}

impl Filterable for SandboxConfiguration {
    type Field = ConfigurationField;

    fn resolve(path: &str) -> Option<(ConfigurationField, ValueKind)> {
        use ConfigurationField as F;
        use ValueKind as K;
        Some(match path.to_ascii_lowercase().as_str() {
            "id" => (F::Id, K::Integer),
            "name" => (F::Name, K::Text),
            "type/id" => (F::TypeId, K::Integer),
            "type/name" => (F::TypeName, K::Text),
            "status/id" => (F::StatusId, K::Integer),
            "status/name" => (F::StatusName, K::Text),
            "company/id" => (F::CompanyId, K::Integer),
            "company/identifier" => (F::CompanyIdentifier, K::Text),
            "company/name" => (F::CompanyName, K::Text),
            "contact/id" => (F::ContactId, K::Integer),
            "contact/name" => (F::ContactName, K::Text),
            "activeflag" => (F::ActiveFlag, K::Boolean),
            "purchasedate" => (F::PurchaseDate, K::Date),
            "installationdate" => (F::InstallationDate, K::Date),
            "warrantyexpirationdate" => (F::WarrantyExpirationDate, K::Date),
            "_info/dateentered" | "dateentered" => (F::DateEntered, K::Date),
            "_info/lastupdated" | "lastupdated" => (F::LastUpdated, K::Date),
            _ => return None,
        })
    }

    fn known_paths() -> &'static str {
        "id, name, type/id, type/name, status/id, status/name, company/id, company/identifier, \
         company/name, contact/id, contact/name, activeFlag, purchaseDate, installationDate, \
         warrantyExpirationDate, _info/dateEntered, _info/lastUpdated"
    }

    fn value(&self, field: ConfigurationField) -> FieldValue<'_> {
        use ConfigurationField as F;
        fn text(s: Option<&str>) -> FieldValue<'_> {
            s.map_or(FieldValue::Null, FieldValue::Text)
        }
        let int = |i: Option<i64>| i.map_or(FieldValue::Null, FieldValue::Integer);
        let date = |d: Option<DateTime<Utc>>| d.map_or(FieldValue::Null, FieldValue::Date);
        match field {
            F::Id => FieldValue::Integer(self.id),
            F::Name => FieldValue::Text(&self.name),
            F::TypeId => int(self.config_type.as_ref().map(|t| t.id)),
            F::TypeName => text(self.config_type.as_ref().and_then(|t| t.name.as_deref())),
            F::StatusId => int(self.status.as_ref().map(|t| t.id)),
            F::StatusName => text(self.status.as_ref().and_then(|t| t.name.as_deref())),
            F::CompanyId => int(self.company.as_ref().map(|c| c.id)),
            F::CompanyIdentifier => text(self.company.as_ref().map(|c| c.identifier.as_str())),
            F::CompanyName => text(self.company.as_ref().map(|c| c.name.as_str())),
            F::ContactId => int(self.contact.as_ref().map(|c| c.id)),
            F::ContactName => text(self.contact.as_ref().and_then(|c| c.name.as_deref())),
            F::ActiveFlag => FieldValue::Boolean(self.active_flag),
            F::PurchaseDate => date(self.purchase_date),
            F::InstallationDate => date(self.installation_date),
            F::WarrantyExpirationDate => date(self.warranty_expiration_date),
            F::DateEntered => FieldValue::Date(self.date_entered),
            F::LastUpdated => FieldValue::Date(self.last_updated),
        }
    }

    fn record_id(&self) -> i64 {
        self.id
    }
}

/// The fields of configuration types and company statuses the sandbox can filter and sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeField {
    Id,
    Name,
    InactiveFlag,
}

/// A field of a record made of an id, a name and an inactive flag.
fn type_field_value(field: TypeField, id: i64, name: &str, inactive: bool) -> FieldValue<'_> {
    match field {
        TypeField::Id => FieldValue::Integer(id),
        TypeField::Name => FieldValue::Text(name),
        TypeField::InactiveFlag => FieldValue::Boolean(inactive),
    }
}

impl Filterable for SandboxConfigurationType {
    type Field = TypeField;

    fn resolve(path: &str) -> Option<(TypeField, ValueKind)> {
        Some(match path.to_ascii_lowercase().as_str() {
            "id" => (TypeField::Id, ValueKind::Integer),
            "name" => (TypeField::Name, ValueKind::Text),
            "inactiveflag" => (TypeField::InactiveFlag, ValueKind::Boolean),
            _ => return None,
        })
    }

    fn known_paths() -> &'static str {
        "id, name, inactiveFlag"
    }

    fn value(&self, field: TypeField) -> FieldValue<'_> {
        type_field_value(field, self.id, &self.name, self.inactive_flag)
    }

    fn record_id(&self) -> i64 {
        self.id
    }
}

impl Filterable for SandboxCompanyStatus {
    type Field = TypeField;

    fn resolve(path: &str) -> Option<(TypeField, ValueKind)> {
        SandboxConfigurationType::resolve(path)
    }

    fn known_paths() -> &'static str {
        SandboxConfigurationType::known_paths()
    }

    fn value(&self, field: TypeField) -> FieldValue<'_> {
        type_field_value(field, self.id, &self.name, self.inactive_flag)
    }

    fn record_id(&self) -> i64 {
        self.id
    }
}

/// The company fields the sandbox can filter and sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompanyField {
    Id,
    Identifier,
    Name,
    StatusId,
    StatusName,
}

impl Filterable for SandboxCompanyRecord {
    type Field = CompanyField;

    fn resolve(path: &str) -> Option<(CompanyField, ValueKind)> {
        Some(match path.to_ascii_lowercase().as_str() {
            "id" => (CompanyField::Id, ValueKind::Integer),
            "identifier" => (CompanyField::Identifier, ValueKind::Text),
            "name" => (CompanyField::Name, ValueKind::Text),
            "status/id" => (CompanyField::StatusId, ValueKind::Integer),
            "status/name" => (CompanyField::StatusName, ValueKind::Text),
            _ => return None,
        })
    }

    fn known_paths() -> &'static str {
        "id, identifier, name, status/id, status/name"
    }

    fn value(&self, field: CompanyField) -> FieldValue<'_> {
        match field {
            CompanyField::Id => FieldValue::Integer(self.id),
            CompanyField::Identifier => FieldValue::Text(&self.identifier),
            CompanyField::Name => FieldValue::Text(&self.name),
            CompanyField::StatusId => self
                .status
                .as_ref()
                .map_or(FieldValue::Null, |s| FieldValue::Integer(s.id)),
            CompanyField::StatusName => self
                .status
                .as_ref()
                .and_then(|s| s.name.as_deref())
                .map_or(FieldValue::Null, FieldValue::Text),
        }
    }

    fn record_id(&self) -> i64 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::configuration::ConfigurationPage;

    const BASE: &str = "http://127.0.0.1:1/v4_6_release/apis/3.0";

    #[test]
    fn the_same_seed_gives_the_same_tenant_and_another_seed_another() {
        let companies = generate_companies(1, 40);
        let a = generate_configurations(1, &companies, 300);
        let b = generate_configurations(1, &companies, 300);
        let c = generate_configurations(2, &companies, 300);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn a_full_record_has_about_sixty_fields_in_three_kilobytes_and_parses_as_a_configuration() {
        let companies = generate_companies(1, 40);
        let configs = generate_configurations(1, &companies, 600);
        let mut out = String::from("[");
        for (i, c) in configs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            c.write_json(&mut out, None, BASE);
        }
        out.push(']');
        let average = out.len() / configs.len();
        assert!((2500..=4000).contains(&average), "average {average} bytes");
        // The public generated clients' Configuration model has about 60 fields; nulls are
        // left out, as ConnectWise does.
        let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        let fields = all
            .iter()
            .map(|r| r.as_object().unwrap().len())
            .max()
            .unwrap();
        assert!((55..=62).contains(&fields), "{fields} fields");
        let page = ConfigurationPage::parse(out.as_bytes()).unwrap();
        assert_eq!(page.records.len(), 600);
        assert!(page.unparseable.is_empty());
        assert_eq!(page.records[0].type_name(), Some("License"));
        assert_eq!(page.records[0].contact_name(), Some("Shared"));
    }

    #[test]
    fn every_tricky_case_is_in_the_default_tenant() {
        let companies = generate_companies(1, 40);
        let configs = generate_configurations(1, &companies, 600);
        let types: Vec<&str> = configs
            .iter()
            .filter_map(|c| c.config_type.as_ref()?.name.as_deref())
            .collect();
        for t in [
            "License", "License ", " License", "Licence", "Licenses", "license", "LICENSE",
        ] {
            assert!(types.contains(&t), "type {t:?}");
        }
        let license = types.iter().filter(|t| **t == "License").count();
        assert!(license * 100 / configs.len() >= 50, "{license}");
        let contacts: Vec<Option<&str>> = configs
            .iter()
            .filter_map(|c| c.contact.as_ref().map(|c| c.name.as_deref()))
            .collect();
        for n in [
            "Shared",
            "SHARED Printer",
            "Front Desk (shared)",
            "Not Shared",
        ] {
            assert!(contacts.contains(&Some(n)), "contact {n:?}");
        }
        assert!(contacts.contains(&None));
        assert!(configs.iter().any(|c| c.contact.is_none()));
        assert!(configs.iter().any(|c| c.company.is_none()));
        assert!(configs.iter().any(|c| !c.active_flag));
        let renamed: std::collections::BTreeSet<&str> = configs
            .iter()
            .filter_map(|c| c.company.as_ref())
            .filter(|c| c.id == companies[RENAMED_COMPANY_INDEX].id)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(renamed.len(), 2);
        assert!(configs.iter().any(|c| {
            c.custom_fields
                .iter()
                .any(|f| f.caption == "Assignment Type" && f.value == "Not Shared")
        }));
        assert!(configs.iter().any(|c| !c.questions.is_empty()));
        for name in TRICKY_COMPANY_NAMES {
            assert!(
                configs
                    .iter()
                    .any(|c| c.company.as_ref().is_some_and(|co| co.name == *name))
            );
        }
    }
}
