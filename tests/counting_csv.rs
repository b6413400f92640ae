//! Counting and CSV export end to end: JSON pages as ConnectWise sends them, through the engine,
//! to a CSV file read back with a CSV parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cw_shared_devices::domain::configuration::ConfigurationPage;
use cw_shared_devices::domain::counting::{CountingEngine, CountingOptions, CountingRule};
use cw_shared_devices::domain::csv_export::{CSV_HEADER, CsvDelimiter, write_csv};

fn page_json(ids: std::ops::Range<i64>) -> String {
    let records: Vec<serde_json::Value> = ids
        .map(|id| {
            let company = id % 7;
            serde_json::json!({
                "id": id,
                "name": format!("Device {id}"),
                "type": {"id": 1, "name": if id % 4 == 0 { "Laptop" } else { "License" }},
                "company": {"id": company, "identifier": format!("C{company}"), "name": format!("Company, \"{company}\"")},
                "contact": if id % 3 == 0 { serde_json::json!({"id": 1, "name": "Front Desk (shared)"}) } else { serde_json::Value::Null },
                "activeFlag": true,
                "serialNumber": "SN-1", "_info": {"lastUpdated": "2024-01-01T00:00:00Z"}
            })
        })
        .collect();
    serde_json::to_string(&records).unwrap()
}

#[test]
fn pages_to_csv_file_and_back() {
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let mut engine = CountingEngine::new(rule);
    for start in (0..3000).step_by(1000) {
        let page = ConfigurationPage::parse(page_json(start..start + 1000).as_bytes()).unwrap();
        engine.add_page(&page);
    }
    let result = engine.finish();
    assert_eq!(result.configurations_read, 3000);
    assert_eq!(result.configurations_counted, 2250);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.csv");
    write_csv(
        &result.companies,
        CsvDelimiter::Comma,
        std::fs::File::create(&path).unwrap(),
    )
    .unwrap();

    let mut reader = csv::Reader::from_path(&path).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_HEADER
    );
    let mut total = 0u64;
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let shared: u64 = record[2].parse().unwrap();
        let not_shared: u64 = record[3].parse().unwrap();
        let row_total: u64 = record[4].parse().unwrap();
        assert_eq!(shared + not_shared, row_total);
        assert!(record[1].starts_with("Company, \""));
        total += row_total;
        rows += 1;
    }
    assert_eq!(rows, 7);
    assert_eq!(total, 2250);
}
