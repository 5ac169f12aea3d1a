//! Whose cart a request is about, and what a request leaves it as.

use platform::{ApiError, Context, Request};

use crate::carts::CartKey;
use crate::domain::Cart;
use crate::owner::{self, GuestToken, Owner};

/// How long a user's cart is kept after its last use (`cart_ttl_secs`).
const USER_TTL_SECS: u64 = 30 * 24 * 3600;
/// How long a guest's cart is kept after its last use
/// (`cart_guest_ttl_secs`): shorter, as anyone can make one.
const GUEST_TTL_SECS: u64 = 2 * 24 * 3600;

/// A request's cart: whose it is and what the request carried.
#[derive(Debug)]
pub struct Session<'a> {
    pub ctx: &'a Context,
    pub(super) req: &'a Request,
    pub owner: Owner,
    /// The caller's credential, for calls made as them.
    pub(super) authorization: Option<&'a str>,
    /// The guest cart token the request carried.
    pub(super) carried: Option<GuestToken>,
}

impl<'a> Session<'a> {
    /// The cart of `req`: the signed-in user's, else the guest's whose
    /// token it carries (401 for an invalid bearer token, 400 for a
    /// malformed cart token header).
    pub fn open(req: &'a Request, ctx: &'a Context) -> Result<Self, ApiError> {
        let carried = owner::carried_token(req)?;
        let owner = match ctx.principal()? {
            Some(user) => Owner::User(user.user_id.clone()),
            None => Owner::Guest(carried.clone()),
        };
        Ok(Self {
            ctx,
            req,
            owner,
            authorization: req.header("authorization"),
            carried,
        })
    }

    pub(super) fn is_user(&self) -> bool {
        matches!(self.owner, Owner::User(_))
    }

    /// How long the cart is kept after its last use.
    pub fn ttl_secs(&self) -> u64 {
        let (name, default) = match self.owner {
            Owner::User(_) => ("cart_ttl_secs", USER_TTL_SECS),
            Owner::Guest(_) => ("cart_guest_ttl_secs", GUEST_TTL_SECS),
        };
        spin_sdk::variables::get(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|secs: &u64| *secs >= 60)
            .unwrap_or(default)
    }

    /// Where the cart is, if it has a place: a guest without a token has
    /// no cart.
    pub(super) fn key(&self) -> Option<CartKey> {
        match &self.owner {
            Owner::User(id) => Some(CartKey::user(id)),
            Owner::Guest(token) => token.as_ref().map(CartKey::guest),
        }
    }
}

/// A cart as a request leaves it, to answer with.
#[derive(Debug, Clone, Default)]
pub struct CartState {
    pub version: i64,
    pub cart: Cart,
    /// A guest's token, to send back while their cart exists.
    pub token: Option<GuestToken>,
    /// The request's guest cart became the user's: its token is spent.
    pub token_spent: bool,
}
