//! Events out: `user.registered` on `users.events`, keyed by the user id,
//! written to the outbox in the registration's transaction.

use platform::db::Db;
use platform::events::{topics, Event, UserRegistered};
use platform::{outbox, ApiError, Context};

use crate::store::User;

/// Appends `user.registered` for a new account.
pub fn registered(db: &Db, ctx: &Context, user: &User) -> Result<(), ApiError> {
    let event = Event::new(
        "user.registered",
        topics::USERS,
        &user.id,
        &UserRegistered {
            user_id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
        },
        ctx,
        None,
    )?;
    outbox::append(db, &event)
}
