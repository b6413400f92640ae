//! The counting rule of `counting.md`: which configurations count, which are shared, per company.
//!
//! Records stream in page by page; the result never depends on record order or page split.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::configuration::{ConfigurationPage, ConfigurationRecord, UnparseableRecord};

/// Where the optional assignment type is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentSource {
    /// A custom field, matched by its caption.
    #[default]
    CustomField,
    /// A configuration question, matched by its question text.
    Question,
}

/// The assignment-type option: a named custom field or question whose value says
/// `Shared` or `Not Shared`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AssignmentField {
    pub source: AssignmentSource,
    pub name: String,
}

/// The counting options a profile can set. Defaults reproduce the original sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CountingOptions {
    /// Type names that count (exact, case-insensitive, no trimming).
    pub type_names: Vec<String>,
    /// Text or wildcard pattern (`*`, `?`) matched against the contact name, case-insensitively.
    pub shared_pattern: String,
    /// Match the pattern's text only as a whole word, and not after "not"/"non"/"no".
    pub shared_whole_word: bool,
    /// Read the assignment type from this custom field or question when set.
    pub assignment_field: Option<AssignmentField>,
    /// Count only configurations whose `activeFlag` is true.
    pub active_only: bool,
}

pub const DEFAULT_TYPE_NAME: &str = "License";
pub const DEFAULT_SHARED_PATTERN: &str = "*shared*";

impl Default for CountingOptions {
    fn default() -> Self {
        Self {
            type_names: vec![DEFAULT_TYPE_NAME.to_owned()],
            shared_pattern: DEFAULT_SHARED_PATTERN.to_owned(),
            shared_whole_word: false,
            assignment_field: None,
            active_only: false,
        }
    }
}

/// Counting options that cannot be applied, in words that name the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Type names: give at least one configuration type name (for example \"License\")")]
    NoTypeNames,
    #[error("Type names: an empty name cannot match any configuration type; remove it")]
    EmptyTypeName,
    #[error(
        "Shared pattern: the pattern is empty; use a text such as \"shared\" or a wildcard such as \"*shared*\""
    )]
    EmptyPattern,
    #[error(
        "Shared pattern: \"{0}\" has no letters or digits to match as a whole word; add some text or turn off \"whole word\""
    )]
    NoWordInPattern(String),
    #[error(
        "Assignment type: the custom field or question name is empty; type its name or turn the option off"
    )]
    EmptyAssignmentName,
}

/// The company counts of one customer company: one table row and one CSV line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyCounts {
    pub company_id: i64,
    pub company_name: String,
    pub shared_devices: u64,
    pub not_shared_devices: u64,
    pub total_devices: u64,
}

/// What was read but not counted, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReport {
    /// Configurations that would count but have no company id.
    pub no_company: u64,
    /// Records that did not parse.
    pub unparseable: u64,
    /// Ids of unparseable records, where the id could be read (sorted, at most a few shown).
    pub unparseable_ids: Vec<i64>,
    /// Extra copies of a configuration id already seen (each id is counted once).
    pub duplicate_ids: u64,
}

impl SkipReport {
    pub fn is_empty(&self) -> bool {
        self.no_company == 0 && self.unparseable == 0 && self.duplicate_ids == 0
    }

    /// The warnings shown above the table, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.no_company > 0 {
            out.push(format!(
                "{} configuration{} of a counted type {} no company and {} not counted.",
                self.no_company,
                plural(self.no_company),
                if self.no_company == 1 { "has" } else { "have" },
                if self.no_company == 1 { "was" } else { "were" },
            ));
        }
        if self.unparseable > 0 {
            let ids = if self.unparseable_ids.is_empty() {
                String::new()
            } else {
                let shown: Vec<String> = self
                    .unparseable_ids
                    .iter()
                    .take(10)
                    .map(i64::to_string)
                    .collect();
                format!(" (ids {})", shown.join(", "))
            };
            out.push(format!(
                "{} configuration record{} could not be read and {} skipped{ids}.",
                self.unparseable,
                plural(self.unparseable),
                if self.unparseable == 1 { "was" } else { "were" },
            ));
        }
        if self.duplicate_ids > 0 {
            out.push(format!(
                "{} duplicate configuration id{} (records moved while paging) counted once.",
                self.duplicate_ids,
                plural(self.duplicate_ids),
            ));
        }
        out
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The result of counting a whole tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountingResult {
    /// One row per company with at least one counted configuration, sorted by company id.
    pub companies: Vec<CompanyCounts>,
    pub skipped: SkipReport,
    /// Distinct configuration ids read (parsed records).
    pub configurations_read: u64,
    /// Configurations counted under a company.
    pub configurations_counted: u64,
}

impl CountingResult {
    pub fn totals(&self) -> (u64, u64, u64) {
        self.companies.iter().fold((0, 0, 0), |(s, n, t), c| {
            (
                s + c.shared_devices,
                n + c.not_shared_devices,
                t + c.total_devices,
            )
        })
    }
}

/// A shared-pattern matcher compiled from the options.
#[derive(Debug, Clone)]
enum SharedMatcher {
    /// Plain text or `*text*`: the name contains the text.
    Contains(String),
    /// A wildcard pattern matched against the whole name.
    Wildcard(Vec<char>),
    /// Whole word: the pattern (without outer `*`) matches a run of whole words, not after a
    /// negating word.
    WholeWord(Vec<char>),
}

const NEGATIONS: [&str; 3] = ["not", "non", "no"];

impl SharedMatcher {
    fn new(pattern: &str, whole_word: bool) -> Result<Self, RuleError> {
        if pattern.is_empty() {
            return Err(RuleError::EmptyPattern);
        }
        let lower = pattern.to_lowercase();
        if whole_word {
            let inner = lower.trim_matches('*');
            if !inner.chars().any(char::is_alphanumeric) {
                return Err(RuleError::NoWordInPattern(pattern.to_owned()));
            }
            return Ok(SharedMatcher::WholeWord(inner.chars().collect()));
        }
        let has_wildcard = lower.contains(['*', '?']);
        if !has_wildcard {
            return Ok(SharedMatcher::Contains(lower));
        }
        let inner = lower.strip_prefix('*').and_then(|s| s.strip_suffix('*'));
        match inner {
            Some(text) if !text.is_empty() && !text.contains(['*', '?']) => {
                Ok(SharedMatcher::Contains(text.to_owned()))
            }
            _ => Ok(SharedMatcher::Wildcard(lower.chars().collect())),
        }
    }

    fn matches(&self, name: &str) -> bool {
        // The common case, on every counted record: no lowercase copy of an ASCII name.
        if let SharedMatcher::Contains(text) = self
            && name.is_ascii()
            && text.is_ascii()
        {
            return contains_ignore_ascii_case(name, text);
        }
        let lower = name.to_lowercase();
        match self {
            SharedMatcher::Contains(text) => lower.contains(text.as_str()),
            SharedMatcher::Wildcard(pattern) => {
                let chars: Vec<char> = lower.chars().collect();
                wildcard_match(pattern, &chars)
            }
            SharedMatcher::WholeWord(pattern) => whole_word_match(pattern, &lower),
        }
    }
}

/// Whether `haystack` contains `lower_needle` (already lowercase), ignoring ASCII case.
fn contains_ignore_ascii_case(haystack: &str, lower_needle: &str) -> bool {
    let needle = lower_needle.as_bytes();
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// `*` matches any run of characters, `?` exactly one; everything else itself.
fn wildcard_match(pattern: &[char], text: &[char]) -> bool {
    // Iterative matcher with single-star backtracking: linear for the patterns users write.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn whole_word_match(pattern: &[char], lower_name: &str) -> bool {
    let chars: Vec<char> = lower_name.chars().collect();
    let is_word = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric());
    let starts: Vec<usize> = (0..chars.len())
        .filter(|&i| is_word(i) && (i == 0 || !is_word(i - 1)))
        .collect();
    let ends: Vec<usize> = (1..=chars.len())
        .filter(|&j| is_word(j - 1) && !is_word(j))
        .collect();
    for &start in &starts {
        if preceded_by_negation(&chars, start) {
            continue;
        }
        for &end in ends.iter().filter(|&&e| e > start) {
            if wildcard_match(pattern, &chars[start..end]) {
                return true;
            }
        }
    }
    false
}

/// Whether the word before `start` is "not", "non" or "no" ("Not Shared", "non-shared").
fn preceded_by_negation(chars: &[char], start: usize) -> bool {
    let mut end = start;
    while end > 0 && !chars[end - 1].is_alphanumeric() {
        end -= 1;
    }
    let mut begin = end;
    while begin > 0 && chars[begin - 1].is_alphanumeric() {
        begin -= 1;
    }
    if begin == end {
        return false;
    }
    let word: String = chars[begin..end].iter().collect();
    NEGATIONS.contains(&word.as_str())
}

/// Case-insensitive equality without trimming and without allocating.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// What an assignment-type value says, when it says anything.
fn assignment_value(value: &serde_json::Value) -> Option<bool> {
    let text = value.as_str()?;
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["shared"] => Some(true),
        ["not", "shared"] | ["notshared"] => Some(false),
        _ => None,
    }
}

/// The counting rule, compiled from `CountingOptions`.
#[derive(Debug, Clone)]
pub struct CountingRule {
    options: CountingOptions,
    shared: SharedMatcher,
}

/// What one configuration contributes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Contribution {
    /// Not of a counted type (or inactive with "active only").
    NotCounted,
    /// Of a counted type but without a company id.
    NoCompany,
    Counted {
        company_id: i64,
        /// Shared between the records of a company: one allocation per distinct name, not per record.
        company_name: Option<Arc<str>>,
        shared: bool,
    },
}

impl CountingRule {
    pub fn new(options: &CountingOptions) -> Result<Self, RuleError> {
        if options.type_names.is_empty() {
            return Err(RuleError::NoTypeNames);
        }
        if options.type_names.iter().any(String::is_empty) {
            return Err(RuleError::EmptyTypeName);
        }
        if let Some(field) = &options.assignment_field
            && field.name.trim().is_empty()
        {
            return Err(RuleError::EmptyAssignmentName);
        }
        let shared = SharedMatcher::new(&options.shared_pattern, options.shared_whole_word)?;
        Ok(Self {
            options: options.clone(),
            shared,
        })
    }

    pub fn options(&self) -> &CountingOptions {
        &self.options
    }

    /// Whether a configuration is of a counted type (and active, with "active only").
    pub fn counts(&self, record: &ConfigurationRecord) -> bool {
        let Some(type_name) = record.type_name() else {
            return false;
        };
        if !self
            .options
            .type_names
            .iter()
            .any(|t| eq_ignore_case(t, type_name))
        {
            return false;
        }
        !self.options.active_only || record.active_flag == Some(true)
    }

    /// Whether a counted configuration is shared.
    pub fn is_shared(&self, record: &ConfigurationRecord) -> bool {
        if let Some(decided) = self.assignment(record) {
            return decided;
        }
        record
            .contact_name()
            .is_some_and(|name| self.shared.matches(name))
    }

    fn assignment(&self, record: &ConfigurationRecord) -> Option<bool> {
        let field = self.options.assignment_field.as_ref()?;
        let wanted = field.name.trim();
        let named = |n: &Option<String>| {
            n.as_deref()
                .is_some_and(|n| eq_ignore_case(n.trim(), wanted))
        };
        match field.source {
            AssignmentSource::CustomField => record
                .custom_fields
                .iter()
                .filter(|f| named(&f.caption))
                .find_map(|f| assignment_value(&f.value)),
            AssignmentSource::Question => record
                .questions
                .iter()
                .filter(|q| named(&q.question))
                .find_map(|q| assignment_value(&q.answer)),
        }
    }

    fn contribution(
        &self,
        record: &ConfigurationRecord,
        names: &mut HashSet<Arc<str>>,
    ) -> Contribution {
        if !self.counts(record) {
            return Contribution::NotCounted;
        }
        match record.company_id() {
            None => Contribution::NoCompany,
            Some(company_id) => Contribution::Counted {
                company_id,
                company_name: record.company_name().map(|name| match names.get(name) {
                    Some(known) => known.clone(),
                    None => {
                        let name: Arc<str> = Arc::from(name);
                        names.insert(name.clone());
                        name
                    }
                }),
                shared: self.is_shared(record),
            },
        }
    }

    /// The rule in words, shown above the table.
    pub fn describe(&self) -> String {
        let o = &self.options;
        let types: Vec<String> = o.type_names.iter().map(|t| format!("\"{t}\"")).collect();
        let mut text = format!(
            "Counts configurations whose type is {} (any case, exactly as written){}, per company.",
            types.join(" or "),
            if o.active_only {
                " and that are active"
            } else {
                " (active or not)"
            }
        );
        if let Some(field) = &o.assignment_field {
            let what = match field.source {
                AssignmentSource::CustomField => "custom field",
                AssignmentSource::Question => "configuration question",
            };
            text.push_str(&format!(
                " Shared or not is decided by the {what} \"{}\" when it says Shared or Not Shared; otherwise",
                field.name
            ));
        } else {
            text.push_str(" A device is");
        }
        let shared = if o.shared_whole_word {
            format!(
                " shared when its contact name holds \"{}\" as whole words, not after \"not\", \"non\" or \"no\" (any case).",
                o.shared_pattern.trim_matches('*')
            )
        } else {
            format!(
                " shared when its contact name matches \"{}\" (any case).",
                o.shared_pattern
            )
        };
        text.push_str(&shared);
        text.push_str(" No contact means not shared.");
        text
    }

    /// What the rule asks the server for: a superset of the configurations that count, and
    /// which parts of a record it reads.
    pub fn server_filter(&self) -> ServerFilter {
        ServerFilter {
            type_names: self.options.type_names.clone(),
            active_only: self.options.active_only,
            assignment_source: self.options.assignment_field.as_ref().map(|f| f.source),
        }
    }
}

/// What a counting rule asks the server for, as plain data; the transport writes it in the
/// service's own query syntax. The server compares type names case-insensitively and ignores
/// trailing spaces, so it may send `"License "`: the rule is applied again on every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFilter {
    /// Configurations of these types only.
    pub type_names: Vec<String>,
    /// Active configurations only.
    pub active_only: bool,
    /// The assignment field the rule reads, if any (its values must be sent).
    pub assignment_source: Option<AssignmentSource>,
}

/// Counts configurations as they stream in, page by page.
#[derive(Debug)]
pub struct CountingEngine {
    rule: CountingRule,
    by_id: HashMap<i64, Contribution>,
    company_names: HashSet<Arc<str>>,
    duplicates: u64,
    unparseable: Vec<Option<i64>>,
}

impl CountingEngine {
    pub fn new(rule: CountingRule) -> Self {
        Self {
            rule,
            by_id: HashMap::new(),
            company_names: HashSet::new(),
            duplicates: 0,
            unparseable: Vec::new(),
        }
    }

    pub fn rule(&self) -> &CountingRule {
        &self.rule
    }

    /// Adds one parsed record. A repeated id is counted once: of two differing copies the same one
    /// wins whatever the order, so paging can never change a count.
    pub fn add(&mut self, record: &ConfigurationRecord) {
        let contribution = self.rule.contribution(record, &mut self.company_names);
        match self.by_id.entry(record.id) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(contribution);
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => {
                self.duplicates += 1;
                if contribution > *slot.get() {
                    slot.insert(contribution);
                }
            }
        }
    }

    pub fn add_unparseable(&mut self, record: &UnparseableRecord) {
        self.unparseable.push(record.id);
    }

    /// Adds a whole page.
    pub fn add_page(&mut self, page: &ConfigurationPage) {
        for record in &page.records {
            self.add(record);
        }
        for bad in &page.unparseable {
            self.add_unparseable(bad);
        }
    }

    /// Distinct configuration ids read so far.
    pub fn configurations_read(&self) -> u64 {
        self.by_id.len() as u64
    }

    /// Records read that did not parse (their ids are not in `configurations_read`).
    pub fn unparseable_read(&self) -> u64 {
        self.unparseable.len() as u64
    }

    pub fn finish(self) -> CountingResult {
        struct Acc {
            shared: u64,
            total: u64,
            name_from_id: i64,
            name: Option<Arc<str>>,
        }
        let mut companies: BTreeMap<i64, Acc> = BTreeMap::new();
        let mut no_company = 0;
        let mut counted = 0;
        for (config_id, contribution) in &self.by_id {
            match contribution {
                Contribution::NotCounted => {}
                Contribution::NoCompany => no_company += 1,
                Contribution::Counted {
                    company_id,
                    company_name,
                    shared,
                } => {
                    counted += 1;
                    let acc = companies.entry(*company_id).or_insert(Acc {
                        shared: 0,
                        total: 0,
                        name_from_id: *config_id,
                        name: company_name.clone(),
                    });
                    acc.total += 1;
                    if *shared {
                        acc.shared += 1;
                    }
                    if *config_id < acc.name_from_id {
                        acc.name_from_id = *config_id;
                        acc.name = company_name.clone();
                    }
                }
            }
        }
        let mut unparseable_ids: Vec<i64> = self.unparseable.iter().flatten().copied().collect();
        unparseable_ids.sort_unstable();
        unparseable_ids.dedup();
        CountingResult {
            companies: companies
                .into_iter()
                .map(|(company_id, acc)| CompanyCounts {
                    company_id,
                    company_name: acc.name.map(|n| n.to_string()).unwrap_or_default(),
                    shared_devices: acc.shared,
                    not_shared_devices: acc.total - acc.shared,
                    total_devices: acc.total,
                })
                .collect(),
            skipped: SkipReport {
                no_company,
                unparseable: self.unparseable.len() as u64,
                unparseable_ids,
                duplicate_ids: self.duplicates,
            },
            configurations_read: self.by_id.len() as u64,
            configurations_counted: counted,
        }
    }
}

/// Counts a complete set of records in one go.
pub fn count_records<'a>(
    rule: &CountingRule,
    records: impl IntoIterator<Item = &'a ConfigurationRecord>,
) -> CountingResult {
    let mut engine = CountingEngine::new(rule.clone());
    for record in records {
        engine.add(record);
    }
    engine.finish()
}

#[cfg(test)]
mod tests;
