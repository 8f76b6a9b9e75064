//! SCRAM-SHA-256 verifiers for role passwords, in PostgreSQL's format
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const ITERATIONS: u32 = 4096;

fn hmac(key: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| Error::internal(e.to_string()))?;
    m.update(msg);
    Ok(m.finalize().into_bytes().to_vec())
}

/// The verifier for `password` with `salt`.
pub fn verifier_with_salt(password: &str, salt: &[u8]) -> Result<String> {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, ITERATIONS, &mut salted);
    let client_key = hmac(&salted, b"Client Key")?;
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key")?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key),
        b64.encode(server_key)
    ))
}

/// A verifier with a fresh random salt. A password that already is a
/// verifier is stored as given (as PostgreSQL does).
pub fn verifier(password: &str) -> Result<String> {
    if password.starts_with("SCRAM-SHA-256$") {
        return Ok(password.to_string());
    }
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| Error::internal(format!("random salt: {e}")))?;
    verifier_with_salt(password, &salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_has_postgres_shape() {
        let v = verifier("secret").expect("verifier");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"));
        let again = verifier_with_salt("secret", b"0123456789abcdef").expect("v");
        assert_eq!(
            again,
            verifier_with_salt("secret", b"0123456789abcdef").expect("v")
        );
    }
}
