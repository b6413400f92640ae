//! ConnectWise configuration records as the counting rule reads them, parsed leniently page by page.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A `{id, name}` reference as ConnectWise nests it (`type`, `contact`, `status`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NamedRef {
    pub id: Option<i64>,
    pub name: Option<String>,
}

/// The company a configuration belongs to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CompanyRef {
    pub id: Option<i64>,
    pub identifier: Option<String>,
    pub name: Option<String>,
}

/// One custom field on a configuration; its `value` may be any JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CustomField {
    pub id: Option<i64>,
    pub caption: Option<String>,
    pub value: serde_json::Value,
}

/// One configuration question and its answer; the answer may be any JSON.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConfigurationQuestion {
    pub question_id: Option<i64>,
    pub question: Option<String>,
    pub answer: serde_json::Value,
}

/// A configuration as the client parses it: only `id` is required, unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationRecord {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub config_type: Option<NamedRef>,
    #[serde(default)]
    pub company: Option<CompanyRef>,
    #[serde(default)]
    pub contact: Option<NamedRef>,
    #[serde(default)]
    pub status: Option<NamedRef>,
    #[serde(default)]
    pub active_flag: Option<bool>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub custom_fields: Vec<CustomField>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub questions: Vec<ConfigurationQuestion>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl ConfigurationRecord {
    /// A record with just an id, for building records in code (tests, the sandbox generator).
    pub fn with_id(id: i64) -> Self {
        Self {
            id,
            name: None,
            config_type: None,
            company: None,
            contact: None,
            status: None,
            active_flag: None,
            custom_fields: Vec::new(),
            questions: Vec::new(),
        }
    }

    pub fn type_name(&self) -> Option<&str> {
        self.config_type.as_ref()?.name.as_deref()
    }

    pub fn company_id(&self) -> Option<i64> {
        self.company.as_ref()?.id
    }

    pub fn company_name(&self) -> Option<&str> {
        self.company.as_ref()?.name.as_deref()
    }

    pub fn contact_name(&self) -> Option<&str> {
        self.contact.as_ref()?.name.as_deref()
    }
}

/// A record of a page that could not be read as a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct UnparseableRecord {
    /// The record's id when one could be read from it.
    pub id: Option<i64>,
    /// The record's company id when one could be read from it (`company.id`, a number): its
    /// company is then held rather than counted low.
    pub company_id: Option<i64>,
    /// The record's type name when one could be read from it, so a record of a type that does
    /// not count holds nothing.
    pub type_name: Option<String>,
    pub reason: String,
}

/// One page of configurations: the records that parsed and the ones that did not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigurationPage {
    pub records: Vec<ConfigurationRecord>,
    pub unparseable: Vec<UnparseableRecord>,
}

/// The page body as a whole is not a JSON array: nothing on it can be trusted.
#[derive(Debug, thiserror::Error)]
#[error("the configurations page is not a JSON array: {0}")]
pub struct PageParseError(#[from] serde_json::Error);

/// What can still be read from a record that did not parse: each field on its own, so one bad
/// field does not hide the others.
fn probe_unparseable(raw: &str, reason: String) -> UnparseableRecord {
    let value: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
    UnparseableRecord {
        id: value.get("id").and_then(serde_json::Value::as_i64),
        company_id: value
            .pointer("/company/id")
            .and_then(serde_json::Value::as_i64),
        type_name: value
            .pointer("/type/name")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        reason,
    }
}

impl ConfigurationPage {
    /// Parses a page body. One bad record is set aside in `unparseable`; only a body that is not a
    /// JSON array at all is an error.
    pub fn parse(body: &[u8]) -> Result<Self, PageParseError> {
        let raw: Vec<&RawValue> = serde_json::from_slice(body)?;
        let mut page = ConfigurationPage {
            records: Vec::with_capacity(raw.len()),
            unparseable: Vec::new(),
        };
        for item in raw {
            match serde_json::from_str::<ConfigurationRecord>(item.get()) {
                Ok(record) => page.records.push(record),
                Err(err) => page
                    .unparseable
                    .push(probe_unparseable(item.get(), err.to_string())),
            }
        }
        Ok(page)
    }

    pub fn len(&self) -> usize {
        self.records.len() + self.unparseable.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_are_none() {
        let page = ConfigurationPage::parse(
            br#"[{"id":7,"serialNumber":"X","_info":{"a":1},"type":{"id":1,"name":"License"}}]"#,
        )
        .unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.records[0].type_name(), Some("License"));
        assert_eq!(page.records[0].company_id(), None);
        assert!(page.unparseable.is_empty());
    }

    #[test]
    fn one_bad_record_is_set_aside_and_the_rest_parse() {
        let page = ConfigurationPage::parse(
            br#"[{"id":1},{"id":2,"company":"oops"},{"name":"no id"},{"id":4,"customFields":null}]"#,
        )
        .unwrap();
        let ids: Vec<i64> = page.records.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 4]);
        assert_eq!(page.unparseable.len(), 2);
        assert_eq!(page.unparseable[0].id, Some(2));
        assert_eq!(page.unparseable[1].id, None);
    }

    #[test]
    fn an_unparseable_record_keeps_the_company_and_type_it_still_shows() {
        let page = ConfigurationPage::parse(
            br#"[{"id":"x","company":{"id":12},"type":{"name":"License"}},
                 {"id":3,"company":{"id":"12"},"type":{"name":7}},
                 {"id":4,"company":{"id":5},"activeFlag":"yes"}]"#,
        )
        .unwrap();
        let bad = &page.unparseable;
        assert_eq!(bad.len(), 3);
        assert_eq!((bad[0].id, bad[0].company_id), (None, Some(12)));
        assert_eq!(bad[0].type_name.as_deref(), Some("License"));
        assert_eq!((bad[1].id, bad[1].company_id), (Some(3), None));
        assert_eq!(bad[1].type_name, None);
        assert_eq!((bad[2].id, bad[2].company_id), (Some(4), Some(5)));
    }

    #[test]
    fn a_body_that_is_not_an_array_is_an_error() {
        assert!(ConfigurationPage::parse(br#"{"code":"x"}"#).is_err());
        assert!(ConfigurationPage::parse(br#"[{"id":1},"#).is_err());
    }
}
