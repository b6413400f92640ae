//! The emulated Synthesize (Gradient MSP) vendor API: token check, services (skus), accounts,
//! unit counts with the "No account map found" answer, and the integration status, in the
//! shapes the public Synthesize SDK's models describe (see the module doc of `sandbox`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, patch, post};
use base64::Engine as _;
use serde_json::{Value, json};

use super::knobs::ServiceKnobs;
use super::{SANDBOX_PARTNER_API_KEY, SANDBOX_VENDOR_API_KEY};

/// Service categories Synthesize accepts.
pub const SERVICE_CATEGORIES: &[&str] = &[
    "security",
    "backup",
    "productivity",
    "infrastructure",
    "service delivery",
    "consulting",
    "other",
];

/// Service subcategories the sandbox accepts. The public docs only say the list is fixed and
/// contains `other`; the rest of this list is the sandbox's own guess.
pub const SERVICE_SUBCATEGORIES: &[&str] = &[
    "other",
    "antivirus",
    "endpoint protection",
    "email security",
    "firewall",
    "backup",
    "disaster recovery",
    "email",
    "collaboration",
    "monitoring",
    "networking",
    "hosting",
    "help desk",
    "licensing",
];

/// Integration status values, case-sensitive.
pub const INTEGRATION_STATUSES: &[&str] = &["active", "inactive", "pending", "disabled", "error"];

/// A service (sku) of the vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxService {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub subcategory: String,
}

/// An account the vendor created (its id is the vendor's own id: the ConnectWise company id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxAccount {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// Which id fields the sandbox writes on services (skus) and the vendor object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFields {
    /// The deprecated `_id` beside `id`, as the SDK's `VendorSkuData` requires (the default).
    #[default]
    Both,
    /// Only `id`.
    IdOnly,
    /// Only the deprecated `_id`, as older deployments did.
    UnderscoreOnly,
}

/// Shapes of the Synthesize answers that differ between deployments; the default is what the
/// public record describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthesizeShape {
    pub ids: IdFields,
    /// Accounts carry `isMapped` (some deployments add it); off by default.
    pub accounts_carry_is_mapped: bool,
    /// `GET /organization` wrapped in `{data, message, status}` (the default) or bare.
    pub organization_wrapped: bool,
}

impl Default for SynthesizeShape {
    fn default() -> Self {
        Self {
            ids: IdFields::Both,
            accounts_carry_is_mapped: false,
            organization_wrapped: true,
        }
    }
}

/// The vendor's data in Synthesize.
#[derive(Debug)]
pub(crate) struct Vendor {
    pub services: Vec<SandboxService>,
    pub accounts: Vec<SandboxAccount>,
    /// Account ids whose count posts answer "No account map found", existing or not.
    pub unmapped: BTreeSet<String>,
    /// The last count per (service id, account id).
    pub counts: BTreeMap<(String, String), u64>,
    pub status: String,
    /// When the last count arrived (`lastSyncedAt`).
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
    pub shape: SynthesizeShape,
    /// Raw items appended to the skus as served (to show what a client does with an item it
    /// cannot read).
    pub extra_skus: Vec<Value>,
    /// Raw items appended to the accounts list as served.
    pub extra_accounts: Vec<Value>,
    next_service: u64,
}

impl Vendor {
    fn new() -> Self {
        let mut vendor = Self {
            services: Vec::new(),
            accounts: Vec::new(),
            unmapped: BTreeSet::new(),
            counts: BTreeMap::new(),
            status: "pending".into(),
            last_synced_at: None,
            shape: SynthesizeShape::default(),
            extra_skus: Vec::new(),
            extra_accounts: Vec::new(),
            next_service: 1,
        };
        // An unrelated service, so the client has to look services up by name.
        vendor.add_service(SandboxService {
            id: String::new(),
            name: "Managed Backup".into(),
            description: "Protected endpoints".into(),
            category: "backup".into(),
            subcategory: "backup".into(),
        });
        vendor
    }

    /// Adds a service with the next id (24 hex digits, like the real ids); returns the id.
    pub(crate) fn add_service(&mut self, mut service: SandboxService) -> String {
        service.id = format!("65f0{:020x}", self.next_service);
        self.next_service += 1;
        let id = service.id.clone();
        self.services.push(service);
        id
    }

    /// Writes the id fields the shape asks for.
    fn put_ids(&self, object: &mut serde_json::Map<String, Value>, id: &str) {
        match self.shape.ids {
            IdFields::Both => {
                object.insert("_id".into(), Value::from(id));
                object.insert("id".into(), Value::from(id));
            }
            IdFields::IdOnly => {
                object.insert("id".into(), Value::from(id));
            }
            IdFields::UnderscoreOnly => {
                object.insert("_id".into(), Value::from(id));
            }
        }
    }

    /// A sku as the SDK's `VendorSkuData` has it: `_id` and `id`, name, description, logo,
    /// category, subcategory, supportArticle, supportContact.
    fn service_json(&self, service: &SandboxService) -> Value {
        let mut object = serde_json::Map::new();
        self.put_ids(&mut object, &service.id);
        object.insert("name".into(), Value::from(service.name.as_str()));
        object.insert(
            "description".into(),
            Value::from(service.description.as_str()),
        );
        object.insert("logo".into(), Value::Null);
        object.insert("category".into(), Value::from(service.category.as_str()));
        object.insert(
            "subcategory".into(),
            Value::from(service.subcategory.as_str()),
        );
        object.insert("supportArticle".into(), Value::Null);
        object.insert("supportContact".into(), Value::Null);
        Value::Object(object)
    }

    /// The vendor as the SDK's `VendorData` has it, skus included.
    fn vendor_json(&self) -> Value {
        let mut skus: Vec<Value> = self.services.iter().map(|s| self.service_json(s)).collect();
        skus.extend(self.extra_skus.iter().cloned());
        let mut object = serde_json::Map::new();
        self.put_ids(&mut object, VENDOR_ID);
        for (key, value) in [
            ("name", json!("cw-shared-devices")),
            (
                "description",
                json!("ConnectWise PSA shared and not shared devices"),
            ),
            ("integrationType", json!("custom")),
            ("imageUri", Value::Null),
            ("skus", Value::Array(skus)),
            ("isDistributor", json!(false)),
            ("integrationPortalUrl", Value::Null),
            ("vendorSupportPageUrl", Value::Null),
            ("externalIntegrationStatus", json!("active")),
            ("mappingResponsibilities", json!([])),
            ("modules", json!(["billing"])),
            ("organizationId", json!(ORGANIZATION_ID)),
            ("updatedAt", json!("2025-01-15T09:30:00.000Z")),
            ("createdAt", json!("2024-06-01T12:00:00.000Z")),
        ] {
            object.insert(key.into(), value);
        }
        Value::Object(object)
    }

    /// The integration as the SDK's `IntegrationData` has it.
    fn integration_json(&self) -> Value {
        json!({
            "organizationId": ORGANIZATION_ID,
            "name": "Sandbox MSP",
            "vendorId": VENDOR_ID,
            "vendorName": "cw-shared-devices",
            "integrationId": INTEGRATION_ID,
            "status": self.status,
            "lastSyncedAt": self.last_synced_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        })
    }

    fn account_json(&self, account: &SandboxAccount) -> Value {
        let mut object =
            json!({ "name": account.name, "description": account.description, "id": account.id });
        if self.shape.accounts_carry_is_mapped
            && let Some(o) = object.as_object_mut()
        {
            o.insert(
                "isMapped".into(),
                Value::from(!self.unmapped.contains(&account.id)),
            );
        }
        object
    }
}

const ORGANIZATION_ID: &str = "65f000000000000000000abc";
const VENDOR_ID: &str = "65f000000000000000000def";
const INTEGRATION_ID: &str = "65f000000000000000000a11";

/// Everything the Synthesize routes share.
#[derive(Debug)]
pub(crate) struct SynthesizeState {
    vendor: Mutex<Vendor>,
    pub knobs: ServiceKnobs,
}

impl SynthesizeState {
    pub(crate) fn new() -> Self {
        Self {
            vendor: Mutex::new(Vendor::new()),
            knobs: ServiceKnobs::default(),
        }
    }

    pub(crate) fn vendor(&self) -> MutexGuard<'_, Vendor> {
        self.vendor.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type SynState = Arc<SynthesizeState>;

/// Synthesize's error body: `{"statusCode", "message", "error"}` (as its 404 "No account map
/// found with id: 1" reads).
pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    json!({
        "statusCode": status.as_u16(),
        "message": message,
        "error": status.canonical_reason().unwrap_or("Error"),
    })
}

fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    reply(status, &error_body(status, message))
}

/// A successful answer wrapped as the SDK's response models are: `{data, message, status}`,
/// `status` the HTTP status as a number.
fn ok(status: StatusCode, message: &str, data: Value) -> Response {
    let body = serde_json::Map::from_iter([
        ("data".to_owned(), data),
        ("message".to_owned(), Value::from(message)),
        ("status".to_owned(), Value::from(status.as_u16())),
    ]);
    reply(status, &Value::Object(body))
}

pub(crate) fn router(state: SynState) -> Router<SynState> {
    Router::new()
        .route("/api/vendor-api", get(vendor_data))
        .route("/api/vendor-api/organization", get(organization))
        .route("/api/vendor-api/service", post(create_service))
        .route(
            "/api/vendor-api/organization/accounts",
            get(list_accounts).post(create_accounts),
        )
        .route(
            "/api/vendor-api/service/{service_id}/count",
            post(post_count),
        )
        .route(
            "/api/vendor-api/organization/status/{status}",
            patch(update_status),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, require_token))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The sandbox does not emulate this Synthesize route",
    )
}

/// `GRADIENT-TOKEN: base64(vendorKey:partnerKey)` on every call; missing or wrong is 401.
async fn require_token(State(_): State<SynState>, request: Request, next: Next) -> Response {
    let Some(token) = request
        .headers()
        .get("GRADIENT-TOKEN")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "GRADIENT-TOKEN header is missing: send base64(vendorApiKey:partnerApiKey)",
        );
    };
    let expected = format!("{SANDBOX_VENDOR_API_KEY}:{SANDBOX_PARTNER_API_KEY}");
    let valid = base64::engine::general_purpose::STANDARD
        .decode(token)
        .is_ok_and(|decoded| decoded == expected.as_bytes());
    if !valid {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid GRADIENT-TOKEN: the vendor or partner API key is wrong",
        );
    }
    next.run(request).await
}

async fn organization(State(syn): State<SynState>) -> Response {
    let vendor = syn.vendor();
    let integration = vendor.integration_json();
    if vendor.shape.organization_wrapped {
        ok(StatusCode::OK, "Integration data", integration)
    } else {
        reply(StatusCode::OK, &integration)
    }
}

async fn vendor_data(State(syn): State<SynState>) -> Response {
    let vendor = syn.vendor();
    ok(StatusCode::OK, "Vendor data", vendor.vendor_json())
}

fn parse_body(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("The request body is not valid JSON: {e}"))
}

fn required_text<'a>(body: &'a Value, field: &str) -> Result<&'a str, String> {
    match body.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("{field} is required")),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

fn optional_text(body: &Value, field: &str) -> Result<String, String> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

fn one_of(value: &str, field: &str, allowed: &[&str]) -> Result<String, String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{field} \"{value}\" is not one of: {}",
            allowed.join(", ")
        ))
    }
}

fn service_from_body(body: &Bytes) -> Result<SandboxService, String> {
    let body = parse_body(body)?;
    Ok(SandboxService {
        id: String::new(),
        name: required_text(&body, "name")?.to_owned(),
        description: optional_text(&body, "description")?,
        category: one_of(
            required_text(&body, "category")?,
            "category",
            SERVICE_CATEGORIES,
        )?,
        subcategory: one_of(
            required_text(&body, "subcategory")?,
            "subcategory",
            SERVICE_SUBCATEGORIES,
        )?,
    })
}

/// Creates a service. A name that already exists is 409, so a client never makes two services
/// it would then look up by name.
async fn create_service(State(syn): State<SynState>, body: Bytes) -> Response {
    let service = match service_from_body(&body) {
        Ok(s) => s,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut vendor = syn.vendor();
    if vendor.services.iter().any(|s| s.name == service.name) {
        return error(
            StatusCode::CONFLICT,
            &format!("A service named \"{}\" already exists", service.name),
        );
    }
    let id = vendor.add_service(service);
    let created = vendor
        .services
        .iter()
        .find(|s| s.id == id)
        .map(|s| vendor.service_json(s))
        .unwrap_or(Value::Null);
    ok(StatusCode::CREATED, "Service created", created)
}

/// The accounts as a bare array `[{name, description, id}]` (the SDK's
/// `GetMappingPropertyResponse[]`), with `isMapped` when the shape says so.
async fn list_accounts(State(syn): State<SynState>) -> Response {
    let vendor = syn.vendor();
    let mut accounts: Vec<Value> = vendor
        .accounts
        .iter()
        .map(|a| vendor.account_json(a))
        .collect();
    accounts.extend(vendor.extra_accounts.iter().cloned());
    reply(StatusCode::OK, &Value::Array(accounts))
}

fn accounts_from_body(body: &Bytes) -> Result<Vec<SandboxAccount>, String> {
    let Value::Array(entries) = parse_body(body)? else {
        return Err("The body must be an array of accounts [{name, description, id}]".into());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let field = |name: &str| match entry.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(format!(
                    "accounts[{i}].{name} is required and must be a non-empty string"
                )),
            };
            Ok(SandboxAccount {
                id: field("id")?,
                name: field("name")?,
                description: optional_text(entry, "description")
                    .map_err(|e| format!("accounts[{i}].{e}"))?,
            })
        })
        .collect()
}

/// Creates accounts from an array: 201 with the accounts as the SDK's
/// `UpdateMappingPropertyResponse[]`. The whole body is checked first (nothing is created when
/// one entry is wrong). An id that already exists is left unchanged (and answered as it is).
async fn create_accounts(State(syn): State<SynState>, body: Bytes) -> Response {
    let parsed = match accounts_from_body(&body) {
        Ok(a) => a,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut vendor = syn.vendor();
    let mut answered = Vec::new();
    for account in parsed {
        match vendor.accounts.iter().find(|a| a.id == account.id) {
            Some(existing) => answered.push(json!({ "name": existing.name, "description": existing.description, "id": existing.id })),
            None => {
                answered.push(json!({ "name": account.name, "description": account.description, "id": account.id }));
                vendor.accounts.push(account);
            }
        }
    }
    reply(StatusCode::CREATED, &Value::Array(answered))
}

fn count_from_body(body: &Bytes) -> Result<(String, u64), String> {
    let body = parse_body(body)?;
    let account_id = match body.get("accountId") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None | Some(Value::Null) if body.get("clientOId").is_some() => {
            return Err(
                "accountId is required: clientOId is deprecated, send accountId instead".into(),
            );
        }
        _ => return Err("accountId is required and must be a non-empty string".into()),
    };
    let unit_count = match body.get("unitCount") {
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => v,
            (None, Some(f)) if f < 0.0 => {
                return Err(format!("unitCount must be 0 or more, not {n}"));
            }
            _ => return Err(format!("unitCount must be a whole number, not {n}")),
        },
        _ => return Err("unitCount must be a number".into()),
    };
    Ok((account_id, unit_count))
}

/// Sets a unit count: `{accountId: string, unitCount: whole number >= 0}`.
async fn post_count(
    State(syn): State<SynState>,
    Path(service_id): Path<String>,
    body: Bytes,
) -> Response {
    let (account_id, unit_count) = match count_from_body(&body) {
        Ok(c) => c,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut vendor = syn.vendor();
    if !vendor.services.iter().any(|s| s.id == service_id) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No service found with id {service_id}"),
        );
    }
    let known = vendor.accounts.iter().any(|a| a.id == account_id);
    if !known || vendor.unmapped.contains(&account_id) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No account map found with id: {account_id}"),
        );
    }
    vendor
        .counts
        .insert((service_id.clone(), account_id.clone()), unit_count);
    vendor.last_synced_at = Some(chrono::Utc::now());
    // Synthesize sets the integration active itself once usage arrives.
    if vendor.status == "pending" {
        vendor.status = "active".into();
    }
    // The SDK's `ResponseDto`: `{status, message}`.
    reply(
        StatusCode::CREATED,
        &json!({ "status": 201, "message": "Unit count set" }),
    )
}

async fn update_status(State(syn): State<SynState>, Path(status): Path<String>) -> Response {
    if !INTEGRATION_STATUSES.contains(&status.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "status \"{status}\" is not one of: {} (case-sensitive)",
                INTEGRATION_STATUSES.join(", ")
            ),
        );
    }
    syn.vendor().status = status.clone();
    ok(
        StatusCode::OK,
        "Status updated",
        json!({ "status": status }),
    )
}
