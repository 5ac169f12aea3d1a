//! Tests of `token`.

use super::*;

// RFC 8410 section 10: a published example key pair, not a secret.
const RFC8410_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
    -----END PRIVATE KEY-----\n";
const RFC8410_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\n\
    MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
    -----END PUBLIC KEY-----\n";

fn generated(kid: &str) -> (TokenIssuer, String) {
    let key = Ed25519KeyPair::generate().with_key_id(kid);
    let public = key.public_key().to_pem();
    (TokenIssuer { key }, public)
}

fn now() -> u64 {
    jwt_simple::prelude::Clock::now_since_epoch().as_secs()
}

#[test]
fn issued_tokens_verify_into_the_principal() {
    let (issuer, public) = generated("k1");
    let verifier = TokenVerifier::parse(&format!("k1={public}")).expect("keys");
    let issued = issuer
        .issue("u-1", "a@b.c", Role::Admin, 900)
        .expect("issue");
    let p = verifier.verify(&issued.token).expect("verify");
    assert_eq!(p.user_id, "u-1");
    assert_eq!(p.email, "a@b.c");
    assert_eq!(p.role, Role::Admin);
    assert_eq!(p.token_id, issued.jti);
    assert_eq!(p.expires_at, issued.expires_at);
    assert!(issued.expires_at >= now() + 899);
    assert_eq!(
        uuid::Uuid::parse_str(&issued.jti)
            .expect("uuid")
            .get_version_num(),
        7
    );
}

#[test]
fn openssl_pem_keys_from_rfc8410_load_and_match() {
    let issuer = TokenIssuer::new(RFC8410_PRIVATE, "rfc").expect("private key");
    assert_eq!(issuer.public_key_pem().trim(), RFC8410_PUBLIC.trim());
    let one_line = RFC8410_PUBLIC.replace('\n', "\\n");
    let verifier = TokenVerifier::parse(&format!("rfc={one_line}")).expect("public key");
    let issued = issuer
        .issue("u", "e@x.y", Role::Customer, 60)
        .expect("issue");
    assert_eq!(
        verifier.verify(&issued.token).expect("verify").role,
        Role::Customer
    );
}

#[test]
fn expiry_allows_the_leeway_and_no_more() {
    let (issuer, public) = generated("k1");
    let verifier = TokenVerifier::parse(&format!("k1={public}")).expect("keys");
    let issued = issuer
        .issue("u", "e@x.y", Role::Customer, 60)
        .expect("issue");
    let within = issued.expires_at + LEEWAY_SECS - 1;
    assert!(verifier.verify_at(&issued.token, Some(within)).is_ok());
    let err = verifier
        .verify_at(&issued.token, Some(issued.expires_at + LEEWAY_SECS + 1))
        .expect_err("expired");
    assert_eq!(err.status(), 401);
    assert_eq!(err.to_string(), "token expired");
}

#[test]
fn unknown_kid_is_rejected_even_with_a_good_signature() {
    let (issuer, public) = generated("new");
    let verifier = TokenVerifier::parse(&format!("old={public}")).expect("keys");
    let issued = issuer
        .issue("u", "e@x.y", Role::Customer, 60)
        .expect("issue");
    let err = verifier.verify(&issued.token).expect_err("kid");
    assert_eq!(err.status(), 401);
    assert!(err.to_string().contains("unknown key"), "{err}");
}

#[test]
fn a_key_under_the_wrong_kid_fails_the_signature() {
    let (issuer, _) = generated("k1");
    let (_, other_public) = generated("k1");
    let verifier = TokenVerifier::parse(&format!("k1={other_public}")).expect("keys");
    let issued = issuer
        .issue("u", "e@x.y", Role::Customer, 60)
        .expect("issue");
    let err = verifier.verify(&issued.token).expect_err("signature");
    assert_eq!(err.to_string(), "token signature is invalid");
}

#[test]
fn tampered_tokens_are_rejected() {
    let (issuer, public) = generated("k1");
    let verifier = TokenVerifier::parse(&format!("k1={public}")).expect("keys");
    let issued = issuer
        .issue("u", "e@x.y", Role::Customer, 60)
        .expect("issue");
    let parts: Vec<&str> = issued.token.split('.').collect();
    // Promote ourselves to admin in the payload, keep the signature.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = String::from_utf8(b64.decode(parts[1]).expect("b64")).expect("utf8");
    let forged = b64.encode(payload.replace("\"customer\"", "\"admin\""));
    let token = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(verifier.verify(&token).expect_err("forged").status(), 401);
    for garbage in [
        "",
        "abc",
        "a.b.c",
        "a.b",
        &format!("{}.{}", parts[0], parts[1]),
    ] {
        assert_eq!(
            verifier.verify(garbage).expect_err(garbage).status(),
            401,
            "{garbage}"
        );
    }
}

#[test]
fn rotation_accepts_tokens_from_either_key() {
    let (old, old_pub) = generated("2024");
    let (new, new_pub) = generated("2025");
    let verifier =
        TokenVerifier::parse(&format!(" 2024={old_pub} ;\n2025={new_pub};")).expect("keys");
    assert_eq!(verifier.key_ids().collect::<Vec<_>>(), vec!["2024", "2025"]);
    for issuer in [&old, &new] {
        let issued = issuer
            .issue("u", "e@x.y", Role::Customer, 60)
            .expect("issue");
        assert!(verifier.verify(&issued.token).is_ok());
    }
    // Retiring the old key invalidates its tokens.
    let retired = TokenVerifier::parse(&format!("2025={new_pub}")).expect("keys");
    let issued = old.issue("u", "e@x.y", Role::Customer, 60).expect("issue");
    assert_eq!(
        retired.verify(&issued.token).expect_err("retired").status(),
        401
    );
}

#[test]
fn bad_key_configuration_is_explained() {
    assert!(TokenVerifier::parse("").is_err());
    assert!(TokenVerifier::parse("no-equals-sign").is_err());
    assert!(TokenVerifier::parse("=pem").is_err());
    assert!(TokenVerifier::parse("k=not a pem")
        .expect_err("pem")
        .contains("k "));
    let (_, public) = generated("k");
    assert!(TokenVerifier::parse(&format!("k={public};k={public}")).is_err());
    let err = TokenIssuer::new(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----",
        "k",
    )
    .expect_err("bad key");
    assert!(!err.contains("c2VjcmV0"));
    assert!(TokenIssuer::new(RFC8410_PRIVATE, " ").is_err());
}

#[test]
fn tokens_carry_their_session_and_one_without_a_session_is_refused() {
    let (issuer, public) = generated("k1");
    let verifier = TokenVerifier::parse(&format!("k1={public}")).expect("keys");
    let issued = issuer
        .issue_in_session("u", "e@x.y", Role::Customer, "session-7", 60)
        .expect("issue");
    assert_eq!(
        verifier.verify(&issued.token).expect("verify").session_id,
        "session-7"
    );
    let one_off = issuer
        .issue("u", "e@x.y", Role::Customer, 60)
        .expect("issue");
    let p = verifier.verify(&one_off.token).expect("verify");
    assert!(!p.session_id.is_empty() && p.session_id != "session-7");
    // Signed correctly but without `sid`: it could never be revoked.
    let claims = Claims::with_custom_claims(
        serde_json::json!({"email": "e@x.y", "role": "admin"}),
        Duration::from_secs(60),
    )
    .with_issuer(ISSUER)
    .with_audience(ISSUER)
    .with_subject("u")
    .with_jwt_id("j");
    let token = issuer.key.sign(claims).expect("sign");
    assert_eq!(
        verifier.verify(&token).expect_err("no sid").to_string(),
        "token lacks required claims"
    );
}
