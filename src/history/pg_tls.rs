//! PostgreSQL TLS the way libpq reads the URL ([`TlsUrl`]): `sslmode` (`disable`, `allow`,
//! `prefer`, `require`, `verify-ca`, `verify-full`) and `sslrootcert` (a PEM file, or
//! `system`). tokio-postgres knows only the first modes and no `sslrootcert`, and the store
//! verified every certificate against the Mozilla roots, so `prefer` and `require` failed
//! the handshake against a server with a private or self-signed certificate (RDS, Cloud SQL,
//! an internal CA) and `verify-full` was refused as invalid (issue 21, finding 9).
//!
//! As in libpq: `prefer` and `require` encrypt without checking the certificate, unless an
//! `sslrootcert` is given (then `require` checks the chain, as `verify-ca`); `verify-ca`
//! checks the chain; `verify-full` the chain and that it names the host. The chain is checked
//! against the system's roots (`SSL_CERT_FILE`, else the Debian/Ubuntu bundle), the Mozilla
//! roots, and the `sslrootcert` file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::workspace::read::read_capped;

/// Where Debian and Ubuntu keep the system's roots (`ca-certificates`).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Largest certificate bundle read.
const BUNDLE_CAP: u64 = 16 * 1024 * 1024;

/// What the URL asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    /// `allow` and `prefer`: TLS when the server offers it.
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A URL split into what tokio-postgres reads and what this module does.
#[derive(Debug)]
pub struct TlsUrl {
    /// The URL with `sslrootcert` removed and `sslmode` in tokio-postgres's words.
    pub url: String,
    pub mode: Mode,
    /// `sslrootcert`: `None` for none or `system`.
    pub root_cert: Option<PathBuf>,
}

impl TlsUrl {
    /// Splits `url`; an unknown `sslmode` is an error that names the accepted ones. The
    /// messages never quote the URL (it holds the password).
    pub fn parse(url: &str) -> Result<TlsUrl, String> {
        let mut parsed =
            url::Url::parse(url).map_err(|_| "the URL is not a valid PostgreSQL connection URL")?;
        let mut mode = Mode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            match &*key {
                "sslmode" => {
                    mode = match &*value {
                        "disable" => Mode::Disable,
                        "allow" | "prefer" => Mode::Prefer,
                        "require" => Mode::Require,
                        "verify-ca" => Mode::VerifyCa,
                        "verify-full" => Mode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode `{}` is not one of disable, allow, prefer, require, verify-ca, verify-full",
                                other.chars().take(40).collect::<String>()
                            ));
                        }
                    };
                }
                "sslrootcert" if value != "system" => {
                    root_cert = Some(PathBuf::from(&*value));
                }
                "sslrootcert" => {}
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        let wire = match mode {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => "require",
        };
        kept.push(("sslmode".into(), wire.into()));
        parsed.query_pairs_mut().clear().extend_pairs(kept);
        if mode == Mode::Require && root_cert.is_some() {
            mode = Mode::VerifyCa;
        }
        Ok(TlsUrl {
            url: parsed.to_string(),
            mode,
            root_cert,
        })
    }

    /// The connector for this URL's mode and roots.
    pub fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
            Mode::Disable | Mode::Prefer | Mode::Require => Arc::new(Unverified(provider)),
            Mode::VerifyCa | Mode::VerifyFull => {
                let roots = Arc::new(roots(self.root_cert.as_deref())?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| format!("TLS: {e}"))?;
                if self.mode == Mode::VerifyCa {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

/// The Mozilla roots, the system's, and the certificates of `root_cert`.
fn roots(root_cert: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUNDLE));
    if let Ok(pem) = read_capped(&system, BUNDLE_CAP) {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok);
        roots.add_parsable_certificates(certs);
    }
    if let Some(file) = root_cert {
        let pem = read_capped(file, BUNDLE_CAP)
            .map_err(|e| format!("sslrootcert {} cannot be read: {e}", file.display()))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("sslrootcert {} is not PEM: {e}", file.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "sslrootcert {} holds no usable certificate",
                file.display()
            ));
        }
    }
    Ok(roots)
}

/// `prefer` and `require` without `sslrootcert`: the connection is encrypted and the
/// handshake's signatures checked, but any certificate is taken, as libpq does.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

/// `verify-ca`: the chain must lead to a trusted root; the name in it is not compared with
/// the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_modes_are_read_and_told_to_tokio_postgres_in_its_words() {
        let split = TlsUrl::parse(
            "postgres://u:pw@db:5432/h?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x",
        )
        .expect("parses");
        assert_eq!(split.mode, Mode::VerifyFull);
        assert_eq!(split.root_cert.as_deref(), Some(Path::new("/ca.pem")));
        assert_eq!(
            split.url,
            "postgres://u:pw@db:5432/h?application_name=x&sslmode=require"
        );
        let require =
            TlsUrl::parse("postgres://db/h?sslmode=require&sslrootcert=/ca.pem").expect("parses");
        assert_eq!(
            require.mode,
            Mode::VerifyCa,
            "libpq: a root file makes require check"
        );
        let default = TlsUrl::parse("postgres://db/h?sslrootcert=system").expect("parses");
        assert_eq!((default.mode, default.root_cert), (Mode::Prefer, None));
        let error = TlsUrl::parse("postgres://u:s3cret@db/h?sslmode=bogus").expect_err("bad");
        assert!(
            error.contains("sslmode `bogus`") && !error.contains("s3cret"),
            "{error}"
        );
    }

    #[test]
    fn an_unreadable_root_file_is_a_one_line_error_naming_it() {
        let split = TlsUrl::parse("postgres://db/h?sslmode=verify-full&sslrootcert=/no/such.pem")
            .expect("parses");
        let error = split.connector().err().expect("refused");
        assert!(
            error.starts_with("sslrootcert /no/such.pem cannot be read"),
            "{error}"
        );
    }
}
