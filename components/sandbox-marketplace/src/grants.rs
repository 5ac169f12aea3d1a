//! The authorization server's workflows: approving an authorization
//! request with a code, and exchanging a code or a refresh token for
//! tokens, each in one transaction so a code or refresh token is spent
//! exactly once.

use platform::db::Db;
use platform::ApiError;

use crate::domain::UserId;
use crate::ml_error::OAuthError;
use crate::oauth::{self, Authorization, Client, CodeGrant, Grant, TokenRequest};
use crate::store::catalog;
use crate::store::control::{bump, Counter};
use crate::store::oauth as tokens;
use crate::views::TokenGranted;

/// The client application from the component's variables.
pub fn client() -> Client {
    let var = |name: &str| {
        spin_sdk::variables::get(name)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    Client {
        id: var("client_id"),
        secret: var("client_secret"),
        redirect_uri: var("redirect_uri"),
    }
}

/// Approves `request` as `user` (the request's own `user_id`, else the
/// control's): stores a code bound to the client, redirect URI and
/// challenge, and answers where to send the browser. `None` when the
/// user is no seeded user.
pub fn approve(
    db: &Db,
    client: &Client,
    request: &Authorization,
    approve_as: i64,
    now_ms: i64,
) -> Result<Option<String>, ApiError> {
    let Some(user) = request.user_id.or_else(|| UserId::from_i64(approve_as)) else {
        return Ok(None);
    };
    if !catalog::user_exists(db, user)? {
        return Ok(None);
    }
    let code = oauth::new_tg_token(user)?;
    let grant = CodeGrant {
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        challenge: request.challenge.clone(),
        user_id: user,
    };
    tokens::insert_code(db, &code, &grant, now_ms + oauth::CODE_SECS * 1000)?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        pairs.push(("state", state.as_str()));
    }
    Ok(Some(oauth::redirect_to(&request.redirect_uri, &pairs)))
}

/// Exchanges a code or a refresh token for a new access token and
/// refresh token. The grant is spent in the same transaction that stores
/// the new tokens; a refusal changes nothing. With `refresh_revoked` (the
/// control's `revoke_refresh_tokens`), every refresh is refused.
pub fn exchange(
    db: &Db,
    request: &TokenRequest,
    refresh_revoked: bool,
    now_ms: i64,
) -> Result<Result<TokenGranted, OAuthError>, ApiError> {
    db.transaction(|db| {
        let user = match &request.grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => {
                let Some(bound) = tokens::live_code(db, code, now_ms)? else {
                    return Ok(Err(OAuthError::InvalidGrant(
                        "the code is unknown, used or expired".into(),
                    )));
                };
                if let Err(refused) = oauth::check_binding(
                    &bound,
                    &request.client_id,
                    redirect_uri,
                    verifier.as_deref(),
                ) {
                    return Ok(Err(refused));
                }
                if !tokens::use_code(db, code, now_ms)? {
                    return Ok(Err(OAuthError::InvalidGrant("the code was used".into())));
                }
                bump(db, Counter::AuthorizationCodeGrant)?;
                bound.user_id
            }
            Grant::RefreshToken { .. } if refresh_revoked => {
                return Ok(Err(OAuthError::InvalidGrant(
                    "the refresh token was revoked".into(),
                )));
            }
            Grant::RefreshToken { refresh_token } => {
                let Some(user) =
                    tokens::use_refresh_token(db, refresh_token, &request.client_id, now_ms)?
                else {
                    return Ok(Err(OAuthError::InvalidGrant(
                        "the refresh token is unknown, used, expired or another client's".into(),
                    )));
                };
                bump(db, Counter::RefreshTokenGrant)?;
                user
            }
        };
        let access = oauth::new_access_token(&request.client_id, user, now_ms)?;
        let refresh = oauth::new_tg_token(user)?;
        tokens::insert_tokens(
            db,
            &request.client_id,
            user,
            (&access, now_ms + oauth::ACCESS_TOKEN_SECS * 1000),
            (&refresh, now_ms + oauth::REFRESH_TOKEN_SECS * 1000),
        )?;
        Ok(Ok(TokenGranted {
            access_token: access,
            token_type: "Bearer",
            expires_in: oauth::ACCESS_TOKEN_SECS,
            scope: oauth::SCOPE,
            user_id: user.get(),
            refresh_token: refresh,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::Params;
    use crate::store::memory;
    use platform::pkce;

    fn test_client() -> Client {
        Client {
            id: "4242".into(),
            secret: "0123456789abcdef0123456789abcdef".into(),
            redirect_uri: "http://x/cb".into(),
        }
    }

    fn authorization(challenge: Option<String>, user: Option<i64>) -> Authorization {
        Authorization {
            redirect_uri: "http://x/cb".into(),
            state: Some("st".into()),
            challenge,
            user_id: user.and_then(UserId::from_i64),
        }
    }

    /// The code in a redirect.
    fn code_of(location: &str) -> String {
        let query = location.split_once('?').expect("query").1;
        let params: Params = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert!(params.contains(&("state".into(), "st".into())));
        params
            .into_iter()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1
    }

    fn code_request(code: &str, verifier: Option<&str>) -> TokenRequest {
        TokenRequest {
            client_id: "4242".into(),
            grant: Grant::AuthorizationCode {
                code: code.into(),
                redirect_uri: "http://x/cb".into(),
                verifier: verifier.map(str::to_string),
            },
        }
    }

    fn refresh_request(token: &str) -> TokenRequest {
        TokenRequest {
            client_id: "4242".into(),
            grant: Grant::RefreshToken {
                refresh_token: token.into(),
            },
        }
    }

    #[test]
    fn a_code_with_pkce_is_exchanged_once_and_refresh_tokens_rotate() {
        let db = memory();
        let verifier = pkce::new_verifier().expect("verifier");
        let location = approve(
            &db,
            &test_client(),
            &authorization(Some(pkce::challenge(&verifier)), None),
            1001,
            0,
        )
        .expect("approve")
        .expect("a seeded user");
        let code = code_of(&location);
        assert!(code.ends_with("-1001"));

        let wrong =
            exchange(&db, &code_request(&code, Some(&"x".repeat(43))), false, 1).expect("exchange");
        assert!(
            matches!(wrong, Err(OAuthError::InvalidGrant(_))),
            "wrong verifier"
        );
        let granted = exchange(&db, &code_request(&code, Some(&verifier)), false, 2)
            .expect("exchange")
            .expect("granted after a wrong verifier: the code is spent only on success");
        assert_eq!((granted.user_id, granted.expires_in), (1001, 21_600));
        assert!(granted.access_token.starts_with("APP_USR-4242-"));
        let replay =
            exchange(&db, &code_request(&code, Some(&verifier)), false, 3).expect("exchange");
        assert!(
            matches!(replay, Err(OAuthError::InvalidGrant(_))),
            "replayed"
        );
        assert_eq!(
            tokens::access_token_user(&db, &granted.access_token, 3).expect("user"),
            UserId::from_i64(1001)
        );

        let next = exchange(&db, &refresh_request(&granted.refresh_token), false, 4)
            .expect("exchange")
            .expect("refreshed");
        assert_ne!(next.refresh_token, granted.refresh_token);
        let again =
            exchange(&db, &refresh_request(&granted.refresh_token), false, 5).expect("exchange");
        assert!(
            matches!(again, Err(OAuthError::InvalidGrant(_))),
            "single use"
        );
        let revoked =
            exchange(&db, &refresh_request(&next.refresh_token), true, 6).expect("exchange");
        assert!(
            matches!(revoked, Err(OAuthError::InvalidGrant(_))),
            "revoked"
        );
        assert!(
            exchange(&db, &refresh_request(&next.refresh_token), false, 7)
                .expect("exchange")
                .is_ok()
        );
    }

    #[test]
    fn codes_expire_after_ten_minutes_and_approve_only_seeded_users() {
        let db = memory();
        let location = approve(
            &db,
            &test_client(),
            &authorization(None, Some(1002)),
            1001,
            0,
        )
        .expect("approve")
        .expect("seller b");
        let code = code_of(&location);
        assert!(code.ends_with("-1002"), "the request's user_id wins");
        let late = exchange(
            &db,
            &code_request(&code, None),
            false,
            oauth::CODE_SECS * 1000,
        )
        .expect("exchange");
        assert!(matches!(late, Err(OAuthError::InvalidGrant(_))));
        assert_eq!(
            approve(
                &db,
                &test_client(),
                &authorization(None, Some(4242)),
                1001,
                0
            )
            .expect("approve"),
            None
        );
        assert_eq!(
            approve(&db, &test_client(), &authorization(None, None), 7, 0).expect("approve"),
            None
        );
    }
}
