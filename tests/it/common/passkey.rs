//! A software passkey for the tests: an ES256 (P-256) key pair that answers the server's
//! options the way a browser hands an authenticator's answer to the page
//! (`PublicKeyCredential` as JSON, binary fields base64url), attestation "none". The same
//! shape as the conformance suite's `softauthn.py`. Signs with OpenSSL (which webauthn-rs
//! links anyway).

use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use rand::RngCore;
use serde_cbor_2::Value as Cbor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

pub fn b64u(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64u(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url")
}

/// What the next assertion should look like (for the tests that tamper with one).
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The counter to report instead of the next one.
    pub sign_count: Option<u32>,
    /// Another origin in the client data.
    pub origin: Option<String>,
    /// Another relying party id hashed into the authenticator data.
    pub rp_id: Option<String>,
    /// Leave the "user verified" flag off.
    pub no_uv: bool,
}

#[derive(Clone)]
pub struct SoftPasskey {
    pub rp_id: String,
    pub origin: String,
    key: EcKey<Private>,
    pub credential_id: Vec<u8>,
    pub sign_count: u32,
    pub user_handle: Option<Vec<u8>>,
}

impl SoftPasskey {
    /// A new key for the relying party of `base_url` (`http://host:port`).
    pub fn new(base_url: &str) -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let mut credential_id = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut credential_id);
        Self::with_key(base_url, EcKey::generate(&group).unwrap(), credential_id)
    }

    /// An existing key (PKCS#8 PEM), as the reference-made fixtures keep it.
    pub fn from_pem(base_url: &str, pem: &str, credential_id: Vec<u8>) -> Self {
        let key = openssl::pkey::PKey::private_key_from_pem(pem.as_bytes())
            .unwrap()
            .ec_key()
            .unwrap();
        Self::with_key(base_url, key, credential_id)
    }

    fn with_key(base_url: &str, key: EcKey<Private>, credential_id: Vec<u8>) -> Self {
        let url = url::Url::parse(base_url).unwrap();
        Self {
            rp_id: url.host_str().unwrap().to_owned(),
            origin: url.origin().ascii_serialization(),
            key,
            credential_id,
            sign_count: 0,
            user_handle: None,
        }
    }

    /// The same passkey, answering another app of the same relying party (its origin).
    pub fn at(&self, base_url: &str) -> Self {
        let url = url::Url::parse(base_url).unwrap();
        let mut moved = self.clone();
        moved.origin = url.origin().ascii_serialization();
        assert_eq!(
            url.host_str(),
            Some(self.rp_id.as_str()),
            "same relying party"
        );
        moved
    }

    fn cose_key(&self) -> Vec<u8> {
        let group = self.key.group();
        let mut ctx = BigNumContext::new().unwrap();
        let point = self
            .key
            .public_key()
            .to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx)
            .unwrap();
        let (x, y) = (point[1..33].to_vec(), point[33..65].to_vec());
        let mut map = BTreeMap::new();
        map.insert(Cbor::Integer(1), Cbor::Integer(2));
        map.insert(Cbor::Integer(3), Cbor::Integer(-7));
        map.insert(Cbor::Integer(-1), Cbor::Integer(1));
        map.insert(Cbor::Integer(-2), Cbor::Bytes(x));
        map.insert(Cbor::Integer(-3), Cbor::Bytes(y));
        serde_cbor_2::to_vec(&Cbor::Map(map)).unwrap()
    }

    fn auth_data(&self, flags: u8, attested: bool, rp_id: Option<&str>) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.unwrap_or(&self.rp_id).as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.sign_count.to_be_bytes());
        if attested {
            data.extend_from_slice(&[0u8; 16]);
            data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            data.extend_from_slice(&self.credential_id);
            data.extend_from_slice(&self.cose_key());
        }
        data
    }

    fn client_data(&self, kind: &str, challenge: &str, origin: Option<&str>) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": origin.unwrap_or(&self.origin),
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// Answers `PublicKeyCredentialCreationOptions` (the JSON `credential_options`).
    pub fn create(&mut self, options: &Value) -> Value {
        let user_id = options["user"]["id"].as_str().expect("user.id");
        self.user_handle = Some(unb64u(user_id));
        let challenge = options["challenge"].as_str().expect("challenge");
        let client_data = self.client_data("webauthn.create", challenge, None);
        let auth_data = self.auth_data(FLAG_UP | FLAG_UV | FLAG_AT, true, None);
        let mut attestation = BTreeMap::new();
        attestation.insert(Cbor::Text("fmt".into()), Cbor::Text("none".into()));
        attestation.insert(Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new()));
        attestation.insert(Cbor::Text("authData".into()), Cbor::Bytes(auth_data));
        let attestation = serde_cbor_2::to_vec(&Cbor::Map(attestation)).unwrap();
        json!({
            "id": b64u(&self.credential_id),
            "rawId": b64u(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(&client_data),
                "attestationObject": b64u(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": true}},
            "authenticatorAttachment": "platform",
        })
    }

    /// Answers `PublicKeyCredentialRequestOptions`, counting one use.
    pub fn get(&mut self, options: &Value) -> Value {
        self.get_with(options, &Answer::default())
    }

    pub fn get_with(&mut self, options: &Value, answer: &Answer) -> Value {
        self.sign_count = answer.sign_count.unwrap_or(self.sign_count + 1);
        let challenge = options["challenge"].as_str().expect("challenge");
        let client_data = self.client_data("webauthn.get", challenge, answer.origin.as_deref());
        let flags = FLAG_UP | if answer.no_uv { 0 } else { FLAG_UV };
        let auth_data = self.auth_data(flags, false, answer.rp_id.as_deref());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let digest = Sha256::digest(&signed);
        let signature = EcdsaSig::sign(&digest, &self.key)
            .unwrap()
            .to_der()
            .unwrap();
        json!({
            "id": b64u(&self.credential_id),
            "rawId": b64u(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(&client_data),
                "authenticatorData": b64u(&auth_data),
                "signature": b64u(&signature),
                "userHandle": self.user_handle.as_deref().map(b64u),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }
}
