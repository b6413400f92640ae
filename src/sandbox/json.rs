//! A small JSON writer that honours the `fields=` projection while it writes, so a page is
//! serialised straight from typed records without building `serde_json::Value`s.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

/// The `fields=` projection as a tree: `company/id,company/name` keeps `company` with two children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Projection {
    /// Lower-cased field name, and `None` when the whole field was asked for.
    children: Vec<(String, Option<Projection>)>,
}

impl Projection {
    /// Parses `fields=`; `None` when empty (the whole record). Unknown names are simply absent
    /// from the output, as on the real server.
    pub(crate) fn parse(fields: &str) -> Option<Projection> {
        let mut root = Projection::default();
        for path in fields.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut node = &mut root;
            let parts: Vec<String> = path
                .split('/')
                .map(|p| p.trim().to_ascii_lowercase())
                .collect();
            for (i, part) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                let index = match node.children.iter().position(|(n, _)| n == part) {
                    Some(index) => index,
                    None => {
                        node.children
                            .push((part.clone(), Some(Projection::default())));
                        node.children.len() - 1
                    }
                };
                if last {
                    node.children[index].1 = None;
                    break;
                }
                match &mut node.children[index].1 {
                    Some(child) => node = child,
                    // The whole field was already asked for: a sub-path adds nothing.
                    None => break,
                }
            }
        }
        (!root.children.is_empty()).then_some(root)
    }

    /// `None`: leave the field out; `Some(None)`: all of it; `Some(Some(p))`: only `p`.
    fn child(&self, name: &str) -> Option<Option<&Projection>> {
        self.children
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| p.as_ref())
    }
}

/// Appends a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes one JSON object field by field, skipping the fields the projection leaves out.
pub(crate) struct ObjectWriter<'o, 'p> {
    out: &'o mut String,
    projection: Option<&'p Projection>,
    first: bool,
}

impl<'o, 'p> ObjectWriter<'o, 'p> {
    pub(crate) fn begin(out: &'o mut String, projection: Option<&'p Projection>) -> Self {
        out.push('{');
        Self {
            out,
            projection,
            first: true,
        }
    }

    pub(crate) fn end(self) {
        self.out.push('}');
    }

    /// Writes the key when the field is wanted; returns its sub-projection.
    fn key(&mut self, name: &str) -> Option<Option<&'p Projection>> {
        let sub = match self.projection {
            None => None,
            Some(p) => p.child(name)?,
        };
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, name);
        self.out.push(':');
        Some(sub)
    }

    pub(crate) fn str(&mut self, name: &str, value: &str) {
        if self.key(name).is_some() {
            push_json_str(self.out, value);
        }
    }

    /// A text computed only when the projection keeps the field.
    pub(crate) fn str_with(&mut self, name: &str, value: impl FnOnce() -> String) {
        if self.key(name).is_some() {
            push_json_str(self.out, &value());
        }
    }

    /// ConnectWise leaves null fields out of its records.
    pub(crate) fn opt_str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    pub(crate) fn int(&mut self, name: &str, value: i64) {
        if self.key(name).is_some() {
            let _ = write!(self.out, "{value}");
        }
    }

    pub(crate) fn float(&mut self, name: &str, value: f64) {
        if self.key(name).is_some() {
            let _ = write!(self.out, "{value:.2}");
        }
    }

    pub(crate) fn bool(&mut self, name: &str, value: bool) {
        if self.key(name).is_some() {
            self.out.push_str(if value { "true" } else { "false" });
        }
    }

    pub(crate) fn date(&mut self, name: &str, value: DateTime<Utc>) {
        if self.key(name).is_some() {
            push_json_str(self.out, &value.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
    }

    pub(crate) fn opt_date(&mut self, name: &str, value: Option<DateTime<Utc>>) {
        if let Some(value) = value {
            self.date(name, value);
        }
    }

    pub(crate) fn json(&mut self, name: &str, value: &serde_json::Value) {
        if self.key(name).is_some() {
            self.out.push_str(&value.to_string());
        }
    }

    /// A nested object, written by `fill` with its own projection.
    pub(crate) fn object(&mut self, name: &str, fill: impl FnOnce(&mut ObjectWriter<'_, 'p>)) {
        if let Some(sub) = self.key(name) {
            let mut inner = ObjectWriter::begin(self.out, sub);
            fill(&mut inner);
            inner.end();
        }
    }

    /// An array of objects, each written by `fill` under the field's projection.
    pub(crate) fn array<T>(
        &mut self,
        name: &str,
        items: &[T],
        mut fill: impl FnMut(&T, &mut ObjectWriter<'_, 'p>),
    ) {
        if let Some(sub) = self.key(name) {
            self.out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let mut inner = ObjectWriter::begin(self.out, sub);
                fill(item, &mut inner);
                inner.end();
            }
            self.out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write(fields: &str) -> serde_json::Value {
        let projection = Projection::parse(fields);
        let mut out = String::new();
        let mut w = ObjectWriter::begin(&mut out, projection.as_ref());
        w.int("id", 7);
        w.str("name", "a \"b\"\n\u{1}");
        w.object("company", |c| {
            c.int("id", 3);
            c.str("name", "Acme");
        });
        w.array("customFields", &[1, 2], |n, o| {
            o.int("id", *n);
            o.str("caption", "x");
        });
        w.end();
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn everything_without_fields_and_only_the_asked_paths_with_them() {
        let all = write("");
        assert_eq!(all["name"], "a \"b\"\n\u{1}");
        assert_eq!(all["company"]["name"], "Acme");
        let some = write("id, Company/ID,customfields/caption");
        assert_eq!(
            some,
            serde_json::json!({"id":7,"company":{"id":3},"customFields":[{"caption":"x"},{"caption":"x"}]})
        );
        assert_eq!(write("company,company/id")["company"]["name"], "Acme");
        assert_eq!(write("nothing"), serde_json::json!({}));
    }
}
