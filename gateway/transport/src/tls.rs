//! rustls configuration: server identity from PEM files, client trust roots.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::{TransportConfig, TransportError};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(path: &Path, reason: impl ToString) -> TransportError {
    TransportError::TlsFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

async fn read_file(path: &Path) -> Result<Vec<u8>, TransportError> {
    tokio::fs::read(path).await.map_err(|e| tls_err(path, e))
}

async fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem = read_file(path).await?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(path, format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

async fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    let pem = read_file(path).await?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| tls_err(path, format!("invalid PEM: {e}")))?
        .ok_or_else(|| tls_err(path, "no PRIVATE KEY block found"))
}

/// The gateway's own certificate chain and key, if configured.
pub(crate) struct Identity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

pub(crate) async fn load_identity(
    cfg: &TransportConfig,
) -> Result<Option<Identity>, TransportError> {
    match (&cfg.tls_cert_pem, &cfg.tls_key_pem) {
        (Some(cert), Some(key)) => Ok(Some(Identity {
            certs: load_certs(cert).await?,
            key: load_key(key).await?,
        })),
        (None, None) => Ok(None),
        (Some(cert), None) => Err(tls_err(cert, "certificate given without tls_key_pem")),
        (None, Some(key)) => Err(tls_err(key, "key given without tls_cert_pem")),
    }
}

pub(crate) fn server_config(
    id: &Identity,
    cfg: &TransportConfig,
) -> Result<Arc<ServerConfig>, TransportError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::TlsConfig(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(id.certs.clone(), id.key.clone_key())
        .map_err(|e| {
            let path = cfg.tls_cert_pem.as_deref().unwrap_or(Path::new("?"));
            tls_err(path, format!("certificate and key do not match: {e}"))
        })?;
    Ok(Arc::new(config))
}

/// Client side of outbound TLS: trusts `tls_ca_pem`; presents our own
/// certificate when we have one (SIP trunks commonly want mutual TLS).
pub(crate) async fn client_config(
    id: Option<&Identity>,
    cfg: &TransportConfig,
) -> Result<Arc<ClientConfig>, TransportError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::TlsConfig(e.to_string()))?;
    let builder = if cfg.tls_accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider())))
    } else {
        let mut roots = RootCertStore::empty();
        if let Some(path) = &cfg.tls_ca_pem {
            for cert in load_certs(path).await? {
                roots
                    .add(cert)
                    .map_err(|e| tls_err(path, format!("unusable CA certificate: {e}")))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match id {
        Some(id) => builder
            .with_client_auth_cert(id.certs.clone(), id.key.clone_key())
            .map_err(|e| TransportError::TlsConfig(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Skips certificate validation but still checks handshake signatures.
/// For tests and lab setups only (`tls_accept_invalid_certs`).
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCert {
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
