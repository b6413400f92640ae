//! Several tenants in one run, the command as a process: three profiles, each on its own
//! sandbox, one of them pointing at a ConnectWise that is not there. `sync --all-profiles`
//! syncs the two that work (each with its own journal), reports the third as failed without
//! stopping, prints one summary table and exits with the worst status; `--profiles A,B` runs
//! just those; `preview --all-profiles` prints each table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cw_shared_devices::sandbox::{SANDBOX_CLIENT_ID, SANDBOX_COMPANY_ID, Sandbox, SandboxConfig};

use common::command::{Home, Run, run};
use common::tenant::{direct_default_count, held_counts};

struct Rig {
    home: Home,
    acme: Sandbox,
    globex: Sandbox,
}

fn create_profile(home: &Home, name: &str, cw_api_url: &str, synthesize_url: &str) {
    let mut cmd = home.bare_no_color();
    cmd.args([
        "profile",
        "create",
        name,
        "--company-id",
        SANDBOX_COMPANY_ID,
    ])
    .args(["--client-id", SANDBOX_CLIENT_ID])
    .args([
        "--cw-api-url",
        cw_api_url,
        "--synthesize-url",
        synthesize_url,
    ]);
    let created = run(cmd);
    assert_eq!(created.code, Some(0), "{created:?}");
}

/// A loopback port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v4_6_release/apis/3.0")
}

impl Rig {
    fn new() -> Self {
        let rig = Self {
            home: Home::new(),
            acme: Sandbox::start_in_background(SandboxConfig {
                seed: 1,
                ..SandboxConfig::default()
            })
            .unwrap(),
            globex: Sandbox::start_in_background(SandboxConfig {
                seed: 2,
                companies: 12,
                configurations: 150,
                ..SandboxConfig::default()
            })
            .unwrap(),
        };
        create_profile(
            &rig.home,
            "Acme",
            rig.acme.cw_api_url().as_str(),
            rig.acme.synthesize_url().as_str(),
        );
        // Down: its ConnectWise refuses connections; its Synthesize is Acme's (never reached).
        create_profile(
            &rig.home,
            "Down Tenant",
            &closed_port_url(),
            rig.acme.synthesize_url().as_str(),
        );
        create_profile(
            &rig.home,
            "Globex",
            rig.globex.cw_api_url().as_str(),
            rig.globex.synthesize_url().as_str(),
        );
        rig
    }

    fn cmd(&self, args: &[&str]) -> Run {
        let mut cmd = self.home.cmd_no_color();
        cmd.args(args);
        run(cmd)
    }
}

/// The summary row of a tenant: its cells split on runs of spaces.
fn row<'a>(stdout: &'a str, tenant: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(tenant))
        .unwrap_or_else(|| panic!("no summary row for {tenant} in:\n{stdout}"));
    line[tenant.len()..]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

fn expected_posts(sandbox: &Sandbox) -> usize {
    direct_default_count(sandbox)
        .companies
        .iter()
        .map(|c| usize::from(c.shared_devices > 0) + usize::from(c.not_shared_devices > 0))
        .sum()
}

#[test]
fn sync_all_profiles_completes_the_others_when_one_fails() {
    let rig = Rig::new();
    let r = rig.cmd(&["sync", "--all-profiles"]);
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    // Each tenant in turn, in name order, the failing one in the middle.
    let order: Vec<usize> = ["== Acme", "== Down Tenant", "== Globex"]
        .iter()
        .map(|h| {
            r.stderr
                .find(h)
                .unwrap_or_else(|| panic!("{h} not in {}", r.stderr))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", r.stderr);
    assert!(r.stderr.contains("error: "), "{}", r.stderr);
    // Both working tenants' Synthesize now hold their counts.
    for sandbox in [&rig.acme, &rig.globex] {
        assert_eq!(held_counts(sandbox).len(), expected_posts(sandbox));
    }
    let header = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Tenant"))
        .unwrap_or_else(|| panic!("no summary table in:\n{}", r.stdout));
    let cells: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(cells, ["Tenant", "Outcome", "Sent", "Held", "Failed"]);
    let acme = row(&r.stdout, "Acme");
    assert_eq!(acme[0], "done (exit 0)", "{acme:?}");
    assert_eq!(acme[1], expected_posts(&rig.acme).to_string(), "{acme:?}");
    assert_eq!(&acme[2..], ["0", "0"], "{acme:?}");
    let globex = row(&r.stdout, "Globex");
    assert_eq!(globex[0], "done (exit 0)", "{globex:?}");
    assert_eq!(
        globex[1],
        expected_posts(&rig.globex).to_string(),
        "{globex:?}"
    );
    let down = row(&r.stdout, "Down Tenant");
    assert_eq!(down, ["failed (exit 1)", "-", "-", "-"], "{down:?}");
    assert!(
        r.stdout.contains("3 tenant(s), 1 not done; exit status 1"),
        "{}",
        r.stdout
    );
    // One journal per tenant that ran.
    let journals = std::fs::read_dir(rig.home.data_dir().join("journal").join("tenants"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .count();
    assert_eq!(journals, 2);

    // Again: nothing changed, both done again, the failure as before.
    let again = rig.cmd(&["sync", "--all-profiles"]);
    assert_eq!(again.code, Some(1), "{}", again.stderr);
    assert_eq!(row(&again.stdout, "Acme")[0], "done (exit 0)");
}

#[test]
fn profiles_runs_just_those_and_preview_prints_each_table() {
    let rig = Rig::new();
    let r = rig.cmd(&["sync-usage", "--profiles", "Globex,Acme", "--dry-run"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("== Down Tenant"), "{}", r.stderr);
    // In the order given.
    assert!(r.stderr.find("== Globex").unwrap() < r.stderr.find("== Acme").unwrap());
    assert!(
        r.stdout.contains("2 tenant(s), 0 not done; exit status 0"),
        "{}",
        r.stdout
    );
    assert!(held_counts(&rig.acme).is_empty(), "a dry run sent counts");

    let p = rig.cmd(&["preview", "--all-profiles"]);
    assert_eq!(p.code, Some(1), "{}{}", p.stdout, p.stderr);
    assert_eq!(
        p.stdout.matches("Company ID  Company").count(),
        2,
        "{}",
        p.stdout
    );
    assert_eq!(row(&p.stdout, "Acme"), ["done (exit 0)", "-", "-", "-"]);
    assert_eq!(row(&p.stdout, "Down Tenant")[0], "failed (exit 1)");

    // A profile that does not exist is that tenant's configuration error; the others still run.
    let r = rig.cmd(&["preview", "--profiles", "Acme,Nobody"]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "Nobody")[0], "configuration error (exit 2)");
    assert_eq!(row(&r.stdout, "Acme")[0], "done (exit 0)");
}

#[test]
fn several_profiles_refuse_what_cannot_be_shared() {
    let rig = Rig::new();
    for (args, field) in [
        (&["sync", "--all-profiles", "--json"][..], "--json"),
        (&["preview", "--all-profiles", "--csv", "out.csv"], "--csv"),
        (
            &["sync", "--all-profiles", "--profiles", "Acme"],
            "--all-profiles and --profiles",
        ),
        (
            &["sync", "--profile", "Acme", "--all-profiles"],
            "--profile and --all-profiles",
        ),
        (
            &["authenticate", "--all-profiles"],
            "only preview, sync and sync-usage",
        ),
        (
            &["sync", "--profiles", "Acme,,Globex"],
            "--profiles: an empty name",
        ),
    ] {
        let r = rig.cmd(args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(field),
            "{args:?}: {field} not in {}",
            r.stderr
        );
    }
    assert!(held_counts(&rig.acme).is_empty());
}
