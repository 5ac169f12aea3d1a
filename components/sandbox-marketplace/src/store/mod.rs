//! The sandbox's SQL: the schema and its seed (two sellers, their items,
//! three categories), the settings and counters, and one module per part
//! of the API.

pub mod catalog;
pub mod control;
pub mod notifications;
pub mod oauth;

use platform::db::Migration;

const SCHEMA: Migration = &[
    "CREATE TABLE control (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        failure_rate REAL NOT NULL,
        latency_ms INTEGER NOT NULL,
        outage INTEGER NOT NULL,
        rate_limit_per_minute INTEGER NOT NULL,
        approve_user_id INTEGER NOT NULL,
        revoke_refresh_tokens INTEGER NOT NULL)",
    "INSERT INTO control (id, failure_rate, latency_ms, outage, rate_limit_per_minute,
        approve_user_id, revoke_refresh_tokens)
     VALUES (1, 0, 0, 0, 0, 1001, 0)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY CHECK (id > 0),
        nickname TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        first_name TEXT NOT NULL,
        last_name TEXT NOT NULL,
        country_id TEXT NOT NULL,
        site_id TEXT NOT NULL,
        permalink TEXT NOT NULL)",
    "CREATE TABLE categories (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        parent_id TEXT REFERENCES categories (id))",
    "CREATE TABLE items (
        id TEXT PRIMARY KEY,
        seller_id INTEGER NOT NULL REFERENCES users (id),
        site_id TEXT NOT NULL,
        title TEXT NOT NULL,
        category_id TEXT NOT NULL REFERENCES categories (id),
        price_cents INTEGER NOT NULL CHECK (price_cents > 0),
        currency_id TEXT NOT NULL,
        available_quantity INTEGER NOT NULL CHECK (available_quantity >= 0),
        sold_quantity INTEGER NOT NULL DEFAULT 0 CHECK (sold_quantity >= 0),
        status TEXT NOT NULL,
        permalink TEXT NOT NULL,
        last_updated_ms INTEGER NOT NULL)",
    "CREATE INDEX items_seller ON items (seller_id, id)",
    "CREATE INDEX items_category ON items (category_id)",
    // Codes and tokens are kept only as their SHA-256.
    "CREATE TABLE authorization_codes (
        code_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        code_challenge TEXT,
        user_id INTEGER NOT NULL REFERENCES users (id),
        expires_at_ms INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE access_tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users (id),
        expires_at_ms INTEGER NOT NULL)",
    "CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users (id),
        expires_at_ms INTEGER NOT NULL,
        used INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        resource TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        topic TEXT NOT NULL,
        application_id INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        tries INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        sent_at_ms INTEGER,
        delivered_at_ms INTEGER)",
    "CREATE INDEX notifications_due ON notifications (status, next_attempt_at_ms)",
];

/// The test users, categories and items every sandbox starts with.
const SEED: Migration = &[
    "INSERT INTO users (id, nickname, email, first_name, last_name, country_id, site_id, permalink) VALUES
     (1001, 'TESTSELLER_A', 'test_seller_a@testuser.com', 'Test', 'Seller A', 'AR', 'MLA',
      'http://perfil.mercadolibre.com.ar/TESTSELLER_A'),
     (1002, 'TESTSELLER_B', 'test_seller_b@testuser.com', 'Test', 'Seller B', 'AR', 'MLA',
      'http://perfil.mercadolibre.com.ar/TESTSELLER_B')",
    "INSERT INTO categories (id, name, parent_id) VALUES
     ('MLA1000', 'Electrónica, Audio y Video', NULL),
     ('MLA3697', 'Auriculares', 'MLA1000'),
     ('MLA1051', 'Celulares y Teléfonos', NULL)",
    "INSERT INTO items (id, seller_id, site_id, title, category_id, price_cents, currency_id,
        available_quantity, sold_quantity, status, permalink, last_updated_ms) VALUES
     ('MLA123', 1001, 'MLA', 'Auriculares inalámbricos Bluetooth', 'MLA3697', 1599900, 'ARS', 20, 0,
      'active', 'https://articulo.mercadolibre.com.ar/MLA-123-auriculares-inalambricos-bluetooth-_JM',
      1767614400000),
     ('MLA124', 1001, 'MLA', 'Parlante portátil resistente al agua', 'MLA1000', 2499950, 'ARS', 8, 3,
      'active', 'https://articulo.mercadolibre.com.ar/MLA-124-parlante-portatil-resistente-al-agua-_JM',
      1767614400000),
     ('MLA125', 1001, 'MLA', 'Auriculares in-ear con micrófono', 'MLA3697', 899999, 'ARS', 35, 12,
      'active', 'https://articulo.mercadolibre.com.ar/MLA-125-auriculares-in-ear-con-microfono-_JM',
      1767614400000),
     ('MLA126', 1001, 'MLA', 'Celular 128 GB liberado', 'MLA1051', 34999900, 'ARS', 5, 1,
      'active', 'https://articulo.mercadolibre.com.ar/MLA-126-celular-128-gb-liberado-_JM',
      1767614400000),
     ('MLA201', 1002, 'MLA', 'Funda de silicona para celular', 'MLA1051', 450000, 'ARS', 100, 40,
      'active', 'https://articulo.mercadolibre.com.ar/MLA-201-funda-de-silicona-para-celular-_JM',
      1767614400000),
     ('MLA202', 1002, 'MLA', 'Auriculares de vincha plegables', 'MLA3697', 1299900, 'ARS', 12, 2,
      'active', 'https://articulo.mercadolibre.com.ar/MLA-202-auriculares-de-vincha-plegables-_JM',
      1767614400000)",
];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[SCHEMA, SEED];

/// A text column of a row.
pub(crate) fn text_at(values: &[spin_sdk::sqlite3::Value], i: usize) -> String {
    match values.get(i) {
        Some(spin_sdk::sqlite3::Value::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

/// An integer column of a row (0 when null).
pub(crate) fn int_at(values: &[spin_sdk::sqlite3::Value], i: usize) -> i64 {
    match values.get(i) {
        Some(spin_sdk::sqlite3::Value::Integer(n)) => *n,
        _ => 0,
    }
}

/// A nullable integer column of a row.
pub(crate) fn opt_int_at(values: &[spin_sdk::sqlite3::Value], i: usize) -> Option<i64> {
    match values.get(i) {
        Some(spin_sdk::sqlite3::Value::Integer(n)) => Some(*n),
        _ => None,
    }
}

/// A nullable text column of a row.
pub(crate) fn opt_text_at(values: &[spin_sdk::sqlite3::Value], i: usize) -> Option<String> {
    match values.get(i) {
        Some(spin_sdk::sqlite3::Value::Text(t)) => Some(t.clone()),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) fn memory() -> platform::db::Db {
    platform::db::Db::memory(MIGRATIONS).expect("db")
}
