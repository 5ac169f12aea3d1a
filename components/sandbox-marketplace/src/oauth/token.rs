//! The token endpoint's rules: its parameters (a form, or JSON), the
//! client's authentication before anything else, and a code's binding to
//! its client, redirect URI and PKCE challenge.

use platform::pkce;

use super::{single, Client, CodeGrant, Params};
use crate::ml_error::OAuthError;

/// A token request that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub client_id: String,
    pub grant: Grant,
}

/// What a token request asks to exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode {
        code: String,
        redirect_uri: String,
        verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
    },
}

impl Grant {
    /// Its `grant_type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::RefreshToken { .. } => "refresh_token",
        }
    }
}

/// A token request's parameters: a form (the default, as MercadoLibre
/// documents it) or a JSON object of strings (or numbers).
pub fn token_params(content_type: Option<&str>, body: &[u8]) -> Result<Params, OAuthError> {
    let json = content_type.is_some_and(|ct| {
        let ct = ct.trim().to_ascii_lowercase();
        ct.starts_with("application/json")
            || (ct.starts_with("application/") && ct.contains("+json"))
    });
    if !json {
        return Ok(form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect());
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|_| OAuthError::InvalidRequest("the body must be a JSON object".into()))?;
    object
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            serde_json::Value::Number(n) => Ok((k, n.to_string())),
            _ => Err(OAuthError::InvalidRequest(format!("{k} must be a string"))),
        })
        .collect()
}

/// Reads a token request and authenticates its client: `invalid_client`
/// before anything about the grant is said.
pub fn token_request(params: &Params, client: &Client) -> Result<TokenRequest, OAuthError> {
    let get = |name: &str| single(params, name).map_err(OAuthError::InvalidRequest);
    let grant_type = get("grant_type")?
        .ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::UnsupportedGrantType);
    }
    let client_id = get("client_id")?.unwrap_or_default();
    let secret = get("client_secret")?.unwrap_or_default();
    if !client.authenticates(client_id, secret) {
        return Err(OAuthError::InvalidClient);
    }
    let required = |name: &str| {
        get(name)?
            .map(str::to_string)
            .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
    };
    let grant = if grant_type == "authorization_code" {
        Grant::AuthorizationCode {
            code: required("code")?,
            redirect_uri: required("redirect_uri")?,
            verifier: get("code_verifier")?.map(str::to_string),
        }
    } else {
        Grant::RefreshToken {
            refresh_token: required("refresh_token")?,
        }
    };
    Ok(TokenRequest {
        client_id: client_id.to_string(),
        grant,
    })
}

/// Whether a code may be exchanged by this client, for this redirect URI,
/// with this verifier.
pub fn check_binding(
    code: &CodeGrant,
    client_id: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    let refuse = |why: &str| Err(OAuthError::InvalidGrant(why.into()));
    if code.client_id != client_id {
        return refuse("the code was issued to another client");
    }
    if code.redirect_uri != redirect_uri {
        return refuse("redirect_uri does not match the authorization request");
    }
    match (&code.challenge, verifier) {
        (Some(_), None) => refuse("code_verifier is required"),
        (Some(challenge), Some(v)) if !pkce::verifies(v, challenge) => {
            refuse("code_verifier does not match the code_challenge")
        }
        (None, Some(_)) => refuse("no code_challenge was sent for this code"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use crate::oauth::tests::{client, SECRET};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn token_requests_come_as_forms_or_json_and_authenticate_the_client_first() {
        let form = token_params(
            Some("application/x-www-form-urlencoded"),
            format!(
                "grant_type=refresh_token&client_id=4242&client_secret={SECRET}&refresh_token=TG-x"
            )
            .as_bytes(),
        )
        .expect("form");
        let request = token_request(&form, &client()).expect("valid");
        assert_eq!(
            request.grant,
            Grant::RefreshToken {
                refresh_token: "TG-x".into()
            }
        );
        let json = token_params(
            Some("application/json"),
            format!(r#"{{"grant_type":"authorization_code","client_id":4242,"client_secret":"{SECRET}","code":"TG-c","redirect_uri":"http://x/cb"}}"#)
                .as_bytes(),
        )
        .expect("json");
        let request = token_request(&json, &client()).expect("valid");
        assert_eq!(request.grant.kind(), "authorization_code");

        let refused = |body: String| {
            let p = token_params(None, body.as_bytes())?;
            token_request(&p, &client())
        };
        assert_eq!(
            refused(format!(
                "grant_type=password&client_id=4242&client_secret={SECRET}"
            )),
            Err(OAuthError::UnsupportedGrantType)
        );
        assert_eq!(
            refused(
                "grant_type=refresh_token&client_id=4242&client_secret=wrong&refresh_token=x"
                    .into()
            ),
            Err(OAuthError::InvalidClient)
        );
        assert_eq!(
            refused("grant_type=refresh_token&refresh_token=x".into()),
            Err(OAuthError::InvalidClient)
        );
        assert!(matches!(
            refused("client_id=4242".into()),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            refused(format!("grant_type=authorization_code&client_id=4242&client_secret={SECRET}&code=c")),
            Err(OAuthError::InvalidRequest(why)) if why.contains("redirect_uri")
        ));
        assert!(matches!(
            refused(format!("grant_type=refresh_token&grant_type=refresh_token&client_id=4242&client_secret={SECRET}")),
            Err(OAuthError::InvalidRequest(why)) if why.contains("repeated")
        ));
        for bad in ["[1]", "{not json", r#"{"grant_type": ["x"]}"#] {
            assert!(matches!(
                token_params(Some("application/json"), bad.as_bytes()),
                Err(OAuthError::InvalidRequest(_))
            ));
        }
        let short = Client {
            secret: "short".into(),
            ..client()
        };
        assert!(
            !short.authenticates("4242", "short"),
            "a short secret guards nothing"
        );
    }

    #[test]
    fn a_code_is_bound_to_its_client_redirect_uri_and_verifier() {
        let code = CodeGrant {
            client_id: "4242".into(),
            redirect_uri: "http://x/cb".into(),
            challenge: Some(CHALLENGE.into()),
            user_id: UserId::from_i64(1001).expect("user"),
        };
        assert_eq!(
            check_binding(&code, "4242", "http://x/cb", Some(VERIFIER)),
            Ok(())
        );
        for (client_id, uri, verifier) in [
            ("4243", "http://x/cb", Some(VERIFIER)),
            ("4242", "http://x/cb2", Some(VERIFIER)),
            ("4242", "http://x/cb", None),
            ("4242", "http://x/cb", Some(&VERIFIER[..42])),
            (
                "4242",
                "http://x/cb",
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
            ),
        ] {
            assert!(
                matches!(
                    check_binding(&code, client_id, uri, verifier),
                    Err(OAuthError::InvalidGrant(_))
                ),
                "{client_id} {uri} {verifier:?}"
            );
        }
        let plain = CodeGrant {
            challenge: None,
            ..code
        };
        assert_eq!(check_binding(&plain, "4242", "http://x/cb", None), Ok(()));
        assert!(check_binding(&plain, "4242", "http://x/cb", Some(VERIFIER)).is_err());
    }
}
