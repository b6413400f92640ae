//! Real TLS handshakes: the sandbox serves https with certificates from a test CA made here, the
//! command trusts that CA through `CW_SHARED_DEVICES_CA_FILE` (verification stays on), preview and
//! sync complete; an untrusted CA, a wrong host name and an expired certificate fail with the
//! words the command and the window use for TLS failures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use cw_shared_devices::api::connectwise::{
    ConnectWiseClient, ConnectWiseSettings, ConnectWiseTarget,
};
use cw_shared_devices::api::error::{Service, TransportError};
use cw_shared_devices::api::synthesize::{SynthesizeClient, SynthesizeSettings};
use cw_shared_devices::domain::counting::{CountingOptions, CountingRule};
use cw_shared_devices::engine::preview::fetch_counts;
use cw_shared_devices::sandbox::{Sandbox, SandboxConfig, SandboxTls};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use tokio_util::sync::CancellationToken;

use common::command::{Home, Run, run, url_args};
use common::tenant::{connectwise_credentials, direct_count, synthesize_credentials};

/// A certificate authority made for one test, and the certificates it signs.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// Which server certificate to make.
#[derive(Clone, Copy)]
enum Leaf<'a> {
    /// Valid now, for these names.
    For(&'a [&'a str]),
    /// For 127.0.0.1, but expired in 2021.
    Expired,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "cw-shared-devices test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate and its key, signed by this CA.
    fn leaf(&self, leaf: Leaf<'_>) -> SandboxTls {
        let names: Vec<String> = match leaf {
            Leaf::For(names) => names.iter().map(|n| (*n).to_owned()).collect(),
            Leaf::Expired => vec!["127.0.0.1".to_owned()],
        };
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "cw-shared-devices sandbox");
        if matches!(leaf, Leaf::Expired) {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        SandboxTls::new(cert.pem(), key.serialize_pem())
    }
}

struct Env {
    sandbox: Sandbox,
    home: Home,
    ca_file: PathBuf,
}

impl Env {
    /// A sandbox serving https with `tls`; `trusted` is the CA the command is told to trust.
    fn new(tls: SandboxTls, trusted: &TestCa) -> Self {
        let sandbox = Sandbox::start_in_background_tls(SandboxConfig::default(), tls).unwrap();
        let home = Home::new();
        let ca_file = home.path().join("test-ca.pem");
        std::fs::write(&ca_file, trusted.pem()).unwrap();
        Self {
            sandbox,
            home,
            ca_file,
        }
    }

    /// The command with private folders, the sandbox's keys, the sandbox's https URLs and the
    /// test CA trusted.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.cmd_no_color();
        cmd.env("CW_SHARED_DEVICES_CA_FILE", &self.ca_file)
            .args(args)
            .args(url_args(&self.sandbox));
        cmd
    }
}

#[test]
fn preview_and_sync_complete_over_https_with_the_test_ca_trusted() {
    let ca = TestCa::new();
    let env = Env::new(ca.leaf(Leaf::For(&["127.0.0.1", "localhost"])), &ca);
    assert_eq!(env.sandbox.cw_site_url().scheme(), "https");
    assert_eq!(env.sandbox.synthesize_url().scheme(), "https");

    let preview = run(env.cmd(&["preview", "--json"]));
    assert_eq!(preview.code, Some(0), "{}", preview.stderr);
    let value: serde_json::Value = serde_json::from_str(&preview.stdout).unwrap();
    assert!(!value["companies"].as_array().unwrap().is_empty());

    let sync = run(env.cmd(&["sync"]));
    assert_eq!(sync.code, Some(0), "{}{}", sync.stdout, sync.stderr);
    assert!(
        !env.sandbox.handle().last_counts().is_empty(),
        "counts were posted over https"
    );
    let auth = run(env.cmd(&["authenticate"]));
    assert_eq!(auth.code, Some(0), "{}{}", auth.stdout, auth.stderr);
    assert!(
        auth.stdout.contains("ConnectWise: OK") && auth.stdout.contains("Synthesize: OK"),
        "{}",
        auth.stdout
    );
}

/// The failure words of both sides, as `authenticate` prints them.
fn assert_tls_failure_words(r: &Run) {
    assert_eq!(r.code, Some(1), "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.matches(" failed (TLS: ").count(),
        2,
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("ConnectWise: FAILED at company lookup: the secure connection to 127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("an on-premise server needs a certificate this machine trusts"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Synthesize: FAILED: the secure connection to 127.0.0.1:"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_certificate_from_an_untrusted_ca_fails_in_tls_words() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let env = Env::new(ca.leaf(Leaf::For(&["127.0.0.1"])), &other);
    assert_tls_failure_words(&run(env.cmd(&["authenticate"])));
    let preview = run(env.cmd(&["preview"]));
    assert_eq!(preview.code, Some(1));
    assert!(
        preview
            .stderr
            .contains("the secure connection to 127.0.0.1:"),
        "{}",
        preview.stderr
    );
}

#[test]
fn a_wrong_host_name_fails_in_tls_words() {
    let ca = TestCa::new();
    let env = Env::new(ca.leaf(Leaf::For(&["cw.example.com"])), &ca);
    let r = run(env.cmd(&["authenticate"]));
    assert_tls_failure_words(&r);
    assert!(
        r.stdout.to_lowercase().contains("not valid for"),
        "{}",
        r.stdout
    );
    let sync = run(env.cmd(&["sync"]));
    assert_eq!(sync.code, Some(1));
    assert!(
        sync.stderr.contains("the secure connection to 127.0.0.1:"),
        "{}",
        sync.stderr
    );
    assert!(env.sandbox.handle().synthesize_requests().is_empty());
}

#[test]
fn an_expired_certificate_fails_in_tls_words() {
    let ca = TestCa::new();
    let env = Env::new(ca.leaf(Leaf::Expired), &ca);
    let r = run(env.cmd(&["authenticate"]));
    assert_tls_failure_words(&r);
    assert!(r.stdout.to_lowercase().contains("expired"), "{}", r.stdout);
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_configuration_error_naming_the_file() {
    let ca = TestCa::new();
    let env = Env::new(ca.leaf(Leaf::For(&["127.0.0.1"])), &ca);
    std::fs::write(&env.ca_file, "not a certificate").unwrap();
    let r = run(env.cmd(&["preview"]));
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("Extra CA certificates file") && r.stderr.contains("test-ca.pem"),
        "{}",
        r.stderr
    );
}

/// The clients themselves, as the window uses them: the extra root in their settings, and the
/// TLS error variants the window shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_trust_the_extra_root_and_name_tls_failures() {
    let ca = TestCa::new();
    let sandbox = Sandbox::start_tls(SandboxConfig::default(), ca.leaf(Leaf::For(&["127.0.0.1"])))
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let cw_settings = |pem: Option<String>| {
        let mut s = ConnectWiseSettings::new(
            ConnectWiseTarget::Site(sandbox.cw_site_url()),
            connectwise_credentials(),
        );
        s.http.extra_root_certificates_pem = pem;
        s.http.max_retries = 0;
        s
    };
    let syn_settings = |pem: Option<String>| {
        let mut s =
            SynthesizeSettings::new(sandbox.synthesize_url().as_str(), synthesize_credentials())
                .unwrap();
        s.http.extra_root_certificates_pem = pem;
        s
    };
    let rule = CountingRule::new(&CountingOptions::default()).unwrap();
    let trusted = ConnectWiseClient::new(cw_settings(Some(ca.pem()))).unwrap();
    let outcome = fetch_counts(&trusted, &rule, &|_| {}, &cancel)
        .await
        .unwrap();
    assert_eq!(
        outcome.counts.companies,
        direct_count(&sandbox, &rule).companies
    );
    let synth = SynthesizeClient::new(syn_settings(Some(ca.pem()))).unwrap();
    assert!(synth.authenticate(&cancel).await.unwrap().status.is_some());

    let untrusted = ConnectWiseClient::new(cw_settings(None)).unwrap();
    let err = untrusted.discover(&cancel).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Tls {
                service: Service::ConnectWise,
                ..
            }
        ),
        "{err:?}"
    );
    let err = SynthesizeClient::new(syn_settings(None))
        .unwrap()
        .authenticate(&cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Tls {
                service: Service::Synthesize,
                ..
            }
        ),
        "{err:?}"
    );
}
