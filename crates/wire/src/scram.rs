//! The server side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL runs
//! it, working from a stored verifier
//! (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`), so the
//! password itself is never needed. Pure: no I/O, the caller moves the
//! messages (AuthenticationSASLContinue / SASLFinal).
//!
//! pgwire's SCRAM support runs only inside its own StartupHandler flow,
//! which this crate does not use; the exchange is short enough to do here.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::WireError;

pub const MECHANISM: &str = "SCRAM-SHA-256";

/// A parsed PostgreSQL SCRAM verifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Verifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl Verifier {
    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(s: &str) -> Option<Verifier> {
        let rest = s.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let v = Verifier {
            iterations: iterations.parse().ok().filter(|&i| i > 0)?,
            salt: B64.decode(salt).ok()?,
            stored_key: B64.decode(stored).ok()?,
            server_key: B64.decode(server).ok()?,
        };
        (v.stored_key.len() == 32 && v.server_key.len() == 32).then_some(v)
    }

    /// A verifier no password matches, for a role that does not exist or
    /// has no password: the exchange runs as for a real role (with a salt
    /// that is stable per user name) so a client cannot tell which roles
    /// exist, and then fails.
    pub fn mock(user: &str) -> Verifier {
        static KEY: LazyLock<[u8; 16]> = LazyLock::new(rand::random);
        let salt = Sha256::new()
            .chain_update(*KEY)
            .chain_update(user.as_bytes())
            .finalize();
        Verifier {
            iterations: 4096,
            salt: salt[..16].to_vec(),
            stored_key: vec![0; 32],
            server_key: vec![0; 32],
        }
    }
}

/// The exchange after the client's first message.
pub struct Exchange {
    verifier: Verifier,
    /// A mock exchange always fails at the end.
    mock: bool,
    /// The gs2 header the client sent (`n,,` or `y,,`); its final message
    /// must repeat it (base64) in `c=`.
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

fn malformed(detail: impl Into<String>) -> WireError {
    WireError::fatal("08P01", "malformed SCRAM message").with_detail(detail)
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

impl Exchange {
    /// Takes the SASLInitialResponse data (client-first-message) and
    /// returns the exchange and the server-first-message.
    pub fn start(
        verifier: Verifier,
        mock: bool,
        data: &[u8],
    ) -> Result<(Exchange, String), WireError> {
        let msg = std::str::from_utf8(data).map_err(|_| malformed("The message is not UTF-8."))?;
        let (cbind, rest) = msg
            .split_once(',')
            .ok_or_else(|| malformed("Missing the channel binding flag."))?;
        match cbind {
            "n" | "y" => {}
            c if c.starts_with("p=") => {
                return Err(WireError::fatal(
                    "08P01",
                    "channel binding is not supported by this server",
                ))
            }
            _ => return Err(malformed("Unexpected channel-binding flag.")),
        }
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or_else(|| malformed("Missing the authorization identity."))?;
        if !authzid.is_empty() {
            return Err(WireError::fatal(
                "0A000",
                "client uses authorization identity, but it is not supported",
            ));
        }
        let client_nonce = bare
            .split(',')
            .find_map(|attr| attr.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b)))
            .ok_or_else(|| malformed("Missing or invalid nonce."))?;
        if bare.split(',').any(|attr| attr.starts_with("m=")) {
            return Err(malformed("Unsupported mandatory extension."));
        }
        let server_nonce: [u8; 18] = rand::random();
        let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        let exchange = Exchange {
            verifier,
            mock,
            gs2_header: format!("{cbind},{authzid},"),
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok((exchange, server_first))
    }

    /// Checks the client-final-message; on success returns the
    /// server-final-message (`v=<ServerSignature>`). `Ok(None)` means the
    /// proof is wrong (the caller reports 28P01 for the user).
    pub fn finish(&self, data: &[u8]) -> Result<Option<String>, WireError> {
        let msg = std::str::from_utf8(data).map_err(|_| malformed("The message is not UTF-8."))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("Missing the proof."))?;
        let mut attrs = without_proof.split(',');
        let cbind = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or_else(|| malformed("Missing the channel binding."))?;
        if B64.decode(cbind).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(malformed("Unexpected channel binding data."));
        }
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or_else(|| malformed("Missing the nonce."))?;
        if nonce != self.nonce {
            return Err(malformed("Nonce does not match."));
        }
        let proof = B64
            .decode(proof)
            .ok()
            .filter(|p| p.len() == 32)
            .ok_or_else(|| malformed("Malformed proof."))?;

        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&self.verifier.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        let computed: [u8; 32] = Sha256::digest(&client_key).into();
        // Constant time: fold the differences rather than stop at the first.
        let diff = computed
            .iter()
            .zip(&self.verifier.stored_key)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if self.mock || diff != 0 {
            return Ok(None);
        }
        let server_signature = hmac(&self.verifier.server_key, auth_message.as_bytes());
        Ok(Some(format!("v={}", B64.encode(server_signature))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    /// Runs a full exchange with rust-postgres's client implementation.
    fn exchange(password: &str, verifier: &str, mock: bool) -> Result<Option<()>, WireError> {
        let mut client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let verifier = Verifier::parse(verifier).expect("valid verifier");
        let (ex, server_first) = Exchange::start(verifier, mock, client.message())?;
        client
            .update(server_first.as_bytes())
            .expect("client accepts server-first");
        let Some(server_final) = ex.finish(client.message())? else {
            return Ok(None);
        };
        client
            .finish(server_final.as_bytes())
            .expect("client verifies the server signature");
        Ok(Some(()))
    }

    #[test]
    fn accepts_the_right_password_and_proves_itself() {
        let v = postgres_protocol::password::scram_sha_256(b"s3cret");
        assert_eq!(exchange("s3cret", &v, false).unwrap(), Some(()));
    }

    #[test]
    fn rejects_a_wrong_password() {
        let v = postgres_protocol::password::scram_sha_256(b"s3cret");
        assert_eq!(exchange("guess", &v, false).unwrap(), None);
    }

    #[test]
    fn mock_exchange_always_fails() {
        let v = postgres_protocol::password::scram_sha_256(b"s3cret");
        assert_eq!(exchange("s3cret", &v, true).unwrap(), None);
        let mock = Verifier::mock("nobody");
        assert_eq!(mock, Verifier::mock("nobody"), "stable salt per user");
    }

    #[test]
    fn parses_postgres_verifiers() {
        let v = Verifier::parse(
            "SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$WHvwRVbPbFa37qHuEPxzkg9fzwTMlx8F4DPsQXKdR/A=:yiDuPkQc88a6FbaeE9BAM4SMlJeVTcJU3ElN6sk+2Kk=",
        )
        .unwrap();
        assert_eq!(v.iterations, 4096);
        assert_eq!(v.salt, b"saltsaltsalt");
        assert!(Verifier::parse("md5abcdef").is_none());
        assert!(Verifier::parse("SCRAM-SHA-256$x:YQ==$YQ==:YQ==").is_none());
    }

    #[test]
    fn rejects_malformed_client_messages() {
        let v = Verifier::mock("u");
        for bad in [
            &b""[..],
            b"n",
            b"x,,n=,r=abc",
            b"n,,n=",
            b"n,a=bob,n=,r=abc",
            b"\xff",
        ] {
            assert!(Exchange::start(v.clone(), false, bad).is_err(), "{bad:?}");
        }
        let (ex, _) = Exchange::start(v, false, b"n,,n=,r=abc").unwrap();
        for bad in [&b""[..], b"c=biws,r=abc,p=AAAA", b"c=eSws,r=x,p=AA=="] {
            assert!(ex.finish(bad).is_err(), "{bad:?}");
        }
    }
}
