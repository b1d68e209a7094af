//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side, with the
//! credential formula the CLI shares when it creates users.
//!
//! The exchange is Kafka's: client-first (`n,,n=user,r=nonce`), server-first with the
//! credential's own salt and iteration count, client-final with the proof, and the
//! server-final carrying the server signature. Channel binding is refused (`y`/`p`
//! headers), as Kafka refuses it. The `tokenauth=true` extension (a delegation token's
//! id as the user) is told to the credential lookup ([`ScramServer::step_with`]).
//! Failures return a reason for the broker log; the client only ever gets Kafka's
//! generic message, so nobody learns which users exist.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Kafka's smallest and largest accepted iteration counts (ScramMechanism).
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

/// A SCRAM mechanism, with Kafka's `ScramMechanism` type codes (1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn type_code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_type_code(code: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL
            .into_iter()
            .find(|m| m.type_code() == code)
    }

    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut m = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// RFC 5802's SaltedPassword: PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// What the broker keeps of a SCRAM user (Kafka's `ScramCredential`): never the
/// password, only the salt, the iteration count and the two derived keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl ScramCredential {
    /// From the salted password an AlterUserScramCredentials upsertion carries.
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }
}

impl ScramCredential {
    /// Whether `password` is this credential's password: the salted password is
    /// recomputed from the stored salt and iterations and its keys compared in constant
    /// time (for the web console's login, which gets the password itself).
    pub fn matches_password(&self, mechanism: ScramMechanism, password: &str) -> bool {
        let Ok(iterations) = u32::try_from(self.iterations) else {
            return false;
        };
        let salted = mechanism.salted_password(password.as_bytes(), &self.salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        let server_key = mechanism.hmac(&salted, b"Server Key");
        constant_time_eq(&mechanism.hash(&client_key), &self.stored_key)
            & constant_time_eq(&server_key, &self.server_key)
    }
}

/// Random bytes for salts and nonces, from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// One step of the server side.
#[derive(Debug, PartialEq, Eq)]
pub enum ScramStep {
    /// Send this (server-first) and wait for the client-final.
    Continue(Vec<u8>),
    /// Authenticated as `user`; send the server-final.
    Done { server_final: Vec<u8>, user: String },
}

/// The server side of one SCRAM exchange.
pub struct ScramServer {
    mechanism: ScramMechanism,
    server_nonce: String,
    state: State,
    /// The client-first carried `tokenauth=true`.
    token_auth: bool,
}

enum State {
    AwaitingClientFirst,
    AwaitingClientFinal {
        user: String,
        gs2_header: String,
        nonce: String,
        auth_message_prefix: String,
        credential: ScramCredential,
    },
    Finished,
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism) -> ScramServer {
        // Letters and digits only, as Kafka's nonces are (librdkafka 2.0 mangles a
        // server nonce holding base64's `+` or `/`, and its client-final fails).
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let nonce = random_bytes(32)
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        ScramServer::with_nonce(mechanism, nonce)
    }

    /// With a fixed server nonce (the RFC test vectors).
    pub fn with_nonce(mechanism: ScramMechanism, server_nonce: String) -> ScramServer {
        ScramServer {
            mechanism,
            server_nonce,
            state: State::AwaitingClientFirst,
            token_auth: false,
        }
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Whether the client authenticates with a delegation token (`tokenauth=true`).
    pub fn token_auth(&self) -> bool {
        self.token_auth
    }

    /// Like [`ScramServer::step`], but `lookup` also learns whether the client asked
    /// for delegation-token authentication (`tokenauth=true`).
    pub fn step_with(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str, bool) -> Option<ScramCredential>,
    ) -> Result<ScramStep, String> {
        let message =
            std::str::from_utf8(message).map_err(|_| "SCRAM message is not UTF-8".to_string())?;
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingClientFirst => self.client_first(message, lookup),
            State::AwaitingClientFinal {
                user,
                gs2_header,
                nonce,
                auth_message_prefix,
                credential,
            } => self.client_final(
                message,
                user,
                &gs2_header,
                &nonce,
                &auth_message_prefix,
                &credential,
            ),
            State::Finished => Err("SCRAM exchange already finished".into()),
        }
    }

    /// Feeds one client message. `lookup` finds a user's credential for this mechanism.
    /// An `Err` is the reason for the log; the exchange is over.
    pub fn step(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<ScramStep, String> {
        self.step_with(
            message,
            |user, token| {
                if token {
                    None
                } else {
                    lookup(user)
                }
            },
        )
    }

    fn client_first(
        &mut self,
        message: &str,
        lookup: impl FnOnce(&str, bool) -> Option<ScramCredential>,
    ) -> Result<ScramStep, String> {
        // gs2-header: cbind-flag "," [authzid] ","
        let (flag, rest) = message
            .split_once(',')
            .ok_or("client-first has no GS2 header")?;
        match flag {
            "n" => {}
            "y" | "p" => return Err("channel binding is not supported".into()),
            _ if flag.starts_with("p=") => return Err("channel binding is not supported".into()),
            _ => return Err(format!("bad GS2 channel-binding flag `{flag}`")),
        }
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or("client-first has no authzid field")?;
        let mut attrs = bare.split(',');
        let user = attrs
            .next()
            .and_then(|a| a.strip_prefix("n="))
            .ok_or("client-first has no n= (user name)")?;
        let user = unescape_name(user)?;
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or("client-first has no r= (nonce)")?;
        if client_nonce.is_empty() || !client_nonce.chars().all(|c| ('!'..='~').contains(&c)) {
            return Err("client nonce is empty or not printable".into());
        }
        for ext in attrs {
            match ext.split_once('=') {
                Some(("tokenauth", v)) if v.eq_ignore_ascii_case("true") => {
                    self.token_auth = true;
                }
                Some((k, _)) if k.len() == 1 => {
                    return Err(format!("unexpected SCRAM attribute `{k}` in client-first"))
                }
                Some(_) => {}
                None => return Err("malformed SCRAM extension in client-first".into()),
            }
        }
        if !authzid.is_empty() {
            let authzid = authzid
                .strip_prefix("a=")
                .ok_or("malformed authzid in GS2 header")?;
            if unescape_name(authzid)? != user {
                return Err(format!(
                    "authorization id differs from user name {user:?} (Kafka requires them equal)"
                ));
            }
        }
        let credential = lookup(&user, self.token_auth).ok_or_else(|| {
            if self.token_auth {
                format!("unknown or expired delegation token {user:?}")
            } else {
                format!("unknown SCRAM user {user:?}")
            }
        })?;
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        let gs2_header = format!("{flag},{authzid},");
        self.state = State::AwaitingClientFinal {
            user,
            gs2_header,
            nonce,
            auth_message_prefix: format!("{bare},{server_first}"),
            credential,
        };
        Ok(ScramStep::Continue(server_first.into_bytes()))
    }

    fn client_final(
        &mut self,
        message: &str,
        user: String,
        gs2_header: &str,
        nonce: &str,
        auth_message_prefix: &str,
        credential: &ScramCredential,
    ) -> Result<ScramStep, String> {
        let (without_proof, proof) = message
            .rsplit_once(",p=")
            .ok_or("client-final has no p= (proof)")?;
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or("client-final has no c= (channel binding)")?;
        if B64.decode(binding).ok().as_deref() != Some(gs2_header.as_bytes()) {
            return Err("client-final channel binding does not match the GS2 header".into());
        }
        let final_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or("client-final has no r= (nonce)")?;
        // Kafka checks only that the nonce ends with the exchange's (ScramSaslServer):
        // librdkafka 2.0 (Debian's kcat) sends its client nonce once more in front.
        if !final_nonce.ends_with(nonce) {
            return Err("client-final nonce does not end with the exchange's nonce".into());
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| "client-final proof is not base64")?;
        let m = self.mechanism;
        let auth_message = format!("{auth_message_prefix},{without_proof}");
        let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err("client proof has the wrong length".into());
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if !constant_time_eq(&m.hash(&client_key), &credential.stored_key) {
            return Err(format!("invalid client proof for user {user:?}"));
        }
        let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
        Ok(ScramStep::Done {
            server_final: format!("v={}", B64.encode(server_signature)).into_bytes(),
            user,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 5802 saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is malformed.
fn unescape_name(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3) {
            Some("2C") => out.push(','),
            Some("3D") => out.push('='),
            _ => return Err("malformed escape in SCRAM user name".into()),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil", 4096 iterations.
    #[test]
    fn rfc7677_test_vector() {
        let m = ScramMechanism::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let credential = ScramCredential::from_salted_password(m, &salt, &salted, 4096);
        let mut server = ScramServer::with_nonce(m, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".to_string());
        let first = server
            .step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", |u| {
                (u == "user").then(|| credential.clone())
            })
            .unwrap();
        assert_eq!(
            first,
            ScramStep::Continue(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".to_vec()
            )
        );
        let done = server
            .step(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                |_| None,
            )
            .unwrap();
        assert_eq!(
            done,
            ScramStep::Done {
                server_final: b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec(),
                user: "user".into()
            }
        );
        // Nothing more is accepted once done.
        assert!(server.step(b"n,,n=user,r=x", |_| None).is_err());
    }

    fn server_after_first(nonce: &str) -> ScramServer {
        let m = ScramMechanism::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let credential = ScramCredential::from_salted_password(m, &salt, &salted, 4096);
        let mut server = ScramServer::with_nonce(m, nonce.to_string());
        server
            .step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", |_| Some(credential))
            .unwrap();
        server
    }

    #[test]
    fn librdkafka_2_0s_doubled_client_nonce_is_accepted_as_kafka_accepts_it() {
        // librdkafka 2.0 repeats its client nonce in front of the nonce of the exchange;
        // the proof is over what it sent.
        let m = ScramMechanism::Sha256;
        let salt = b"salt".to_vec();
        let salted = m.salted_password(b"pw", &salt, 4096);
        let credential = ScramCredential::from_salted_password(m, &salt, &salted, 4096);
        let mut server = ScramServer::with_nonce(m, "SERVER".into());
        server
            .step(b"n,,n=u,r=CLIENT", |_| Some(credential.clone()))
            .unwrap();
        let without_proof = "c=biws,r=CLIENTCLIENTSERVER";
        let auth = format!(
            "n=u,r=CLIENT,r=CLIENTSERVER,s={},i=4096,{without_proof}",
            B64.encode(&salt)
        );
        let client_key = m.hmac(&salted, b"Client Key");
        let signature = m.hmac(&credential.stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let msg = format!("{without_proof},p={}", B64.encode(proof));
        assert!(matches!(
            server.step(msg.as_bytes(), |_| None),
            Ok(ScramStep::Done { .. })
        ));
    }

    #[test]
    fn a_wrong_proof_a_replayed_nonce_or_a_bad_binding_fail() {
        let nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let good = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        // The same client-final against another server nonce (a replay) fails.
        let e = server_after_first("othernonce")
            .step(good.as_bytes(), |_| None)
            .unwrap_err();
        assert!(e.contains("nonce"), "{e}");
        let bad_proof = good.replace("p=dHz", "p=eHz");
        let e = server_after_first(nonce)
            .step(bad_proof.as_bytes(), |_| None)
            .unwrap_err();
        assert!(e.contains("invalid client proof"), "{e}");
        let bad_binding = good.replace("c=biws", "c=eSws");
        let e = server_after_first(nonce)
            .step(bad_binding.as_bytes(), |_| None)
            .unwrap_err();
        assert!(e.contains("channel binding"), "{e}");
        let e = server_after_first(nonce)
            .step(b"c=biws", |_| None)
            .unwrap_err();
        assert!(e.contains("proof"), "{e}");
    }

    #[test]
    fn client_first_checks() {
        let mut s = ScramServer::new(ScramMechanism::Sha512);
        assert!(s
            .step(b"n,,n=ghost,r=abc", |_| None)
            .unwrap_err()
            .contains("unknown"));
        for (msg, says) in [
            ("y,,n=u,r=abc", "channel binding"),
            ("p=tls-unique,,n=u,r=abc", "channel binding"),
            ("n,,r=abc", "n="),
            ("n,,n=u", "r="),
            ("n,,n=a=4,r=abc", "escape"),
            ("n,a=other,n=u,r=abc", "authorization id"),
            ("n,,n=u,r=abc,tokenauth=true", "delegation"),
            ("garbage", "GS2"),
        ] {
            let mut s = ScramServer::new(ScramMechanism::Sha512);
            let e = s
                .step(msg.as_bytes(), |_| {
                    Some(ScramCredential {
                        salt: vec![1],
                        stored_key: vec![2],
                        server_key: vec![3],
                        iterations: 4096,
                    })
                })
                .unwrap_err();
            assert!(e.contains(says), "{msg}: {e}");
        }
        assert_eq!(unescape_name("a=2Cb=3Dc").unwrap(), "a,b=c");
    }
}
