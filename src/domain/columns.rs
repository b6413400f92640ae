//! The columns of the counts table, once for every place that shows it: the CSV export (its
//! header is the columns' keys, a contract users' scripts rely on), the terminal table, the
//! command's `--json` and the window's table. A new column is one more entry in
//! [`COUNT_COLUMNS`].

use super::counting::CompanyCounts;

/// What a column holds, which decides how it is aligned, sorted, guarded and totalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// The company id: right-aligned, totals row says "Total".
    CompanyId,
    /// The company name: left-aligned, cleaned for display, totals row counts the companies.
    CompanyName,
    /// A device count: right-aligned, summed in the totals row.
    Count,
}

/// One cell's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Id(i64),
    Text(&'a str),
    Count(u64),
}

impl Cell<'_> {
    /// The cell as text (names as they are; callers clean or guard them for their medium).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Id(id) => id.to_string().into(),
            Cell::Text(text) => (*text).into(),
            Cell::Count(n) => n.to_string().into(),
        }
    }
}

/// One column of the counts table.
#[derive(Debug, Clone, Copy)]
pub struct CountColumn {
    /// The CSV header cell and the JSON field name.
    pub key: &'static str,
    /// The heading in the window.
    pub heading: &'static str,
    /// The heading in the terminal table (narrow).
    pub short_heading: &'static str,
    pub kind: ColumnKind,
    /// The row's value in this column.
    pub value: for<'a> fn(&'a CompanyCounts) -> Cell<'a>,
}

impl CountColumn {
    /// The count of a [`ColumnKind::Count`] column; `None` for the others.
    pub fn count(&self, row: &CompanyCounts) -> Option<u64> {
        match (self.value)(row) {
            Cell::Count(n) => Some(n),
            _ => None,
        }
    }
}

/// The columns, in the order of the CSV header.
pub const COUNT_COLUMNS: [CountColumn; 5] = [
    CountColumn {
        key: "company_id",
        heading: "Company id",
        short_heading: "Company ID",
        kind: ColumnKind::CompanyId,
        value: |c| Cell::Id(c.company_id),
    },
    CountColumn {
        key: "company_name",
        heading: "Company name",
        short_heading: "Company",
        kind: ColumnKind::CompanyName,
        value: |c| Cell::Text(&c.company_name),
    },
    CountColumn {
        key: "shared_devices",
        heading: "Shared",
        short_heading: "Shared",
        kind: ColumnKind::Count,
        value: |c| Cell::Count(c.shared_devices),
    },
    CountColumn {
        key: "not_shared_devices",
        heading: "Not shared",
        short_heading: "Not shared",
        kind: ColumnKind::Count,
        value: |c| Cell::Count(c.not_shared_devices),
    },
    CountColumn {
        key: "total_devices",
        heading: "Total",
        short_heading: "Total",
        kind: ColumnKind::Count,
        value: |c| Cell::Count(c.total_devices),
    },
];

/// The sums of the count columns over `rows`, one per column (`None` for the others).
pub fn column_totals<'a>(
    rows: impl IntoIterator<Item = &'a CompanyCounts>,
) -> [Option<u64>; COUNT_COLUMNS.len()] {
    let mut totals = COUNT_COLUMNS.map(|c| (c.kind == ColumnKind::Count).then_some(0u64));
    for row in rows {
        for (total, column) in totals.iter_mut().zip(&COUNT_COLUMNS) {
            if let (Some(total), Some(n)) = (total.as_mut(), column.count(row)) {
                *total += n;
            }
        }
    }
    totals
}

/// A row as JSON: the columns' keys and values, in column order.
#[derive(Debug, Clone, Copy)]
pub struct RowJson<'a>(pub &'a CompanyCounts);

impl serde::Serialize for RowJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(COUNT_COLUMNS.len()))?;
        for column in &COUNT_COLUMNS {
            match (column.value)(self.0) {
                Cell::Id(id) => map.serialize_entry(column.key, &id)?,
                Cell::Text(text) => map.serialize_entry(column.key, text)?,
                Cell::Count(n) => map.serialize_entry(column.key, &n)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_row_serializes_as_the_counts_do() {
        let row = CompanyCounts {
            company_id: 7,
            company_name: "Acme".into(),
            shared_devices: 1,
            not_shared_devices: 2,
            total_devices: 3,
        };
        assert_eq!(
            serde_json::to_string(&RowJson(&row)).unwrap(),
            serde_json::to_string(&row).unwrap()
        );
        assert_eq!(
            column_totals([&row, &row]),
            [None, None, Some(2), Some(4), Some(6)]
        );
    }
}
