//! Ed25519 signatures in the minisign format, so that the release team can sign and check indexes
//! with the standard `minisign` tool as well as with `ibex-updater publish`.

use std::io::{Cursor, Write};
use std::path::Path;

use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox, SignatureBox};

use crate::error::UpdateError;

/// A key's identifier as minisign prints it.
pub fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    let n = keynum.len().min(8);
    bytes[..n].copy_from_slice(&keynum[..n]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// Makes a key pair: the secret key (unencrypted, so keep it offline) in minisign's format at
/// `secret`, and the public key at `public`. Returns the public key's one-line form.
pub fn keygen(secret: &Path, public: &Path) -> Result<String, UpdateError> {
    for path in [secret, public] {
        if path.exists() {
            return Err(UpdateError::KeyExists {
                path: path.to_path_buf(),
            });
        }
    }
    let failed = |e: minisign::PError| UpdateError::KeyGeneration {
        detail: e.to_string(),
    };
    let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().map_err(failed)?;
    let secret_text = sk
        .to_box(Some("ibex-updater release key (secret: keep it offline)"))
        .map_err(failed)?
        .into_string();
    let public_box = pk.to_box().map_err(failed)?;
    write_private(secret, secret_text.as_bytes())?;
    std::fs::write(public, public_box.into_string()).map_err(UpdateError::io("write", public))?;
    Ok(pk.to_base64())
}

/// Writes a new file that only its owner can read (on Unix; on Windows the folder's ACL applies).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(UpdateError::io("create", path))?;
    file.write_all(bytes)
        .map_err(UpdateError::io("write", path))
}

/// Signs `data` with the minisign secret key in `secret_key_file` (a password-protected key asks
/// for its password on the terminal).
pub fn sign(
    data: &[u8],
    secret_key_file: &Path,
    trusted_comment: &str,
) -> Result<String, UpdateError> {
    let key = secret_key(secret_key_file)?;
    let signature = minisign::sign(None, &key, Cursor::new(data), Some(trusted_comment), None)
        .map_err(bad_key(secret_key_file))?;
    Ok(signature.into_string())
}

/// The public key of the secret key in `secret_key_file`.
pub fn public_key_of(secret_key_file: &Path) -> Result<PublicKey, UpdateError> {
    PublicKey::from_secret_key(&secret_key(secret_key_file)?).map_err(bad_key(secret_key_file))
}

fn secret_key(secret_key_file: &Path) -> Result<SecretKey, UpdateError> {
    let text = std::fs::read_to_string(secret_key_file)
        .map_err(UpdateError::io("read", secret_key_file))?;
    let key_box = SecretKeyBox::from_string(&text).map_err(bad_key(secret_key_file))?;
    match key_box.clone().into_unencrypted_secret_key() {
        Ok(key) if !key.is_encrypted() => Ok(key),
        _ => key_box
            .into_secret_key(None)
            .map_err(bad_key(secret_key_file)),
    }
}

fn bad_key(path: &Path) -> impl Fn(minisign::PError) -> UpdateError + '_ {
    move |e| UpdateError::BadSecretKey {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Parses trusted keys: each either the base64 line or a whole `.pub` file's text.
pub fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .unwrap_or_default();
    PublicKey::from_base64(line).map_err(|e| format!("'{line}' is not a minisign public key: {e}"))
}

/// The id of the key that made `signature` (a `.minisig` file's text), before anything is
/// checked: which key to check it with.
pub fn signer(signature: &str, location: &str) -> Result<String, UpdateError> {
    SignatureBox::from_string(signature)
        .map(|s| key_id(s.keynum()))
        .map_err(|e| UpdateError::BadIndexSignature {
            location: location.to_string(),
            detail: format!("the signature file is not in minisign's format: {e}"),
        })
}

/// Checks that `signature` (a `.minisig` file's text) signs `data` with one of `keys`, and
/// returns the signing key's id.
pub fn verify(
    data: &[u8],
    signature: &str,
    keys: &[PublicKey],
    location: &str,
) -> Result<String, UpdateError> {
    let bad = |detail: String| UpdateError::BadIndexSignature {
        location: location.to_string(),
        detail,
    };
    let signature = SignatureBox::from_string(signature).map_err(|e| {
        bad(format!(
            "the signature file is not in minisign's format: {e}"
        ))
    })?;
    let Some(key) = keys.iter().find(|k| k.keynum() == signature.keynum()) else {
        return Err(UpdateError::UnknownSigningKey {
            location: location.to_string(),
            key_id: key_id(signature.keynum()),
        });
    };
    // Only prehashed (current minisign) signatures: legacy ones cover the data unhashed.
    minisign::verify(key, &signature, Cursor::new(data), true, false, false)
        .map_err(|e| bad(format!("it does not match what it signs, which has been changed or damaged since it was signed ({e})")))?;
    Ok(key_id(key.keynum()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_refuses_changes_and_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let line = keygen(&secret, &public).unwrap();
        let key = parse_public_key(&std::fs::read_to_string(&public).unwrap()).unwrap();
        assert_eq!(parse_public_key(&line).unwrap().keynum(), key.keynum());
        assert!(keygen(&secret, &public).is_err(), "never overwrites a key");

        let signature = sign(b"index", &secret, "serial 1").unwrap();
        verify(b"index", &signature, std::slice::from_ref(&key), "share").unwrap();
        let err = verify(b"indeX", &signature, std::slice::from_ref(&key), "share").unwrap_err();
        assert!(
            matches!(err, UpdateError::BadIndexSignature { .. }),
            "{err}"
        );

        let (other_secret, other_public) = (dir.path().join("o.key"), dir.path().join("o.pub"));
        keygen(&other_secret, &other_public).unwrap();
        let other = parse_public_key(&std::fs::read_to_string(&other_public).unwrap()).unwrap();
        let err = verify(b"index", &signature, &[other], "share").unwrap_err();
        assert!(
            matches!(&err, UpdateError::UnknownSigningKey { key_id, .. } if *key_id == super::key_id(key.keynum())),
            "{err}"
        );
    }
}
