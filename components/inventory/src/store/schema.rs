//! Inventory's tables, as migrations applied in order.

use platform::db::Migration;
use platform::{inbox, outbox};

const SCHEMA: Migration = &[
    "CREATE TABLE stock (
        product_id TEXT PRIMARY KEY,
        available INTEGER NOT NULL CHECK (available >= 0),
        reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        sold INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),
        version INTEGER NOT NULL DEFAULT 1,
        low_stock_announced INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        updated_at_ms INTEGER NOT NULL)",
    "CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        order_id TEXT UNIQUE,
        owner_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('active', 'committed', 'released')),
        reason TEXT,
        expires_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL)",
    "CREATE INDEX reservations_active_expiry ON reservations (expires_at_ms) WHERE status = 'active'",
    "CREATE TABLE reservation_lines (
        reservation_id TEXT NOT NULL REFERENCES reservations (id),
        product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (reservation_id, product_id))",
];

/// Customers' open holds are counted per owner on every new hold.
const HOLDS_BY_OWNER: Migration =
    &["CREATE INDEX reservations_owner_active ON reservations (owner_id) WHERE status = 'active'"];

/// A customer's holds can become an order's reservation ('transferred':
/// the status is checked by the table's own constraint, which SQLite's
/// ALTER TABLE cannot change, so the table is rebuilt; its lines are
/// rebuilt too, as foreign keys are enforced and forbid dropping a table
/// that rows still reference). Each product also remembers which side of
/// zero its availability was last announced on (existing rows start
/// where they are: nothing to announce).
const TRANSFERS_AND_AVAILABILITY: Migration = &[
    "CREATE TABLE reservations_v2 (
        id TEXT PRIMARY KEY,
        order_id TEXT UNIQUE,
        owner_id TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('active', 'committed', 'released', 'transferred')),
        reason TEXT,
        expires_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL)",
    "INSERT INTO reservations_v2
        (id, order_id, owner_id, status, reason, expires_at_ms, created_at_ms)
     SELECT id, order_id, owner_id, status, reason, expires_at_ms, created_at_ms
     FROM reservations",
    "CREATE TABLE reservation_lines_v2 (
        reservation_id TEXT NOT NULL REFERENCES reservations_v2 (id),
        product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (reservation_id, product_id))",
    "INSERT INTO reservation_lines_v2 (reservation_id, product_id, quantity)
     SELECT reservation_id, product_id, quantity FROM reservation_lines",
    "DROP TABLE reservation_lines",
    "DROP TABLE reservations",
    // Renaming also renames the lines' reference to the table.
    "ALTER TABLE reservations_v2 RENAME TO reservations",
    "ALTER TABLE reservation_lines_v2 RENAME TO reservation_lines",
    "CREATE INDEX reservations_active_expiry ON reservations (expires_at_ms) WHERE status = 'active'",
    "CREATE INDEX reservations_owner_active ON reservations (owner_id) WHERE status = 'active'",
    "ALTER TABLE stock ADD COLUMN in_stock INTEGER NOT NULL DEFAULT 1",
    "UPDATE stock SET in_stock = (available > 0)",
];

/// Products whose level is announced on every change
/// (`inventory.level_changed`): those linked to a MercadoLibre item.
const MIRRORED: Migration = &["CREATE TABLE mirrored (product_id TEXT PRIMARY KEY)"];

/// The schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    SCHEMA,
    outbox::MIGRATION,
    inbox::MIGRATION,
    HOLDS_BY_OWNER,
    TRANSFERS_AND_AVAILABILITY,
    MIRRORED,
];
