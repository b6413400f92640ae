//! https for the sandbox: the certificate and key it is given (made by a test set-up from a test
//! CA that set-up trusts), a rustls acceptor, and a listener axum serves over, so tests can
//! complete real TLS handshakes with verification on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// What the sandbox serves https with.
#[derive(Clone)]
pub struct SandboxTls {
    /// The server certificate, then any intermediates (PEM).
    pub certificate_chain_pem: String,
    /// The server certificate's private key (PEM, PKCS#8 or SEC1).
    pub private_key_pem: String,
    /// The host name the sandbox's URLs use; the certificate should name it (a test of a wrong
    /// host name gives one it does not). `127.0.0.1` unless set.
    pub host: String,
}

impl SandboxTls {
    /// A certificate chain and key for the sandbox's URLs on `127.0.0.1`.
    pub fn new(
        certificate_chain_pem: impl Into<String>,
        private_key_pem: impl Into<String>,
    ) -> Self {
        Self {
            certificate_chain_pem: certificate_chain_pem.into(),
            private_key_pem: private_key_pem.into(),
            host: "127.0.0.1".to_owned(),
        }
    }
}

impl std::fmt::Debug for SandboxTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxTls")
            .field("host", &self.host)
            .field("private_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The rustls acceptor for a certificate chain and key, with the crypto reqwest's TLS uses.
pub(crate) fn acceptor(tls: &SandboxTls) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.certificate_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the certificate chain is not PEM: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate chain holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(tls.private_key_pem.as_bytes())
        .map_err(|e| format!("the private key is not PEM: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A client that connects and never finishes the handshake is dropped after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts TCP connections and hands axum the ones whose TLS handshake succeeded. Handshakes
/// run side by side, so one slow or refusing client (the wrong-host and expired-certificate
/// tests) never holds up the others.
pub(crate) struct TlsListener {
    incoming: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    pub(crate) fn new(
        tcp: TcpListener,
        acceptor: TlsAcceptor,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (ready, incoming) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = shutdown.cancelled() => return,
                    accepted = tcp.accept() => accepted,
                };
                let (stream, addr) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::debug!("sandbox: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let (acceptor, ready) = (acceptor.clone(), ready.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            // The receiver is gone only when the server stopped.
                            ready.send((tls, addr)).await.ok();
                        }
                        // The client refused the certificate, or was not speaking TLS: that is
                        // its own connection's end, not the server's.
                        Ok(Err(e)) => tracing::debug!("sandbox: TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!("sandbox: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            incoming,
            local_addr,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // The accept loop ended with the shutdown: no more connections will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
