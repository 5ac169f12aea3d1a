//! Tests of `domain`.

use super::*;

fn field(e: ApiError) -> (u16, serde_json::Value) {
    let p = e.problem("r");
    (e.status(), p["field"].clone())
}

#[test]
fn registrations_are_normalised_and_validated() {
    let ok = RegisterRequest {
        email: "  Ann.Lee@Example.COM ".into(),
        password: "correct horse battery".into(),
        name: "  Ann Lee ".into(),
    }
    .validate()
    .expect("valid");
    assert_eq!(ok.email, "ann.lee@example.com");
    assert_eq!(ok.name, "Ann Lee");
    assert_eq!(ok.password, "correct horse battery", "never trimmed");

    let bad = |email: &str, password: &str, name: &str| {
        field(
            RegisterRequest {
                email: email.into(),
                password: password.into(),
                name: name.into(),
            }
            .validate()
            .expect_err("invalid"),
        )
    };
    let pw = "Tr0ub4dor&3x";
    assert_eq!(bad("nope", pw, "A"), (422, "email".into()));
    assert_eq!(
        bad(&format!("{}@x.io", "a".repeat(300)), pw, "A"),
        (422, "email".into())
    );
    assert_eq!(bad("a@b.io", pw, "   "), (422, "name".into()));
    assert_eq!(
        bad("a@b.io", pw, &"n".repeat(NAME_MAX_CHARS + 1)),
        (422, "name".into())
    );
    assert_eq!(bad("a@b.io", pw, "a\u{7}b"), (422, "name".into()));
    assert_eq!(bad("a@b.io", "short1A", "A"), (422, "password".into()));
}

#[test]
fn the_password_policy_wants_length_and_some_variety() {
    let email = "ann@example.com";
    let too_long = format!("{}x", "aB".repeat(64));
    for good in [
        "correct horse battery",
        "abcdefghi1",
        "ABCDEFGHIj",
        "ünïcödé-pässwörd",
        &"aB".repeat(64),
    ] {
        assert!(password_policy(good, email).is_ok(), "{good:?}");
    }
    for bad in [
        "",
        "abc1",
        "Abcdefgh1",       // 9 characters
        "aaaaaaaaaaaa",    // one class
        "ABCDEFGHIJKL",    // one class
        "12345678901234",  // one class
        "!@#$%^&*()_+",    // one class
        "ünïcödépässwörd", // one class, beyond ASCII
        &too_long,         // 129 characters
        "tab\tseparated1", // control character
        "ANN@example.com", // the email
    ] {
        let e = password_policy(bad, email).expect_err(bad);
        assert_eq!(field(e), (422, "password".into()), "{bad:?}");
    }
    // Length counts characters, not bytes.
    assert!(password_policy(&"é1".repeat(5), email).is_ok());
}

#[test]
fn login_checks_shape_not_policy() {
    let c = LoginRequest {
        email: "ANN@Example.com".into(),
        password: "old-weak".into(),
    }
    .validate()
    .expect("valid");
    assert_eq!(c.email, "ann@example.com");
    let e = LoginRequest {
        email: "ann@example.com".into(),
        password: String::new(),
    }
    .validate()
    .expect_err("empty");
    assert_eq!(field(e), (422, "password".into()));
    let e = LoginRequest {
        email: "ann@example.com".into(),
        password: "x".repeat(PASSWORD_MAX_CHARS + 1),
    }
    .validate()
    .expect_err("huge");
    assert_eq!(field(e), (422, "password".into()));
}

#[test]
fn refresh_tokens_never_outlive_their_session() {
    let login = 1_000;
    let ends = login + SESSION_MAX_MS;
    assert_eq!(refresh_expiry(login, ends), login + REFRESH_TTL_MS);
    // Refreshing every day cannot stretch a session past its 90 days.
    let late = ends - 5;
    assert_eq!(refresh_expiry(late, ends), ends);
}

#[test]
fn roles_parse_as_stored() {
    assert_eq!(parse_role("admin"), Some(Role::Admin));
    assert_eq!(parse_role("root"), None);
}

#[test]
fn refresh_tokens_are_random_and_stored_hashed() {
    let a = new_refresh_token().expect("token");
    let b = new_refresh_token().expect("token");
    assert_ne!(a, b);
    assert_eq!(a.len(), 43, "32 bytes, base64url without padding");
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    let h = refresh_token_hash(&a);
    assert_eq!(h.len(), 64);
    assert_ne!(h, a);
    assert_eq!(h, refresh_token_hash(&a));
    assert_eq!(
        refresh_token_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(presented_refresh_token(&a).is_ok());
    assert_eq!(
        field(presented_refresh_token("").expect_err("empty")),
        (422, "refresh_token".into())
    );
    assert!(presented_refresh_token(&"t".repeat(129)).is_err());
}

#[test]
fn rotation_reuse_and_rejection() {
    let now = 1_000_000;
    let state = |status, expires_at_ms| {
        Some(RefreshState {
            status,
            expires_at_ms,
        })
    };
    use RefreshDecision::*;
    use RefreshStatus::*;
    assert_eq!(refresh_decision(state(Active, now + 1), now), Rotate);
    assert_eq!(
        refresh_decision(state(Active, now), now),
        Reject(RejectReason::Expired)
    );
    assert_eq!(refresh_decision(state(Used, now + 1), now), RevokeFamily);
    assert_eq!(
        refresh_decision(state(Used, now - 1), now),
        RevokeFamily,
        "an expired copy is still evidence of theft"
    );
    assert_eq!(
        refresh_decision(state(Revoked, now + 1), now),
        Reject(RejectReason::Revoked)
    );
    assert_eq!(refresh_decision(None, now), Reject(RejectReason::Unknown));
    for s in [Active, Used, Revoked] {
        assert_eq!(RefreshStatus::parse(s.as_str()), Some(s));
    }
}
