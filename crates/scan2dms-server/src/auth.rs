//! Who is calling: bearer tokens, dashboard sessions, and the guard that
//! applies each route's [`Access`] rule.
//!
//! A token is `<user id>.<secret>`. The store keeps the id in clear and an
//! argon2 hash of the secret, so a request looks the user up by id and
//! verifies one hash. Verified tokens are remembered for a short while
//! (keyed by id, holding a SHA-256 of the secret), which keeps argon2's
//! deliberate cost out of every API call; a token removed from the store
//! stops working once its entry expires.
//!
//! Dashboard sessions live in memory only: a restart logs staff out. The
//! cookie is HttpOnly and SameSite=Strict; forms carry the session's CSRF
//! token as a second guard.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{Access, ApiError, AppState, dashboard};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Uploads deliveries and sees its own batches.
    Contractor,
    /// Sees everything, retries, uses the dashboard.
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Contractor => "contractor",
            Role::Staff => "staff",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        match text {
            "contractor" => Ok(Role::Contractor),
            "staff" => Ok(Role::Staff),
            other => Err(format!("unknown role {other:?} (expected contractor or staff)")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly made token: show `token` once, store `user_id` and `token_hash`.
#[derive(Clone)]
pub struct NewToken {
    pub user_id: String,
    pub token: String,
    pub token_hash: String,
}

impl std::fmt::Debug for NewToken {
    /// The token never shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("user_id", &self.user_id).field("token", &"***").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("cannot hash the token: {0}")]
    Hash(String),
}

/// A new user id and secret from the operating system's randomness, and
/// the argon2id hash of the secret.
pub fn new_token() -> Result<NewToken, TokenError> {
    let user_id = hex::encode(random_bytes::<8>()?);
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let token_hash = Argon2::default()
        .hash_password(secret.as_bytes())
        .map_err(|error| TokenError::Hash(error.to_string()))?
        .to_string();
    Ok(NewToken { token: format!("{user_id}.{secret}"), user_id, token_hash })
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], TokenError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| TokenError::Random(error.to_string()))?;
    Ok(bytes)
}

/// A random hex id for sessions, CSRF tokens and uploads.
pub(crate) fn random_id() -> Result<String, ApiError> {
    random_bytes::<16>().map(hex::encode).map_err(|error| ApiError::Internal(error.to_string()))
}

/// The authenticated caller, put into the request by the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    /// Set when the caller came with a dashboard session (not a token).
    pub session: Option<SessionRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub id: String,
    pub csrf: String,
}

impl Caller {
    pub fn is_staff(&self) -> bool {
        self.role == Role::Staff
    }
}

/// Verified tokens, briefly.
pub(crate) struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedToken>>,
}

struct CachedToken {
    secret_sha256: [u8; 32],
    name: String,
    role: Role,
    until: Instant,
}

impl TokenCache {
    pub fn new(ttl: Duration) -> TokenCache {
        TokenCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn lookup(&self, user_id: &str, secret_sha256: &[u8; 32]) -> Option<(String, Role)> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(user_id)?;
        (entry.until > Instant::now() && constant_time_eq(&entry.secret_sha256, secret_sha256))
            .then(|| (entry.name.clone(), entry.role))
    }

    fn remember(&self, user_id: &str, secret_sha256: [u8; 32], name: &str, role: Role) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, entry| entry.until > now);
        entries.insert(
            user_id.to_owned(),
            CachedToken { secret_sha256, name: name.to_owned(), role, until: now + self.ttl },
        );
    }
}

/// Dashboard logins.
pub(crate) struct Sessions {
    ttl: Duration,
    entries: Mutex<HashMap<String, SessionEntry>>,
}

struct SessionEntry {
    user_id: String,
    name: String,
    csrf: String,
    until: Instant,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// Starts a session for a staff user; returns its id.
    pub fn start(&self, user_id: &str, name: &str) -> Result<String, ApiError> {
        let id = random_id()?;
        let csrf = random_id()?;
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, entry| entry.until > now);
        entries.insert(
            id.clone(),
            SessionEntry { user_id: user_id.to_owned(), name: name.to_owned(), csrf, until: now + self.ttl },
        );
        Ok(id)
    }

    pub fn end(&self, id: &str) {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    fn caller(&self, id: &str) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(id).filter(|entry| entry.until > Instant::now())?;
        Some(Caller {
            user_id: entry.user_id.clone(),
            name: entry.name.clone(),
            role: Role::Staff,
            session: Some(SessionRef { id: id.to_owned(), csrf: entry.csrf.clone() }),
        })
    }
}

pub const SESSION_COOKIE: &str = "scan2dms_session";

/// The `Set-Cookie` value that starts (or, with `None`, ends) a session.
pub fn session_cookie(state: &AppState, id: Option<&str>) -> String {
    let secure = if state.options().secure_cookies { "; Secure" } else { "" };
    match id {
        Some(id) => format!(
            "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            state.options().session_ttl.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Checks a token (`<id>.<secret>`) against the store; `None` when it is
/// not a valid token of any user.
pub(crate) async fn verify_token(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    let Some((user_id, secret)) = token.trim().split_once('.') else { return Ok(None) };
    if user_id.is_empty() || user_id.len() > 64 || !user_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let secret_sha256: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let tokens = &state.inner.tokens;
    if let Some((name, role)) = tokens.lookup(user_id, &secret_sha256) {
        return Ok(Some(Caller { user_id: user_id.to_owned(), name, role, session: None }));
    }
    let id = user_id.to_owned();
    let Some(user) = state.store(move |store| store.user(&id)).await? else { return Ok(None) };
    let Ok(role) = user.role.parse::<Role>() else { return Ok(None) };
    let secret = secret.to_owned();
    let hash = user.token_hash.clone();
    // Argon2 is slow on purpose: keep it off the async threads.
    let verified = tokio::task::spawn_blocking(move || Argon2::default().verify_password(secret.as_bytes(), &*hash))
        .await
        .map_err(|error| ApiError::Internal(format!("token check panicked: {error}")))?;
    if verified.is_err() {
        return Ok(None);
    }
    tokens.remember(user_id, secret_sha256, &user.name, role);
    Ok(Some(Caller { user_id: user.user_id, name: user.name, role, session: None }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

async fn token_caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    match bearer(headers) {
        Some(token) => verify_token(state, token).await,
        None => Ok(None),
    }
}

/// Applies a route's [`Access`] rule and hands the [`Caller`] to the handler.
pub(crate) async fn guard(
    State((state, access)): State<(AppState, Access)>,
    mut request: Request,
    next: Next,
) -> Response {
    match access {
        Access::Public | Access::Login => next.run(request).await,
        Access::Token | Access::StaffToken => match token_caller(&state, request.headers()).await {
            Err(error) => error.into_response(),
            Ok(None) => ApiError::Unauthorized.into_response(),
            Ok(Some(caller)) if access == Access::StaffToken && !caller.is_staff() => {
                ApiError::Forbidden("only staff may do this".to_owned()).into_response()
            }
            Ok(Some(caller)) => {
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
        },
        Access::StaffPage | Access::StaffForm => {
            let caller = match token_caller(&state, request.headers()).await {
                Err(error) => return dashboard::error_page(&error),
                Ok(Some(caller)) => Some(caller),
                Ok(None) => session_id(request.headers()).and_then(|id| state.inner.sessions.caller(&id)),
            };
            let Some(caller) = caller else {
                let next_path = if request.method() == axum::http::Method::GET {
                    request.uri().path_and_query().map(ToString::to_string)
                } else {
                    None
                };
                return dashboard::login_page(StatusCode::UNAUTHORIZED, next_path.as_deref(), None);
            };
            if !caller.is_staff() {
                return dashboard::error_page(&ApiError::Forbidden(
                    "Das Dashboard ist nur für Mitarbeitende der Stadt.".to_owned(),
                ));
            }
            if access == Access::StaffForm
                && let Some(session) = &caller.session
            {
                request = match check_csrf(request, &session.csrf).await {
                    Ok(request) => request,
                    Err(error) => return dashboard::error_page(&error),
                };
            }
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
    }
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Forms sent with a session cookie must carry the session's CSRF token.
async fn check_csrf(request: Request, expected: &str) -> Result<Request, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|error| ApiError::BadRequest(format!("cannot read the form: {error}")))?;
    let mut probe = Request::new(Body::from(bytes.clone()));
    // The form extractor reads the query string of a GET, the body otherwise.
    *probe.method_mut() = parts.method.clone();
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        probe.headers_mut().insert(header::CONTENT_TYPE, content_type.clone());
    }
    let axum::Form(field) = axum::Form::<CsrfField>::from_request(probe, &())
        .await
        .map_err(|error| ApiError::BadRequest(format!("not a form: {error}")))?;
    if !constant_time_eq(field.csrf.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Forbidden("Formular abgelaufen oder ungültig; bitte die Seite neu laden.".to_owned()));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_argon2id_hash_of_the_secret_is_kept() {
        let made = new_token().unwrap();
        let (user_id, secret) = made.token.split_once('.').unwrap();
        assert_eq!(user_id, made.user_id);
        assert!(made.token_hash.starts_with("$argon2id$"), "{}", made.token_hash);
        assert!(!made.token_hash.contains(secret));
        let hash = argon2::PasswordHash::new(&made.token_hash).unwrap();
        assert!(Argon2::default().verify_password(secret.as_bytes(), &hash).is_ok());
        assert!(Argon2::default().verify_password(b"not the secret", &hash).is_err());
        let other = new_token().unwrap();
        assert_ne!(other.user_id, made.user_id);
        assert_ne!(other.token_hash, made.token_hash, "salted");
    }
}
