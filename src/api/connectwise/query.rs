//! The counting rule's server-side filter in ConnectWise's query syntax: the `conditions`
//! string and the `fields` projection of `company/configurations`.

use crate::domain::counting::{AssignmentSource, ServerFilter};

/// The `conditions=` filter: the rule's types (and active flag), a superset of what counts.
pub fn conditions(filter: &ServerFilter) -> String {
    let quoted: Vec<String> = filter
        .type_names
        .iter()
        .map(|t| quote_condition_string(t))
        .collect();
    let mut cond = format!("type/name in ({})", quoted.join(","));
    if filter.active_only {
        cond.push_str(" and activeFlag=true");
    }
    cond
}

/// The `fields=` projection: the parts of a record the rule reads.
pub fn projected_fields(filter: &ServerFilter) -> Vec<&'static str> {
    let mut fields = vec![
        "id",
        "type/name",
        "company/id",
        "company/name",
        "contact/name",
    ];
    if filter.active_only {
        fields.push("activeFlag");
    }
    if let Some(source) = filter.assignment_source {
        fields.push(match source {
            AssignmentSource::CustomField => "customFields",
            AssignmentSource::Question => "questions",
        });
    }
    fields
}

/// A ConnectWise conditions string literal: double quotes, with `\` and `"` escaped by a backslash.
pub fn quote_condition_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::counting::{AssignmentField, CountingOptions, CountingRule};

    #[test]
    fn active_only_filters_and_projects_the_active_flag() {
        let rule = CountingRule::new(&CountingOptions {
            active_only: true,
            ..Default::default()
        })
        .unwrap();
        let filter = rule.server_filter();
        assert!(conditions(&filter).ends_with(" and activeFlag=true"));
        assert!(projected_fields(&filter).contains(&"activeFlag"));
    }

    #[test]
    fn type_names_are_quoted_and_escaped() {
        let rule = CountingRule::new(&CountingOptions {
            type_names: vec!["Seat".into(), "Managed \"Device\"".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            conditions(&rule.server_filter()),
            r#"type/name in ("Seat","Managed \"Device\"")"#
        );
    }

    #[test]
    fn an_assignment_field_is_projected() {
        let rule = CountingRule::new(&CountingOptions {
            assignment_field: Some(AssignmentField {
                source: AssignmentSource::CustomField,
                name: "Assignment Type".into(),
            }),
            ..Default::default()
        })
        .unwrap();
        assert!(projected_fields(&rule.server_filter()).contains(&"customFields"));
    }
}
