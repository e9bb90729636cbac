//! TLS end to end: the real binary reaches an OpenRouter-compatible server over HTTPS with
//! rustls on the ring provider (the build leaves out reqwest's aws-lc-rs default), verifies
//! the server against the roots it is given (`SSL_CERT_FILE`), and refuses a server it
//! cannot verify with one readable line, not a panic.
//!
//! The server is the project's simulator behind a TLS-terminating proxy. The certificates in
//! tests/fixtures/tls were made for this test with openssl (a test CA, and a leaf for
//! localhost and 127.0.0.1 signed by it, valid for 100 years); the CA's key was thrown away.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use codeforge::catalog::Catalog;
use codeforge::simulator::{Behaviour, Simulator};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Accepts TLS on a loopback port and pipes each connection's plain bytes to `backend`.
/// Returns the port and a count of handshakes that completed.
async fn tls_proxy(backend: std::net::SocketAddr) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    codeforge::provider::install_crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("leaf.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(fixture("leaf.key")).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, handshakes)
}

async fn ask_over_tls(home: &Path, port: u16, cert_file: &Path) -> std::process::Output {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_codeforge"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CODEFORGE_HOME", home)
        .env(
            "OPENROUTER_BASE_URL",
            format!("https://localhost:{port}/api/v1"),
        )
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "--model", "kimi-k2", "say hello"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c.env("SSL_CERT_FILE", cert_file);
    tokio::time::timeout(Duration::from_secs(60), c.output())
        .await
        .expect("codeforge hung")
        .unwrap()
}

#[tokio::test]
async fn ask_streams_over_https_from_a_server_it_can_verify() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let (port, handshakes) = tls_proxy(sim.addr()).await;
    let home = tempfile::tempdir().unwrap();
    let out = ask_over_tls(home.path(), port, &fixture("ca.pem")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !out.stdout.is_empty(),
        "no answer over TLS; stderr: {stderr}"
    );
    assert!(stderr.contains("✓ moonshotai/kimi-k2"), "{stderr}");
    assert!(handshakes.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let chats = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/chat/completions"))
        .count();
    assert_eq!(chats, 1, "the completion went through the proxy");
}

/// Runs `ask` against the proxy with these roots; returns its last stderr line after checking
/// that it failed cleanly (exit 1, no panic, no answer, nothing reached the server).
async fn refused_with(cert_file: &Path) -> String {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let (port, _) = tls_proxy(sim.addr()).await;
    let home = tempfile::tempdir().unwrap();
    let out = ask_over_tls(home.path(), port, cert_file).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(sim.requests().is_empty(), "nothing reached the server");
    stderr.lines().last().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_server_signed_by_an_unknown_ca_is_refused_with_one_readable_line() {
    let last = refused_with(&fixture("other-ca.pem")).await;
    assert!(last.starts_with("error: "), "{last}");
    assert!(last.contains("cannot reach https://localhost:"), "{last}");
    assert!(last.contains("UnknownIssuer"), "{last}");
}

#[tokio::test]
async fn no_trusted_roots_at_all_is_said_before_anything_is_sent() {
    // Neither the system's roots nor ours: the file named does not exist.
    let last = refused_with(&fixture("missing.pem")).await;
    assert!(last.starts_with("error: "), "{last}");
    assert!(last.contains("cannot reach https://localhost:"), "{last}");
    assert!(last.contains("certificate"), "{last}");
}

#[tokio::test]
async fn plain_http_needs_no_certificates_at_all() {
    // The demo and a server on this machine speak plain http: a system with no CA
    // certificates (a minimal container) still works, and none are read.
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_codeforge"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CODEFORGE_HOME", home.path())
        .env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .env("SSL_CERT_FILE", fixture("missing.pem"))
        .env("SSL_CERT_DIR", fixture("missing-dir"))
        .args(["ask", "--model", "kimi-k2", "say hello"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!out.stdout.is_empty(), "{stderr}");
}
