//! A passkey's public key as Flask-Security stores it (`webauthn.public_key`): the COSE_Key
//! the authenticator gave (RFC 9052 §7), CBOR-encoded. webauthn-rs keeps keys parsed
//! ([`COSEKey`]); these two functions convert, so a row either app wrote is read by the
//! other. Parsing (and the check that the point is on its curve) is webauthn-rs's own.

use std::collections::BTreeMap;

use serde_cbor_2::Value;
use webauthn_rs_core::proto::{COSEAlgorithm, COSEKey, COSEKeyType};

/// A stored key that is not a COSE key webauthn-rs can use.
#[derive(Debug, thiserror::Error)]
pub enum CoseError {
    #[error("not CBOR: {0}")]
    Cbor(#[from] serde_cbor_2::Error),
    #[error("not a usable COSE public key: {0:?}")]
    Key(webauthn_rs_core::error::WebauthnError),
}

/// The key in stored bytes.
pub fn decode(bytes: &[u8]) -> Result<COSEKey, CoseError> {
    let value: Value = serde_cbor_2::from_slice(bytes)?;
    COSEKey::try_from(&value).map_err(CoseError::Key)
}

/// The stored bytes of a key: the COSE map an authenticator sends (kty, alg and the key's
/// own parameters), which Flask-Security's py_webauthn reads back.
pub fn encode(key: &COSEKey) -> Result<Vec<u8>, CoseError> {
    // COSE labels (RFC 9052 §7.1, RFC 9053 §7): 1 kty, 3 alg; -1.. the key type's own.
    const KTY_OKP: i128 = 1;
    const KTY_EC2: i128 = 2;
    const KTY_RSA: i128 = 3;
    let mut map = BTreeMap::new();
    let mut put = |label: i128, value: Value| {
        map.insert(Value::Integer(label), value);
    };
    put(3, Value::Integer(algorithm_id(key.type_)));
    match &key.key {
        COSEKeyType::EC_EC2(ec) => {
            put(1, Value::Integer(KTY_EC2));
            put(-1, Value::Integer(ec.curve.clone() as i128));
            put(-2, Value::Bytes(ec.x.to_vec()));
            put(-3, Value::Bytes(ec.y.to_vec()));
        }
        COSEKeyType::EC_OKP(okp) => {
            put(1, Value::Integer(KTY_OKP));
            put(-1, Value::Integer(okp.curve.clone() as i128));
            put(-2, Value::Bytes(okp.x.to_vec()));
        }
        COSEKeyType::RSA(rsa) => {
            put(1, Value::Integer(KTY_RSA));
            put(-1, Value::Bytes(rsa.n.to_vec()));
            put(-2, Value::Bytes(rsa.e.to_vec()));
        }
    }
    Ok(serde_cbor_2::to_vec(&Value::Map(map))?)
}

fn algorithm_id(alg: COSEAlgorithm) -> i128 {
    alg as i32 as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key as an authenticator encodes it (the shape of the conformance suite's
    /// software authenticator and of Flask-Security's stored keys).
    fn es256_cose() -> Vec<u8> {
        // The generator point of P-256: a valid public key.
        let x = hex::decode("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
            .unwrap();
        let y = hex::decode("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
            .unwrap();
        let mut map = BTreeMap::new();
        map.insert(Value::Integer(1), Value::Integer(2));
        map.insert(Value::Integer(3), Value::Integer(-7));
        map.insert(Value::Integer(-1), Value::Integer(1));
        map.insert(Value::Integer(-2), Value::Bytes(x));
        map.insert(Value::Integer(-3), Value::Bytes(y));
        serde_cbor_2::to_vec(&Value::Map(map)).unwrap()
    }

    #[test]
    fn an_es256_key_round_trips_to_the_same_bytes() {
        let bytes = es256_cose();
        let key = decode(&bytes).unwrap();
        assert_eq!(key.type_, COSEAlgorithm::ES256);
        assert_eq!(encode(&key).unwrap(), bytes);
    }

    #[test]
    fn a_key_flask_security_stored_reads_and_writes_back_byte_for_byte() {
        // From tests/fixtures/flask_passkeys.json: the authenticator's COSE key as the
        // reference app stored it (labels in CBOR's canonical order: 1, 3, -1, -2, -3).
        let stored = hex::decode(
            "a50102032620012158205bc9956b86e65333a92878cdb715d10fc84129ed5194c56b072610e6a4fb\
             6f862258202627e8430d1bf343aaa884b70beb127232ce4737824e8407057e6b80489249a8",
        )
        .unwrap();
        let key = decode(&stored).unwrap();
        assert_eq!(encode(&key).unwrap(), stored);
    }

    #[test]
    fn a_point_off_the_curve_is_refused() {
        let mut bytes = es256_cose();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(decode(&bytes), Err(CoseError::Key(_))));
    }

    #[test]
    fn garbage_is_refused_not_a_panic() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\xa1\x01").is_err());
        assert!(decode(&[0xff; 40]).is_err());
    }
}
