//! Users, items and categories: what the resources read, and the two
//! ways an item changes (its seller's update, a sale on MercadoLibre).

use platform::db::{first_i64, int, opt_int, opt_text, text, Db};
use platform::ApiError;
use spin_sdk::sqlite3::QueryResult;

use super::{int_at, text_at};
use crate::domain::{CategoryId, ItemChange, ItemId, SearchPage, UserId};

/// A seeded user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub nickname: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub country_id: String,
    pub site_id: String,
    pub permalink: String,
}

/// An item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRecord {
    pub id: String,
    pub seller_id: i64,
    pub site_id: String,
    pub title: String,
    pub category_id: String,
    pub price_cents: i64,
    pub currency_id: String,
    pub available_quantity: i64,
    pub sold_quantity: i64,
    pub status: String,
    pub permalink: String,
    pub last_updated_ms: i64,
}

/// A category with its path from the root and how many items it holds
/// (its own and its descendants').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRecord {
    pub id: String,
    pub name: String,
    /// `(id, name)` from the root down to the category itself.
    pub path_from_root: Vec<(String, String)>,
    pub total_items: i64,
}

/// What a sale came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleOutcome {
    Sold(ItemRecord),
    /// Fewer units are available than were sold.
    NotEnough {
        available: i64,
    },
    Unknown,
}

pub fn user(db: &Db, id: UserId) -> Result<Option<UserRecord>, ApiError> {
    let r = db.execute(
        "SELECT id, nickname, email, first_name, last_name, country_id, site_id, permalink
         FROM users WHERE id = ?",
        &[int(id.get())],
    )?;
    Ok(r.rows.first().map(|row| {
        let v = &row.values;
        UserRecord {
            id: int_at(v, 0),
            nickname: text_at(v, 1),
            email: text_at(v, 2),
            first_name: text_at(v, 3),
            last_name: text_at(v, 4),
            country_id: text_at(v, 5),
            site_id: text_at(v, 6),
            permalink: text_at(v, 7),
        }
    }))
}

pub fn user_exists(db: &Db, id: UserId) -> Result<bool, ApiError> {
    Ok(user(db, id)?.is_some())
}

const ITEM_COLUMNS: &str = "id, seller_id, site_id, title, category_id, price_cents, currency_id, \
     available_quantity, sold_quantity, status, permalink, last_updated_ms";

fn items_of(r: &QueryResult) -> Vec<ItemRecord> {
    r.rows
        .iter()
        .map(|row| {
            let v = &row.values;
            ItemRecord {
                id: text_at(v, 0),
                seller_id: int_at(v, 1),
                site_id: text_at(v, 2),
                title: text_at(v, 3),
                category_id: text_at(v, 4),
                price_cents: int_at(v, 5),
                currency_id: text_at(v, 6),
                available_quantity: int_at(v, 7),
                sold_quantity: int_at(v, 8),
                status: text_at(v, 9),
                permalink: text_at(v, 10),
                last_updated_ms: int_at(v, 11),
            }
        })
        .collect()
}

pub fn item(db: &Db, id: &ItemId) -> Result<Option<ItemRecord>, ApiError> {
    let r = db.execute(
        &format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?"),
        &[text(id.as_str())],
    )?;
    Ok(items_of(&r).into_iter().next())
}

/// A page of a seller's item ids (by id) and how many there are in all.
pub fn seller_items(
    db: &Db,
    seller: UserId,
    page: SearchPage,
) -> Result<(Vec<String>, i64), ApiError> {
    let total = first_i64(&db.execute(
        "SELECT COUNT(*) FROM items WHERE seller_id = ?",
        &[int(seller.get())],
    )?)
    .unwrap_or(0);
    let r = db.execute(
        "SELECT id FROM items WHERE seller_id = ? ORDER BY id LIMIT ? OFFSET ?",
        &[int(seller.get()), int(page.limit), int(page.offset)],
    )?;
    let ids = r.rows.iter().map(|row| text_at(&row.values, 0)).collect();
    Ok((ids, total))
}

/// Applies a seller's change; `None` for an unknown item.
pub fn update_item(
    db: &Db,
    id: &ItemId,
    change: &ItemChange,
    now_ms: i64,
) -> Result<Option<ItemRecord>, ApiError> {
    db.execute(
        "UPDATE items SET
            available_quantity = COALESCE(?, available_quantity),
            price_cents = COALESCE(?, price_cents),
            title = COALESCE(?, title),
            last_updated_ms = ?
         WHERE id = ?",
        &[
            opt_int(change.available_quantity),
            opt_int(change.price.map(|p| p.cents())),
            opt_text(change.title.clone()),
            int(now_ms),
            text(id.as_str()),
        ],
    )?;
    if db.changes() == 0 {
        return Ok(None);
    }
    item(db, id)
}

/// A sale of `quantity` units on MercadoLibre: available down, sold up,
/// in one statement that never takes more than is available.
pub fn sell(db: &Db, id: &ItemId, quantity: i64, now_ms: i64) -> Result<SaleOutcome, ApiError> {
    db.execute(
        "UPDATE items SET available_quantity = available_quantity - ?1,
            sold_quantity = sold_quantity + ?1, last_updated_ms = ?2
         WHERE id = ?3 AND available_quantity >= ?1",
        &[int(quantity), int(now_ms), text(id.as_str())],
    )?;
    if db.changes() == 1 {
        return Ok(item(db, id)?.map_or(SaleOutcome::Unknown, SaleOutcome::Sold));
    }
    Ok(match item(db, id)? {
        Some(item) => SaleOutcome::NotEnough {
            available: item.available_quantity,
        },
        None => SaleOutcome::Unknown,
    })
}

pub fn category(db: &Db, id: &CategoryId) -> Result<Option<CategoryRecord>, ApiError> {
    let path = db.execute(
        "WITH RECURSIVE path (id, name, parent_id, depth) AS (
            SELECT id, name, parent_id, 0 FROM categories WHERE id = ?
            UNION ALL
            SELECT c.id, c.name, c.parent_id, p.depth + 1
            FROM categories c JOIN path p ON c.id = p.parent_id WHERE p.depth < 32)
         SELECT id, name FROM path ORDER BY depth DESC",
        &[text(id.as_str())],
    )?;
    let path_from_root: Vec<(String, String)> = path
        .rows
        .iter()
        .map(|row| (text_at(&row.values, 0), text_at(&row.values, 1)))
        .collect();
    let Some((own_id, name)) = path_from_root.last().cloned() else {
        return Ok(None);
    };
    let total_items = first_i64(&db.execute(
        "WITH RECURSIVE tree (id, depth) AS (
            SELECT ?, 0
            UNION ALL
            SELECT c.id, t.depth + 1 FROM categories c JOIN tree t ON c.parent_id = t.id
            WHERE t.depth < 32)
         SELECT COUNT(*) FROM items WHERE category_id IN (SELECT id FROM tree)",
        &[text(id.as_str())],
    )?)
    .unwrap_or(0);
    Ok(Some(CategoryRecord {
        id: own_id,
        name,
        path_from_root,
        total_items,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SiteId;
    use crate::store::memory;
    use platform::domain::Money;

    fn id(s: &str) -> SiteId {
        SiteId::parse(s).expect("id")
    }

    fn seller(n: i64) -> UserId {
        UserId::from_i64(n).expect("user")
    }

    #[test]
    fn the_seed_has_two_sellers_their_items_and_three_categories() {
        let db = memory();
        let a = user(&db, seller(1001)).expect("a").expect("seeded");
        assert_eq!(
            (a.nickname.as_str(), a.site_id.as_str()),
            ("TESTSELLER_A", "MLA")
        );
        assert!(user_exists(&db, seller(1002)).expect("b"));
        assert!(!user_exists(&db, seller(1003)).expect("none"));
        let item = item(&db, &id("MLA123")).expect("item").expect("seeded");
        assert_eq!(
            (
                item.seller_id,
                item.price_cents,
                item.available_quantity,
                item.category_id.as_str()
            ),
            (1001, 1_599_900, 20, "MLA3697")
        );
        let (ids, total) = seller_items(
            &db,
            seller(1001),
            SearchPage {
                offset: 0,
                limit: 50,
            },
        )
        .expect("search");
        assert_eq!(total, 4);
        assert_eq!(ids, ["MLA123", "MLA124", "MLA125", "MLA126"]);
        let (page, total) = seller_items(
            &db,
            seller(1001),
            SearchPage {
                offset: 1,
                limit: 2,
            },
        )
        .expect("page");
        assert_eq!(
            (page, total),
            (vec!["MLA124".to_string(), "MLA125".to_string()], 4)
        );
        let (ids, total) = seller_items(
            &db,
            seller(1002),
            SearchPage {
                offset: 0,
                limit: 50,
            },
        )
        .expect("b's");
        assert_eq!((ids.len(), total), (2, 2));
    }

    #[test]
    fn categories_know_their_path_and_count_their_subtree() {
        let db = memory();
        let headphones = category(&db, &id("MLA3697")).expect("c").expect("seeded");
        assert_eq!(
            headphones.path_from_root,
            [
                (
                    "MLA1000".to_string(),
                    "Electrónica, Audio y Video".to_string()
                ),
                ("MLA3697".to_string(), "Auriculares".to_string())
            ]
        );
        assert_eq!(headphones.total_items, 3);
        let electronics = category(&db, &id("MLA1000")).expect("c").expect("seeded");
        assert_eq!(
            (electronics.path_from_root.len(), electronics.total_items),
            (1, 4)
        );
        let phones = category(&db, &id("MLA1051")).expect("c").expect("seeded");
        assert_eq!(
            (phones.name.as_str(), phones.total_items),
            ("Celulares y Teléfonos", 2)
        );
        assert_eq!(category(&db, &id("MLA9")).expect("c"), None);
    }

    #[test]
    fn updates_change_only_what_is_given() {
        let db = memory();
        let change = ItemChange {
            available_quantity: Some(0),
            price: Some(Money::from_cents(1_000_050)),
            title: None,
        };
        let updated = update_item(&db, &id("MLA123"), &change, 5_000)
            .expect("update")
            .expect("known");
        assert_eq!(
            (
                updated.available_quantity,
                updated.price_cents,
                updated.last_updated_ms
            ),
            (0, 1_000_050, 5_000)
        );
        assert_eq!(updated.title, "Auriculares inalámbricos Bluetooth");
        assert_eq!(
            update_item(&db, &id("MLA999"), &change, 1).expect("none"),
            None
        );
    }

    #[test]
    fn a_sale_never_takes_more_than_is_available() {
        let db = memory();
        match sell(&db, &id("MLA123"), 3, 9_000).expect("sell") {
            SaleOutcome::Sold(item) => assert_eq!(
                (
                    item.available_quantity,
                    item.sold_quantity,
                    item.last_updated_ms
                ),
                (17, 3, 9_000)
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            sell(&db, &id("MLA123"), 18, 9_001).expect("too many"),
            SaleOutcome::NotEnough { available: 17 }
        );
        assert_eq!(
            sell(&db, &id("MLA999"), 1, 1).expect("unknown"),
            SaleOutcome::Unknown
        );
        assert!(matches!(
            sell(&db, &id("MLA123"), 17, 9_002).expect("the rest"),
            SaleOutcome::Sold(item) if item.available_quantity == 0
        ));
    }
}
