//! The TLS connector every connection uses (pool, LISTEN, single connections).
//!
//! `sslmode` in the URL decides whether TLS is used, as libpq does: `disable` never,
//! `prefer` (the default) when the server offers it, `require` always. What is
//! trusted is decided here: with a CA file (`database.ca_file`, or `sslrootcert`
//! in the URL) the server's chain must lead to that CA and its certificate must name
//! the host we dialled; without one the channel is encrypted but the server is not
//! authenticated, as libpq's `require` does. Supabase signs its database
//! certificates with its own CA, which no system trust store holds, so the CA file
//! is how a deployment gets verification at all.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Builds the connector: verifying against `ca_file` when given, encrypting only
/// otherwise.
pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect> {
    // ring, named explicitly: no process-wide default provider to install or race on.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("configuring TLS")?;
    let config = match ca_file {
        Some(path) => builder
            .with_root_certificates(roots(path)?)
            .with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

fn roots(path: &Path) -> Result<RootCertStore> {
    let shown = path.display();
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading the CA file {shown} (database.ca_file)"))?;
    for certificate in certificates {
        let certificate = certificate
            .with_context(|| format!("reading the CA file {shown}: not a PEM certificate"))?;
        roots
            .add(certificate)
            .with_context(|| format!("the CA file {shown} holds an unusable certificate"))?;
    }
    if roots.is_empty() {
        bail!("the CA file {shown} (database.ca_file) holds no PEM certificate");
    }
    Ok(roots)
}

/// `sslmode=require` without a CA: any certificate is accepted, but the handshake
/// signatures are still checked, so the session is really keyed to that
/// certificate.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why the server's certificate was refused, in words an operator can act on;
/// `None` when `error` is not a certificate problem.
pub fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let rustls_error = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(problem)) = rustls_error {
            return Some(match problem {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    "the server's TLS certificate is not trusted: it was not issued by the CA in \
                     database.ca_file (unknown issuer). Use the CA that signed the server's \
                     certificate (on Supabase: Database settings, SSL configuration)"
                        .to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the server's TLS certificate does not name the host in the database URL \
                     (host name mismatch): connect by the name the certificate was issued for"
                        .to_string()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's TLS certificate has expired".to_string()
                }
                other => format!("the server's TLS certificate was refused: {other:?}"),
            });
        }
        cause = e.source();
    }
    None
}
