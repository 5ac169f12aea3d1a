//! The public API: the caller's cart (a user's, or a guest's named by its
//! cart token), its lines, and checkout. Every answer carries the cart's
//! `ETag` (its version) and lines priced by the catalog now.

use platform::clock::rfc3339_from_ms;
use platform::conditional::etag;
use platform::domain::{Id, Money, Quantity};
use platform::idempotency::Idempotency;
use platform::openapi::{
    Access, Body, Header, Param, Reply, ETAG, IDEMPOTENCY_KEY_REQUIRED, IF_MATCH,
    IF_MATCH_REQUIRED, LOCATION,
};
use platform::problem::Problem;
use platform::{ApiError, Context, Request, Response, Route, RouteDoc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{self, CURRENCY};
use crate::owner::{self, Owner};
use crate::service::{self, checkout, CartError, CartState, Change, Session, Shortfall};
use crate::views::{CartLineView, CartView, LineShortfall, StockProblem};

/// The cart's routes (all in the component's rate-limit group).
pub const ROUTES: &[Route] = &[
    Route::get("/api/cart", platform::handler!(async get)).doc(&RouteDoc {
        summary: "The caller's cart",
        description: "A signed-in user's, or a guest's named by its cart token; the first \
            signed-in request carrying a guest's token merges that cart into the user's.",
        replies: &[CART_200],
        ..CART
    }),
    Route::delete("/api/cart", platform::handler!(async clear)).doc(&RouteDoc {
        summary: "Empty the cart (its holds are released)",
        params: &[IF_MATCH, GUEST_TOKEN],
        replies: &[CART_200],
        ..CART
    }),
    Route::post("/api/cart/items", platform::handler!(async add)).doc(&RouteDoc {
        summary: "Add a product, or more of it",
        description: "Without a login, the first add makes a guest cart and answers its \
            token (`X-Cart-Token`, and an HttpOnly `cart_token` cookie).",
        params: &[IF_MATCH, GUEST_TOKEN],
        body: Some(Body::json::<NewItem>(
            r#"{"product_id": "0198c3a0-7e3c-7d1e-9b2a-5f0c1d2e3f40", "quantity": 2}"#,
        )),
        ..CART
    }),
    Route::put("/api/cart/items/:product_id", platform::handler!(async set)).doc(&RouteDoc {
        summary: "Set a line's quantity",
        params: &[IF_MATCH_REQUIRED, GUEST_TOKEN],
        body: Some(Body::json::<ItemQuantity>(r#"{"quantity": 3}"#)),
        ..CART
    }),
    Route::delete(
        "/api/cart/items/:product_id",
        platform::handler!(async remove),
    )
    .doc(&RouteDoc {
        summary: "Remove a line (its hold is released)",
        params: &[IF_MATCH_REQUIRED, GUEST_TOKEN],
        ..CART
    }),
    Route::post("/api/cart/checkout", platform::handler!(async check_out)).doc(&RouteDoc {
        summary: "Check out: the cart becomes an order",
        description: "The cart's holds become the order's reservation; the answer is the \
            order as `POST /api/orders` gives it, and only then is the cart emptied. A \
            repeated key answers with the same order.",
        access: Access::User,
        params: &[IDEMPOTENCY_KEY_REQUIRED],
        body: Some(
            Body::json::<CheckoutRequest>(r#"{"shipping_address": {"line1": "1 Main St"}}"#)
                .optional(),
        ),
        replies: &[
            Reply::json::<serde_json::Map<String, Value>>(202, "The order, PENDING")
                .headers(&[LOCATION]),
            Reply::problem::<StockProblem>(
                409,
                "The cart is empty, or some line cannot be had (each says what is available)",
            ),
        ],
        errors: &[(503, "orders, inventory or the catalog cannot answer now")],
        ..RouteDoc::BASE
    }),
];

/// A guest's cart token (the header; the `cart_token` cookie works too).
const GUEST_TOKEN: Param = Param::header::<String>(
    "X-Cart-Token",
    "a guest's cart token, as the first add answered it (or the `cart_token` cookie)",
)
.errors(&[(400, "the cart token is not one this service issues")]);

/// The cart, with its version.
const CART_200: Reply = Reply::json::<CartView>(200, "The cart").headers(&[
    ETAG,
    Header {
        name: "X-Cart-Token",
        description: "a new guest cart's token",
    },
]);

/// What every cart route shares.
const CART: RouteDoc = RouteDoc {
    access: Access::Optional,
    params: &[GUEST_TOKEN],
    replies: &[
        CART_200,
        Reply::problem::<StockProblem>(
            409,
            "Not enough stock for the line (it says how many it can have), or the cart \
             changed meanwhile; nothing was changed",
        ),
    ],
    errors: &[
        (
            503,
            "the cart store, inventory or the catalog cannot answer now",
        ),
        (
            429,
            "too many new guest carts from this address, or the cart's rate limit",
        ),
    ],
    ..RouteDoc::BASE
};

/// The body of `POST /api/cart/items`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NewItem {
    product_id: String,
    quantity: i64,
}

/// The body of `PUT /api/cart/items/:product_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ItemQuantity {
    quantity: i64,
}

/// The body of `POST /api/cart/checkout` (optional).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    #[serde(default)]
    shipping_address: Option<Value>,
}

async fn get(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let ses = Session::open(req, ctx)?;
    let state = service::read(&ses).await?;
    answer(&ses, 200, &state).await
}

async fn clear(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let ses = Session::open(req, ctx)?;
    let state = service::clear(&ses, req.header("if-match")).await?;
    answer(&ses, 200, &state).await
}

async fn add(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let item: NewItem = req.json()?;
    let product = Id::parse("product_id", &item.product_id)?;
    let quantity = Quantity::parse("quantity", item.quantity)?;
    let ses = Session::open(req, ctx)?;
    changed(
        &ses,
        service::change(
            &ses,
            &product,
            Change::Add(quantity),
            req.header("if-match"),
        )
        .await,
    )
    .await
}

async fn set(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let product = req.id("product_id")?;
    let ItemQuantity { quantity } = req.json()?;
    let quantity = Quantity::parse("quantity", quantity)?;
    let ses = Session::open(req, ctx)?;
    changed(
        &ses,
        service::change(
            &ses,
            &product,
            Change::Set(quantity),
            req.header("if-match"),
        )
        .await,
    )
    .await
}

async fn remove(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let product = req.id("product_id")?;
    let ses = Session::open(req, ctx)?;
    changed(
        &ses,
        service::change(&ses, &product, Change::Remove, req.header("if-match")).await,
    )
    .await
}

/// `POST /api/cart/checkout`: a signed-in user's cart becomes an order
/// (202 with it); `Idempotency-Key` is required, and a repeat answers
/// with the same order.
async fn check_out(req: &Request, ctx: &Context) -> Result<Response, ApiError> {
    let user = ctx.user().map_err(|e| match e {
        ApiError::Unauthorized(_) => ApiError::Unauthorized(
            "sign in to check out; your cart is kept, and joins your own cart when you do".into(),
        ),
        other => other,
    })?;
    let idempotency = Idempotency::required(
        req,
        &user.user_id,
        "a checkout places an order: send an Idempotency-Key so a retry cannot place two",
    )?;
    let CheckoutRequest { shipping_address } = if req.body_is_empty() {
        CheckoutRequest::default()
    } else {
        req.json()?
    };
    let ses = Session::open(req, ctx)?;
    match checkout::checkout(&ses, &idempotency, shipping_address).await {
        Ok(response) => Ok(response),
        Err(e) => refusal(ctx, e),
    }
}

/// The answer to a change of lines: the cart, or why not.
async fn changed(
    ses: &Session<'_>,
    outcome: Result<CartState, CartError>,
) -> Result<Response, ApiError> {
    match outcome {
        Ok(state) => answer(ses, 200, &state).await,
        Err(e) => refusal(ses.ctx, e),
    }
}

/// A refused change: a problem document; not enough stock is a 409 that
/// says, per line, how many can be had.
fn refusal(ctx: &Context, e: CartError) -> Result<Response, ApiError> {
    let lines = match e {
        CartError::Api(e) => return Err(e),
        CartError::NotEnoughStock(lines) => lines,
    };
    let one = match lines.as_slice() {
        [one] => Some(one),
        _ => None,
    };
    let problem = StockProblem {
        problem: Problem::new(
            409,
            "not enough stock: each line says how many can be had; nothing was changed",
            &ctx.request_id,
        ),
        product_id: one.map(|s| s.product_id.clone()),
        requested: one.map(|s| s.requested),
        available: one.map(|s| s.available),
        lines: lines.iter().map(shortfall).collect(),
    };
    Ok(Response::json(409, &problem).with_header("content-type", "application/problem+json"))
}

fn shortfall(s: &Shortfall) -> LineShortfall {
    LineShortfall {
        product_id: s.product_id.clone(),
        requested: s.requested,
        available: s.available,
    }
}

/// The cart as clients see it: each line with the catalog's current
/// name and price (a line whose product the catalog no longer sells has
/// none and costs nothing), totals in integer cents, and how each line's
/// stock is held. Headers: the version as `ETag`; for a guest, the cart
/// token (header and cookie); after a merge, the spent token's cookie
/// removed. Never cached: it is one person's cart.
async fn answer(ses: &Session<'_>, status: u16, state: &CartState) -> Result<Response, ApiError> {
    let products = service::products(ses, &state.cart).await?;
    let priced: Vec<(u32, Option<Money>)> = state
        .cart
        .lines
        .iter()
        .zip(&products)
        .map(|(l, p)| (l.quantity, p.as_ref().map(|p| p.price)))
        .collect();
    let total = domain::total(priced.iter().copied())
        .ok_or_else(|| ApiError::internal("the cart's total overflows"))?;
    let lines = state
        .cart
        .lines
        .iter()
        .zip(&products)
        .map(|(line, product)| {
            let price = product.as_ref().map(|p| p.price);
            CartLineView {
                product_id: line.product_id.clone(),
                name: product.as_ref().map(|p| p.name.clone()),
                quantity: line.quantity,
                unit_price_cents: price.map(Money::cents),
                unit_price: price,
                line_total_cents: price.and_then(|p| p.times(line.quantity)).map(Money::cents),
                for_sale: product.is_some(),
                held: line
                    .hold
                    .as_ref()
                    .is_some_and(|h| h.quantity == line.quantity)
                    && line.unheld.is_none(),
                hold_id: line.hold.as_ref().map(|h| h.id.clone()),
                hold_expires_at: line.hold.as_ref().map(|h| rfc3339_from_ms(h.expires_at_ms)),
                unheld: line.unheld.clone(),
            }
        })
        .collect();
    let body = CartView {
        owner: if matches!(ses.owner, Owner::User(_)) {
            "user"
        } else {
            "guest"
        },
        version: state.version,
        lines,
        line_count: state.cart.lines.len(),
        units: state.cart.units(),
        total_cents: total.cents(),
        total,
        currency: CURRENCY,
        expires_after_idle_secs: ses.ttl_secs(),
    };
    let mut response = Response::json(status, &body)
        .with_header("etag", etag(state.version))
        .with_header("cache-control", "no-store");
    if let Some(token) = &state.token {
        response.set_header(owner::TOKEN_HEADER, token.as_str());
        response.set_header("set-cookie", owner::set_cookie(token, ses.ttl_secs()));
    } else if state.token_spent {
        response.set_header("set-cookie", owner::clear_cookie());
    }
    Ok(response)
}
