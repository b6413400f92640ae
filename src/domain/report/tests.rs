use chrono::TimeZone as _;

use super::*;
use crate::domain::sync_plan::LastSentCount;

fn header(id: &str) -> RunHeader {
    RunHeader {
        run_id: id.into(),
        started: Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0).unwrap(),
        kind: "sync".into(),
        dry_run: false,
        profile: "Acme".into(),
    }
}

fn fact(id: i64, name: &str, service: ServiceKind, n: u64) -> CountFact {
    CountFact {
        company_id: id,
        company_name: name.into(),
        service,
        unit_count: n,
        status: CountStatus::Sent,
    }
}

fn facts(id: &str, counts: Vec<CountFact>, last: &[(i64, ServiceKind, u64)]) -> RunFacts {
    RunFacts {
        header: header(id),
        last_sent_before: last
            .iter()
            .map(|&(c, s, n)| {
                (
                    (c, s),
                    LastSentCount {
                        unit_count: n,
                        company_name: format!("Company {c}"),
                    },
                )
            })
            .collect(),
        counts,
        excluded: Vec::new(),
        held: Vec::new(),
        adjusted: Vec::new(),
    }
}

#[test]
fn change_is_new_minus_last_sent_and_a_count_never_sent_counts_as_zero() {
    let r = RunReport::build(&facts(
        "a",
        vec![
            fact(1, "A", ServiceKind::Shared, 3),
            fact(2, "B", ServiceKind::Shared, 0),
        ],
        &[(2, ServiceKind::Shared, 4)],
    ));
    assert_eq!(r.row(1).unwrap().shared.change(), Some(3));
    assert_eq!(r.row(2).unwrap().shared.change(), Some(-4));
    assert_eq!(r.row(1).unwrap().not_shared.change(), None);
    assert_eq!(r.totals.companies_changed, 2);
    assert_eq!((r.totals.shared_new, r.totals.shared_sent), (3, 3));
}

#[test]
fn a_comparison_ignores_companies_whose_counts_are_the_same() {
    let a = RunReport::build(&facts(
        "a",
        vec![
            fact(1, "A", ServiceKind::Shared, 3),
            fact(2, "B", ServiceKind::Shared, 1),
        ],
        &[],
    ));
    let b = RunReport::build(&facts(
        "b",
        vec![
            fact(1, "A", ServiceKind::Shared, 3),
            fact(2, "B", ServiceKind::Shared, 2),
            fact(3, "C", ServiceKind::NotShared, 1),
        ],
        &[],
    ));
    let c = compare(&a, &b);
    assert_eq!(
        c.rows.iter().map(|r| r.company_id).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(
        (c.rows[0].shared_before, c.rows[0].shared_after),
        (Some(1), Some(2))
    );
    let csv = String::from_utf8(comparison_csv(&c).unwrap()).unwrap();
    assert!(csv.starts_with("company_id,company_name,shared_before,shared_after,not_shared_before,not_shared_after,reason\r\n"));
    assert!(csv.contains("3,C,,,,1,\r\n"), "{csv}");
}

#[test]
fn the_page_has_no_script_no_outside_resource_and_escapes_a_hostile_name() {
    let hostile =
        "<script src=\"http://evil.example/x.js\"></script><img src=x onerror=alert(1)> & \"Co\"";
    let r = RunReport::build(&facts(
        "r1\"><script>",
        vec![fact(1, hostile, ServiceKind::Shared, 3)],
        &[],
    ));
    let html = report_html(&r, Some(&compare(&r, &r)));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"));
    assert!(!lower.contains("<img"));
    assert!(!lower.contains("url("), "no CSS resource");
    assert!(!lower.contains("@import"));
    assert!(
        !lower.contains("\"http"),
        "no http resource in any attribute"
    );
    // Every tag is one of the page's own, with only its own attributes: escaped text has no
    // raw `<`, so everything between `<` and `>` is a real tag.
    const TAGS: &[&str] = &[
        "!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "ul", "li",
        "b", "bdi", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "br",
    ];
    const ATTRIBUTES: &[&str] = &["lang", "charset", "class", "rowspan", "colspan"];
    for tag in lower.split('<').skip(1) {
        let inside = tag.split('>').next().unwrap();
        let mut parts = inside.split_whitespace();
        let name = parts.next().unwrap().trim_start_matches('/');
        assert!(TAGS.contains(&name), "tag <{inside}>");
        // A word without `=` goes on a quoted value (`class="n up"`) or is `<!DOCTYPE html>`.
        for attribute in parts.filter(|p| p.contains('=')) {
            let attribute = attribute.split('=').next().unwrap();
            assert!(
                ATTRIBUTES.contains(&attribute),
                "attribute {attribute} in <{inside}>"
            );
        }
    }
    assert!(html.contains(
        "&lt;script src=&quot;http://evil.example/x.js&quot;&gt;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;"
    ));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("@media print"));
    assert!(html.contains("thead { display: table-header-group; }"));
}

#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
    let r = RunReport::build(&facts(
        "r",
        vec![
            fact(1, "=1+1", ServiceKind::Shared, 3),
            fact(2, "@SUM(A1)", ServiceKind::Shared, 0),
        ],
        &[(2, ServiceKind::Shared, 1)],
    ));
    let bytes = report_csv(&r).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][1], "'=1+1");
    assert_eq!(&rows[0][4], "'+3");
    assert_eq!(&rows[1][1], "'@SUM(A1)");
    assert_eq!(&rows[1][4], "'-1");
    assert_eq!(&rows[2][1], "Total");
}

#[test]
fn html_escape_covers_the_five_characters() {
    assert_eq!(
        html_escape("<a href='x'>&\"</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    );
    assert_eq!(html_escape("Ünïcode ✓"), "Ünïcode ✓");
}
