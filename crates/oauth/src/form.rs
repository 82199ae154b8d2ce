//! Reading `application/x-www-form-urlencoded` bodies and HTTP Basic client credentials, with
//! errors in OAuth's shape instead of a framework's plain text.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;
use bytes::Bytes;
use graphdrive_drive::signin::{OAuthCode, OAuthError};

/// A form's fields. A field given twice is an error, as RFC 6749 asks.
pub struct Fields(HashMap<String, String>);

impl Fields {
    pub fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !body.is_empty()
            && !content_type
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        {
            return Err(OAuthError::new(
                OAuthCode::InvalidRequest,
                Some(900144),
                "The request body must be application/x-www-form-urlencoded.",
            ));
        }
        Self::from_pairs(url::form_urlencoded::parse(body))
    }

    pub fn from_query(query: Option<&str>) -> Result<Self, OAuthError> {
        Self::from_pairs(url::form_urlencoded::parse(query.unwrap_or("").as_bytes()))
    }

    fn from_pairs<'a>(
        pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::new(
                    OAuthCode::InvalidRequest,
                    Some(90015),
                    format!("The parameter '{k}' was given more than once."),
                ));
            }
        }
        Ok(Self(map))
    }

    /// A field's value; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// The client id and secret of an `Authorization: Basic` header (each form-urlencoded, as
/// RFC 6749 §2.3.1 says), if there is one.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::new(
            OAuthCode::InvalidClient,
            Some(7000216),
            "The Authorization header is not valid Basic client authentication.",
        )
    };
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}
