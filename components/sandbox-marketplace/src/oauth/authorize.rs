//! The authorization endpoint's rules: an application and redirect URI
//! that are not the registered ones get a page, never a redirect; any
//! other mistake goes back to the redirect URI with OAuth's `error`.

use platform::pkce;

use super::{single, Client, Params};
use crate::domain::UserId;

/// An authorization request that may be approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub redirect_uri: String,
    pub state: Option<String>,
    /// The PKCE `S256` challenge, when the client sent one.
    pub challenge: Option<String>,
    /// The seeded user to approve as (sandbox only), instead of the
    /// control's `approve_user_id`.
    pub user_id: Option<UserId>,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or redirect URI cannot be trusted (or the sandbox's own
    /// `user_id` is malformed): a 400 page, never a redirect.
    Page(String),
    /// The client is known: back to its redirect URI with `error`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// Checks `GET /authorization`'s query against the client.
pub fn authorize(params: &Params, client: &Client) -> Result<Authorization, Refusal> {
    let page = Refusal::Page;
    let client_id = single(params, "client_id").map_err(page)?;
    if client_id != Some(client.id.as_str()) || client.id.is_empty() {
        return Err(page("client_id is not a registered application".into()));
    }
    let redirect_uri = single(params, "redirect_uri").map_err(page)?;
    if redirect_uri != Some(client.redirect_uri.as_str()) || client.redirect_uri.is_empty() {
        return Err(page(
            "redirect_uri is not the application's registered redirect URI".into(),
        ));
    }
    let user_id = match single(params, "user_id").map_err(page)? {
        None => None,
        Some(v) => {
            Some(UserId::parse(v).ok_or_else(|| page("user_id must name a seeded user".into()))?)
        }
    };
    let state = single(params, "state").ok().flatten().map(str::to_string);
    let redirect = |error: &'static str, description: String| Refusal::Redirect {
        redirect_uri: client.redirect_uri.clone(),
        state: state.clone(),
        error,
        description,
    };
    let invalid = |why: String| redirect("invalid_request", why);
    single(params, "state").map_err(invalid)?;
    match single(params, "response_type").map_err(invalid)? {
        Some("code") => {}
        Some(_) => {
            return Err(redirect(
                "unsupported_response_type",
                "response_type must be code".into(),
            ))
        }
        None => return Err(invalid("response_type is required".into())),
    }
    let challenge = single(params, "code_challenge").map_err(invalid)?;
    let method = single(params, "code_challenge_method").map_err(invalid)?;
    let challenge = match (challenge, method) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(invalid(
                "code_challenge_method was sent without a code_challenge".into(),
            ))
        }
        (Some(_), m) if m != Some(pkce::S256) => {
            return Err(invalid("code_challenge_method must be S256".into()))
        }
        (Some(c), _) if !pkce::well_formed(c) => {
            return Err(invalid(
                "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".into(),
            ))
        }
        (Some(c), _) => Some(c.to_string()),
    };
    Ok(Authorization {
        redirect_uri: client.redirect_uri.clone(),
        state,
        challenge,
        user_id,
    })
}

/// `redirect_uri` with `pairs` added to its query.
pub fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::tests::{client, params};

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn good_authorization() -> Vec<(&'static str, &'static str)> {
        vec![
            ("response_type", "code"),
            ("client_id", "4242"),
            ("redirect_uri", "http://127.0.0.1:3000/api/auth/callback"),
            ("state", "s-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    #[test]
    fn an_authorization_request_is_checked_page_first_then_redirect() {
        let ok = authorize(&params(&good_authorization()), &client()).expect("valid");
        assert_eq!(ok.challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(ok.state.as_deref(), Some("s-1"));
        let mut as_b = good_authorization();
        as_b.push(("user_id", "1002"));
        let ok = authorize(&params(&as_b), &client()).expect("as another user");
        assert_eq!(ok.user_id.map(UserId::get), Some(1002));

        let with = |change: (&'static str, &'static str)| {
            let mut p: Vec<_> = good_authorization()
                .into_iter()
                .filter(|(k, _)| *k != change.0)
                .collect();
            p.push(change);
            authorize(&params(&p), &client())
        };
        for change in [
            ("client_id", "other"),
            ("redirect_uri", "https://evil.example/cb"),
            ("redirect_uri", "http://127.0.0.1:3000/api/auth/callback/"),
            ("user_id", "abc"),
        ] {
            assert!(
                matches!(with(change), Err(Refusal::Page(_))),
                "{change:?} is a page"
            );
        }
        let mut twice = good_authorization();
        twice.push(("client_id", "4242"));
        assert!(matches!(
            authorize(&params(&twice), &client()),
            Err(Refusal::Page(_))
        ));
        for (change, error) in [
            (("response_type", "token"), "unsupported_response_type"),
            (("code_challenge_method", "plain"), "invalid_request"),
            (("code_challenge", "short"), "invalid_request"),
        ] {
            match with(change) {
                Err(Refusal::Redirect {
                    error: e, state, ..
                }) => {
                    assert_eq!((e, state.as_deref()), (error, Some("s-1")), "{change:?}")
                }
                other => panic!("{change:?}: {other:?}"),
            }
        }
        let without_method: Vec<_> = good_authorization()
            .into_iter()
            .filter(|(k, _)| *k != "code_challenge_method")
            .collect();
        assert!(matches!(
            authorize(&params(&without_method), &client()),
            Err(Refusal::Redirect { .. })
        ));
        let no_pkce: Vec<_> = good_authorization()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("code_challenge"))
            .collect();
        assert_eq!(
            authorize(&params(&no_pkce), &client())
                .expect("PKCE is optional")
                .challenge,
            None
        );
    }

    #[test]
    fn redirects_keep_the_uris_own_query_and_encode_values() {
        assert_eq!(
            redirect_to("http://a/cb", &[("code", "TG-1"), ("state", "a b&c")]),
            "http://a/cb?code=TG-1&state=a+b%26c"
        );
        assert_eq!(
            redirect_to("http://a/cb?x=1", &[("code", "c")]),
            "http://a/cb?x=1&code=c"
        );
    }
}
