//! The window, driven through egui_kittest on the demo: a company name holding escape sequences
//! and bidi controls is drawn cleaned, and the export's Excel choice writes the byte-order mark
//! (and nothing else changes).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use cw_shared_devices::domain::csv_export::CsvDelimiter;
use egui_kittest::kittest::Queryable;

use common::window::{demo_harness, step_until};

const EVIL_NAME: &str = "Evil\u{1b}[2J Corp\u{202E}gpj.exe";
const CLEANED: &str = "Evil\u{FFFD}[2J Corp\u{FFFD}gpj.exe";

#[test]
fn names_are_drawn_cleaned_and_the_excel_choice_writes_the_byte_order_mark() {
    let (mut h, env) = demo_harness();
    let csv_path = env.csv_path.clone();
    let sandbox = h.state().demo_sandbox().unwrap().handle();
    let configurations = sandbox.configurations();
    let first = configurations
        .iter()
        .find(|c| {
            c.config_type
                .as_ref()
                .is_some_and(|t| t.name.as_deref() == Some("License"))
        })
        .unwrap();
    let company = first.company.as_ref().unwrap().id;
    for c in configurations
        .iter()
        .filter(|c| c.company.as_ref().is_some_and(|co| co.id == company))
    {
        sandbox.modify_configuration(c.id, |c| {
            if let Some(co) = c.company.as_mut() {
                co.name = EVIL_NAME.to_owned();
            }
        });
    }

    h.get_by_label("Preview").click();
    step_until(&mut h, Duration::from_secs(30), "the preview", |h| {
        !h.state().preview.running && h.state().preview.table.is_some()
    });
    h.run_steps(2);
    assert!(
        h.query_by_label(CLEANED).is_some(),
        "the cleaned name is not drawn"
    );
    assert!(
        h.query_by_label(EVIL_NAME).is_none(),
        "the raw name is drawn"
    );

    h.get_by_label("For Excel").click();
    h.run_steps(2);
    h.get_by_label("Export CSV...").click();
    common::window::wait_for_export(&mut h);
    let bytes = std::fs::read(&csv_path).unwrap();
    // The table's rows, in the table's order.
    let companies = common::window::preview_table(&h).companies_in_table_order(false);
    let mut plain = Vec::new();
    cw_shared_devices::domain::csv_export::write_csv_in_order(
        &companies,
        CsvDelimiter::Comma,
        &mut plain,
    )
    .unwrap();
    let plain = String::from_utf8(plain).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    assert_eq!(&bytes[3..], plain.as_bytes());
    // The CSV keeps the name as ConnectWise has it: it is data, not terminal output.
    assert!(plain.contains(EVIL_NAME));
}
