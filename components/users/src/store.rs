//! Users' SQL: accounts and refresh tokens. Refresh tokens are stored only
//! as hashes, grouped in families (one per login) so a detected reuse can
//! revoke every token descended from that login at once.

use platform::auth::Role;
use platform::clock::{now_ms, rfc3339_from_ms};
use platform::db::{int, text, Db, Migration};
use platform::{outbox, ApiError};
use serde::Serialize;
use spin_sdk::sqlite3::{QueryResult, Value};

use crate::domain::{self, RefreshState, RefreshStatus};

const SCHEMA: Migration = &[
    "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
        password_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL)",
    "CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        family_id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users (id),
        status TEXT NOT NULL CHECK (status IN ('active', 'used', 'revoked')),
        expires_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        used_at_ms INTEGER)",
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
];

/// Sessions: one per login, the refresh family's id and the access
/// tokens' `sid`. The source of truth for revocation (Redis holds a
/// copy); each has an absolute end. Families from before are carried over
/// with 90 days from their first token.
const SESSIONS: Migration = &[
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id),
        created_at_ms INTEGER NOT NULL,
        ends_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER)",
    "CREATE INDEX sessions_revoked ON sessions (revoked_at_ms) WHERE revoked_at_ms IS NOT NULL",
    "INSERT INTO sessions (id, user_id, created_at_ms, ends_at_ms, revoked_at_ms)
     SELECT family_id, MIN(user_id), MIN(created_at_ms), MIN(created_at_ms) + 7776000000,
            CASE WHEN SUM(status = 'revoked') > 0 THEN MAX(created_at_ms) END
     FROM refresh_tokens GROUP BY family_id",
];

/// The schema, in order. `users` consumes no events, so it has no inbox.
/// People who sign in through another provider (MercadoLibre): the
/// provider's id of them, and their account here.
const IDENTITIES: Migration = &["CREATE TABLE identities (
        provider TEXT NOT NULL,
        subject TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users (id),
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (provider, subject))"];

pub const MIGRATIONS: &[Migration] = &[SCHEMA, outbox::MIGRATION, SESSIONS, IDENTITIES];

/// The account a provider's identity signs in to.
pub fn identity_user(db: &Db, provider: &str, subject: &str) -> Result<Option<String>, ApiError> {
    let r = db.execute(
        "SELECT user_id FROM identities WHERE provider = ? AND subject = ?",
        &[text(provider), text(subject)],
    )?;
    Ok(r.rows
        .first()
        .and_then(|row| row.get::<&str>(0))
        .map(str::to_string))
}

/// Records that `subject` at `provider` signs in to `user_id`.
pub fn add_identity(db: &Db, provider: &str, subject: &str, user_id: &str) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO identities (provider, subject, user_id, created_at_ms) VALUES (?, ?, ?, ?)",
        &[text(provider), text(subject), text(user_id), int(now_ms())],
    )?;
    Ok(())
}

/// An account as clients see it: never the password hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// An account with its password hash, for login only.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub password_hash: String,
}

const USER_COLUMNS: &str = "id, email, name, role, created_at_ms, updated_at_ms, password_hash";

fn accounts(r: &QueryResult) -> Result<Vec<Account>, ApiError> {
    r.rows
        .iter()
        .map(|row| match row.values.as_slice() {
            [Value::Text(id), Value::Text(email), Value::Text(name), Value::Text(role), Value::Integer(created), Value::Integer(updated), Value::Text(hash)] => {
                Ok(Account {
                    user: User {
                        id: id.clone(),
                        email: email.clone(),
                        name: name.clone(),
                        role: domain::parse_role(role)
                            .ok_or_else(|| ApiError::internal(format!("user {id} has role {role:?}")))?,
                        created_at: rfc3339_from_ms(*created),
                        updated_at: rfc3339_from_ms(*updated),
                    },
                    password_hash: hash.clone(),
                })
            }
            _ => Err(ApiError::internal("malformed users row")),
        })
        .collect()
}

fn account_where(db: &Db, clause: &str, param: &str) -> Result<Option<Account>, ApiError> {
    let r = db.execute(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}"),
        &[text(param)],
    )?;
    Ok(accounts(&r)?.into_iter().next())
}

pub fn account_by_email(db: &Db, email: &str) -> Result<Option<Account>, ApiError> {
    account_where(db, "email = ?", email)
}

pub fn user(db: &Db, id: &str) -> Result<Option<User>, ApiError> {
    Ok(account_where(db, "id = ?", id)?.map(|a| a.user))
}

/// Creates an account; `false` when the email is taken.
pub fn create_user(
    db: &Db,
    id: &str,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<bool, ApiError> {
    let now = now_ms();
    db.execute(
        "INSERT INTO users (id, email, name, role, password_hash, created_at_ms, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
        &[
            text(id),
            text(email),
            text(name),
            text(role.as_str()),
            text(password_hash),
            int(now),
            int(now),
        ],
    )?;
    Ok(db.changes() == 1)
}

/// Renames a user; `false` when there is no such user.
pub fn set_name(db: &Db, id: &str, name: &str) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE users SET name = ?, updated_at_ms = ? WHERE id = ?",
        &[text(name), int(now_ms()), text(id)],
    )?;
    Ok(db.changes() == 1)
}

/// Replaces a password hash made with older argon2 parameters.
pub fn set_password_hash(db: &Db, id: &str, hash: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        &[text(hash), text(id)],
    )?;
    Ok(())
}

/// A page of users ordered by id (UUID v7: creation order).
pub fn list_users(db: &Db, after: Option<&str>, limit: u32) -> Result<Vec<User>, ApiError> {
    let r = db.execute(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?"),
        &[text(after.unwrap_or("")), int(i64::from(limit))],
    )?;
    Ok(accounts(&r)?.into_iter().map(|a| a.user).collect())
}

/// A stored refresh token, found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub family_id: String,
    pub user_id: String,
    pub state: RefreshState,
}

/// Stores a new active refresh token.
pub fn insert_refresh(
    db: &Db,
    token_hash: &str,
    family_id: &str,
    user_id: &str,
    expires_at_ms: i64,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, status, expires_at_ms, created_at_ms)
         VALUES (?, ?, ?, 'active', ?, ?)",
        &[
            text(token_hash),
            text(family_id),
            text(user_id),
            int(expires_at_ms),
            int(now_ms()),
        ],
    )?;
    Ok(())
}

pub fn refresh(db: &Db, token_hash: &str) -> Result<Option<RefreshRecord>, ApiError> {
    let r = db.execute(
        "SELECT family_id, user_id, status, expires_at_ms FROM refresh_tokens WHERE token_hash = ?",
        &[text(token_hash)],
    )?;
    let Some(row) = r.rows.first() else {
        return Ok(None);
    };
    match row.values.as_slice() {
        [Value::Text(family), Value::Text(user), Value::Text(status), Value::Integer(expires)] => {
            Ok(Some(RefreshRecord {
                family_id: family.clone(),
                user_id: user.clone(),
                state: RefreshState {
                    status: RefreshStatus::parse(status).ok_or_else(|| {
                        ApiError::internal(format!("refresh token status {status:?}"))
                    })?,
                    expires_at_ms: *expires,
                },
            }))
        }
        _ => Err(ApiError::internal("malformed refresh_tokens row")),
    }
}

/// Marks an active token used; `false` if it was no longer active.
pub fn mark_used(db: &Db, token_hash: &str) -> Result<bool, ApiError> {
    db.execute(
        "UPDATE refresh_tokens SET status = 'used', used_at_ms = ? WHERE token_hash = ? AND status = 'active'",
        &[int(now_ms()), text(token_hash)],
    )?;
    Ok(db.changes() == 1)
}

/// Revokes every token of a family and its session; returns how many
/// tokens changed.
pub fn revoke_family(db: &Db, family_id: &str) -> Result<u64, ApiError> {
    db.execute(
        "UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = ? AND status != 'revoked'",
        &[text(family_id)],
    )?;
    let tokens = db.changes();
    db.execute(
        "UPDATE sessions SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
        &[int(now_ms()), text(family_id)],
    )?;
    Ok(tokens)
}

/// A session: whose it is, when it ends, whether it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub ends_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// Starts a session for `user_id` that ends at `ends_at_ms`.
pub fn create_session(db: &Db, id: &str, user_id: &str, ends_at_ms: i64) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO sessions (id, user_id, created_at_ms, ends_at_ms) VALUES (?, ?, ?, ?)",
        &[text(id), text(user_id), int(now_ms()), int(ends_at_ms)],
    )?;
    Ok(())
}

fn sessions(r: &QueryResult) -> Result<Vec<Session>, ApiError> {
    r.rows
        .iter()
        .map(|row| match row.values.as_slice() {
            [Value::Text(id), Value::Text(user), Value::Integer(ends), revoked] => Ok(Session {
                id: id.clone(),
                user_id: user.clone(),
                ends_at_ms: *ends,
                revoked_at_ms: match revoked {
                    Value::Integer(at) => Some(*at),
                    _ => None,
                },
            }),
            _ => Err(ApiError::internal("malformed sessions row")),
        })
        .collect()
}

pub fn session(db: &Db, id: &str) -> Result<Option<Session>, ApiError> {
    let r = db.execute(
        "SELECT id, user_id, ends_at_ms, revoked_at_ms FROM sessions WHERE id = ?",
        &[text(id)],
    )?;
    Ok(sessions(&r)?.into_iter().next())
}

/// Sessions revoked at or after `since_ms`: those whose access tokens may
/// still be unexpired.
pub fn revoked_since(db: &Db, since_ms: i64) -> Result<Vec<Session>, ApiError> {
    let r = db.execute(
        "SELECT id, user_id, ends_at_ms, revoked_at_ms FROM sessions
         WHERE revoked_at_ms IS NOT NULL AND revoked_at_ms >= ? ORDER BY revoked_at_ms",
        &[int(since_ms)],
    )?;
    sessions(&r)
}

/// Whether any account has the admin role.
pub fn admin_exists(db: &Db) -> Result<bool, ApiError> {
    let r = db.execute(
        "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
        &[],
    )?;
    Ok(platform::db::first_i64(&r).unwrap_or(0) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        Db::memory(MIGRATIONS).expect("db")
    }

    fn ann(db: &Db) -> User {
        assert!(create_user(
            db,
            "u-1",
            "ann@example.com",
            "Ann",
            Role::Customer,
            "hash-1"
        )
        .expect("create"));
        user(db, "u-1").expect("read").expect("ann")
    }

    #[test]
    fn accounts_are_unique_by_email_and_never_show_their_hash() {
        let db = db();
        let _clock = platform::clock::pin(1_795_337_554_740);
        let ann = ann(&db);
        assert_eq!(
            (ann.email.as_str(), ann.role),
            ("ann@example.com", Role::Customer)
        );
        assert_eq!(ann.created_at, "2026-11-22T08:52:34.740Z");
        assert!(
            !create_user(&db, "u-2", "ann@example.com", "Other", Role::Admin, "h").expect("taken")
        );
        let account = account_by_email(&db, "ann@example.com")
            .expect("read")
            .expect("found");
        assert_eq!(
            (account.user, account.password_hash.as_str()),
            (ann, "hash-1")
        );
        assert!(account_by_email(&db, "bob@example.com")
            .expect("read")
            .is_none());
        assert!(serde_json::to_string(&user(&db, "u-1").expect("read"))
            .expect("json")
            .contains("ann@"));
    }

    #[test]
    fn names_and_hashes_change_and_lists_page_by_id() {
        let db = db();
        ann(&db);
        assert!(set_name(&db, "u-1", "Ann Lee").expect("rename"));
        assert!(!set_name(&db, "u-9", "Nobody").expect("no such user"));
        set_password_hash(&db, "u-1", "hash-2").expect("rehash");
        let account = account_by_email(&db, "ann@example.com")
            .expect("read")
            .expect("found");
        assert_eq!(
            (account.user.name.as_str(), account.password_hash.as_str()),
            ("Ann Lee", "hash-2")
        );
        create_user(&db, "u-2", "bob@example.com", "Bob", Role::Admin, "h").expect("bob");
        let first = list_users(&db, None, 1).expect("page");
        assert_eq!(
            first.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["u-1"]
        );
        let next = list_users(&db, Some("u-1"), 10).expect("page");
        assert_eq!(
            next.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["u-2"]
        );
    }

    #[test]
    fn refresh_tokens_are_used_once_and_revoked_by_family() {
        let db = db();
        ann(&db);
        insert_refresh(&db, "t1", "fam-1", "u-1", 5_000).expect("t1");
        insert_refresh(&db, "t2", "fam-1", "u-1", 6_000).expect("t2");
        let t1 = refresh(&db, "t1").expect("read").expect("t1");
        assert_eq!(
            (
                t1.family_id.as_str(),
                t1.state.status,
                t1.state.expires_at_ms
            ),
            ("fam-1", RefreshStatus::Active, 5_000)
        );
        assert!(mark_used(&db, "t1").expect("use"));
        assert!(
            !mark_used(&db, "t1").expect("twice"),
            "a token is used once"
        );
        assert_eq!(
            refresh(&db, "t1").expect("read").expect("t1").state.status,
            RefreshStatus::Used
        );
        assert_eq!(revoke_family(&db, "fam-1").expect("revoke"), 2);
        assert_eq!(revoke_family(&db, "fam-1").expect("again"), 0);
        assert_eq!(
            refresh(&db, "t2").expect("read").expect("t2").state.status,
            RefreshStatus::Revoked
        );
        assert!(refresh(&db, "t9").expect("read").is_none());
    }

    #[test]
    fn sessions_end_and_are_revoked_with_their_family() {
        let db = db();
        ann(&db);
        let _clock = platform::clock::pin(10_000);
        create_session(&db, "fam-1", "u-1", 99_000).expect("session");
        create_session(&db, "fam-2", "u-1", 99_000).expect("session");
        insert_refresh(&db, "t1", "fam-1", "u-1", 50_000).expect("t1");
        assert_eq!(
            session(&db, "fam-1").expect("read"),
            Some(Session {
                id: "fam-1".into(),
                user_id: "u-1".into(),
                ends_at_ms: 99_000,
                revoked_at_ms: None
            })
        );
        assert!(revoked_since(&db, 0).expect("none").is_empty());
        assert_eq!(revoke_family(&db, "fam-1").expect("revoke"), 1);
        assert_eq!(
            session(&db, "fam-1")
                .expect("read")
                .and_then(|s| s.revoked_at_ms),
            Some(10_000)
        );
        let revoked = revoked_since(&db, 10_000).expect("read");
        assert_eq!(
            revoked.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["fam-1"]
        );
        assert!(revoked_since(&db, 10_001).expect("read").is_empty());
        assert!(!admin_exists(&db).expect("read"));
        create_user(&db, "u-2", "root@example.com", "Root", Role::Admin, "h").expect("admin");
        assert!(admin_exists(&db).expect("read"));
    }
}
