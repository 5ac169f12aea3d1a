//! Authorization codes, access tokens and refresh tokens, kept only as
//! their SHA-256. Codes and refresh tokens are single use: each is taken
//! by one conditional `UPDATE ... WHERE used = 0`, so of two requests
//! racing with the same one, exactly one succeeds.

use platform::db::{int, opt_text, text, Db};
use platform::ApiError;

use super::{int_at, opt_text_at, text_at};
use crate::domain::UserId;
use crate::oauth::{token_hash, CodeGrant};

/// Stores a code for `grant`, valid until `expires_at_ms`.
pub fn insert_code(
    db: &Db,
    code: &str,
    grant: &CodeGrant,
    expires_at_ms: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO authorization_codes
            (code_hash, client_id, redirect_uri, code_challenge, user_id, expires_at_ms)
         VALUES (?, ?, ?, ?, ?, ?)",
        &[
            text(token_hash(code)),
            text(&grant.client_id),
            text(&grant.redirect_uri),
            opt_text(grant.challenge.clone()),
            int(grant.user_id.get()),
            int(expires_at_ms),
        ],
    )?;
    Ok(())
}

/// What a code was issued for, while it is unused and unexpired.
pub fn live_code(db: &Db, code: &str, now_ms: i64) -> Result<Option<CodeGrant>, ApiError> {
    let r = db.execute(
        "SELECT client_id, redirect_uri, code_challenge, user_id FROM authorization_codes
         WHERE code_hash = ? AND used = 0 AND expires_at_ms > ?",
        &[text(token_hash(code)), int(now_ms)],
    )?;
    Ok(r.rows.first().and_then(|row| {
        let v = &row.values;
        Some(CodeGrant {
            client_id: text_at(v, 0),
            redirect_uri: text_at(v, 1),
            challenge: opt_text_at(v, 2),
            user_id: UserId::from_i64(int_at(v, 3))?,
        })
    }))
}

/// Takes a live code: true for exactly one caller.
pub fn use_code(db: &Db, code: &str, now_ms: i64) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE authorization_codes SET used = 1
         WHERE code_hash = ? AND used = 0 AND expires_at_ms > ?",
        &[text(token_hash(code)), int(now_ms)],
    )?;
    Ok(db.changes() == 1)
}

/// Stores an access token and a refresh token of `user` for `client_id`.
pub fn insert_tokens(
    db: &Db,
    client_id: &str,
    user: UserId,
    access: (&str, i64),
    refresh: (&str, i64),
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO access_tokens (token_hash, client_id, user_id, expires_at_ms) VALUES (?, ?, ?, ?)",
        &[
            text(token_hash(access.0)),
            text(client_id),
            int(user.get()),
            int(access.1),
        ],
    )?;
    db.execute(
        "INSERT INTO refresh_tokens (token_hash, client_id, user_id, expires_at_ms) VALUES (?, ?, ?, ?)",
        &[
            text(token_hash(refresh.0)),
            text(client_id),
            int(user.get()),
            int(refresh.1),
        ],
    )?;
    Ok(())
}

/// Takes a live refresh token of `client_id`: its user for exactly one
/// caller, `None` for a token unknown, used, expired or another client's.
pub fn use_refresh_token(
    db: &Db,
    token: &str,
    client_id: &str,
    now_ms: i64,
) -> Result<Option<UserId>, ApiError> {
    let hash = token_hash(token);
    db.execute(
        "UPDATE refresh_tokens SET used = 1
         WHERE token_hash = ? AND client_id = ? AND used = 0 AND expires_at_ms > ?",
        &[text(&hash), text(client_id), int(now_ms)],
    )?;
    if db.changes() != 1 {
        return Ok(None);
    }
    let r = db.execute(
        "SELECT user_id FROM refresh_tokens WHERE token_hash = ?",
        &[text(&hash)],
    )?;
    Ok(r.rows
        .first()
        .and_then(|row| UserId::from_i64(int_at(&row.values, 0))))
}

/// The user of a live access token.
pub fn access_token_user(db: &Db, token: &str, now_ms: i64) -> Result<Option<UserId>, ApiError> {
    let r = db.execute(
        "SELECT user_id FROM access_tokens WHERE token_hash = ? AND expires_at_ms > ?",
        &[text(token_hash(token)), int(now_ms)],
    )?;
    Ok(r.rows
        .first()
        .and_then(|row| UserId::from_i64(int_at(&row.values, 0))))
}

/// Forgets codes and tokens that can no longer be used; returns how many.
pub fn purge(db: &Db, now_ms: i64) -> Result<u64, ApiError> {
    let mut purged = 0;
    for sql in [
        "DELETE FROM authorization_codes WHERE expires_at_ms <= ? OR used = 1",
        "DELETE FROM access_tokens WHERE expires_at_ms <= ?",
        "DELETE FROM refresh_tokens WHERE expires_at_ms <= ?",
    ] {
        db.execute(sql, &[int(now_ms)])?;
        purged += db.changes();
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory;

    fn user() -> UserId {
        UserId::from_i64(1001).expect("user")
    }

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "4242".into(),
            redirect_uri: "http://x/cb".into(),
            challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            user_id: user(),
        }
    }

    #[test]
    fn a_code_is_stored_hashed_and_used_once_before_it_expires() {
        let db = memory();
        insert_code(&db, "TG-code-1001", &grant(), 1_000).expect("insert");
        let stored = db
            .execute("SELECT code_hash FROM authorization_codes", &[])
            .expect("select");
        assert_ne!(text_at(&stored.rows[0].values, 0), "TG-code-1001");
        assert_eq!(
            live_code(&db, "TG-code-1001", 999).expect("live"),
            Some(grant())
        );
        assert_eq!(
            live_code(&db, "TG-code-1001", 1_000).expect("expired"),
            None
        );
        assert!(!use_code(&db, "TG-code-1001", 1_000).expect("expired"));
        assert!(use_code(&db, "TG-code-1001", 999).expect("first"));
        assert!(!use_code(&db, "TG-code-1001", 999).expect("replayed"));
        assert_eq!(live_code(&db, "TG-code-1001", 999).expect("used"), None);
        assert_eq!(live_code(&db, "TG-other", 0).expect("unknown"), None);
    }

    #[test]
    fn a_refresh_token_is_used_once_and_only_by_its_client() {
        let db = memory();
        insert_tokens(&db, "4242", user(), ("APP_USR-a", 500), ("TG-r", 10_000)).expect("insert");
        assert_eq!(
            access_token_user(&db, "APP_USR-a", 499).expect("live"),
            Some(user())
        );
        assert_eq!(
            access_token_user(&db, "APP_USR-a", 500).expect("expired"),
            None
        );
        assert_eq!(
            access_token_user(&db, "APP_USR-b", 0).expect("unknown"),
            None
        );
        assert_eq!(
            use_refresh_token(&db, "TG-r", "other", 1).expect("other client"),
            None
        );
        assert_eq!(
            use_refresh_token(&db, "TG-r", "4242", 1).expect("first"),
            Some(user())
        );
        assert_eq!(
            use_refresh_token(&db, "TG-r", "4242", 1).expect("second"),
            None
        );
        let tokens = db
            .execute("SELECT token_hash FROM access_tokens UNION ALL SELECT token_hash FROM refresh_tokens", &[])
            .expect("select");
        assert!(
            tokens
                .rows
                .iter()
                .all(|r| text_at(&r.values, 0).len() == 64),
            "only hashes are stored"
        );
    }

    #[test]
    fn purging_forgets_what_can_no_longer_be_used() {
        let db = memory();
        insert_code(&db, "TG-a", &grant(), 100).expect("code");
        insert_code(&db, "TG-b", &grant(), 10_000).expect("code");
        insert_tokens(&db, "4242", user(), ("APP_USR-a", 100), ("TG-r", 10_000)).expect("tokens");
        assert_eq!(purge(&db, 200).expect("purge"), 2);
        assert!(live_code(&db, "TG-b", 200).expect("kept").is_some());
        assert_eq!(
            use_refresh_token(&db, "TG-r", "4242", 200).expect("kept"),
            Some(user())
        );
    }
}
