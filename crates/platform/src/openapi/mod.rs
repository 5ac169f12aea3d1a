//! The OpenAPI 3.1 document, declared next to each route so that it
//! cannot drift from the code. A route's [`RouteDoc`] says what a reader
//! needs that the code cannot (summary, who may call it, parameters and
//! statuses) and names the types of its request and response bodies,
//! whose JSON Schemas come from the types themselves (`schemars`): the
//! same types the handlers parse and serialize.
//!
//! ```ignore
//! Route::get("/api/orders/:id", Handler::Sync(get)).doc(&RouteDoc {
//!     summary: "One of the caller's orders",
//!     access: Access::User,
//!     replies: &[Reply::json::<OrderView>(200, "The order")],
//!     ..RouteDoc::BASE
//! }),
//! ```
//!
//! The platform adds what follows from the route itself: path parameters
//! (ids unless declared otherwise), the problem+json answers of the body,
//! the parameters, the credentials and the rate limit (400, 401, 403, 404,
//! 413, 415, 422, 429, 503), and the security requirement. It serves a
//! component's part at `GET /internal/<component>/openapi` ([`fragment`]);
//! `ops` gathers the parts into `GET /api-docs`.

mod fragment;
pub mod schemas;
mod types;

use serde::de::DeserializeOwned;

pub use fragment::{fragment, security_schemes, serve};
pub use schemars::{JsonSchema, Schema, SchemaGenerator};

/// Gives the JSON Schema of a type, adding the schemas it names to the
/// generator: [`schema::<T>`](schema) for a type `T`.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` (a reference when `T` is a named type).
pub fn schema<T: JsonSchema + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Whether `body` reads as a `T`, as the handler reads it.
fn parses<T: DeserializeOwned>(body: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<T>(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Anyone,
    /// Anyone; a signed-in caller's bearer token is read when sent (a
    /// guest's cart or a user's, more detail for admins).
    Optional,
    /// A signed-in user, customer or admin (bearer access token).
    User,
    /// A signed-in admin.
    Admin,
    /// The sandbox payment provider's merchant: its API key
    /// (`psp_api_key`) as a bearer token.
    Merchant,
    /// A MercadoLibre access token (`APP_USR-...`) as a bearer token: the
    /// sandbox MercadoLibre API's resources. They answer in MercadoLibre's
    /// own error shape, which the route's replies declare.
    MercadoLibre,
}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
        }
    }
}

/// A parameter of a route.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub location: Location,
    pub required: bool,
    pub description: &'static str,
    pub schema: SchemaFn,
    /// The only values it takes, when they are a few words (the schema is
    /// then a string of one of them).
    pub values: &'static [&'static str],
    /// An example value, as it is written in the URL or header.
    pub example: Option<&'static str>,
    /// Error statuses the parameter can cause, and why.
    pub errors: &'static [(u16, &'static str)],
}

impl Param {
    const fn new<T: JsonSchema>(
        name: &'static str,
        location: Location,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            location,
            required: matches!(location, Location::Path),
            description,
            schema: schema::<T>,
            values: &[],
            example: None,
            errors: &[],
        }
    }

    /// An optional query parameter of type `T`.
    pub const fn query<T: JsonSchema>(name: &'static str, description: &'static str) -> Self {
        Self::new::<T>(name, Location::Query, description)
    }

    /// An optional request header of type `T`.
    pub const fn header<T: JsonSchema>(name: &'static str, description: &'static str) -> Self {
        Self::new::<T>(name, Location::Header, description)
    }

    /// A path parameter (`:name` in the route) of type `T`; path
    /// parameters not declared are ids.
    pub const fn path<T: JsonSchema>(name: &'static str, description: &'static str) -> Self {
        Self::new::<T>(name, Location::Path, description)
    }

    /// An optional query parameter that is one of `values`.
    pub const fn one_of(
        name: &'static str,
        description: &'static str,
        values: &'static [&'static str],
    ) -> Self {
        let mut param = Self::query::<String>(name, description);
        param.values = values;
        param
    }

    /// The parameter must be sent.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// An example value.
    pub const fn example(mut self, example: &'static str) -> Self {
        self.example = Some(example);
        self
    }

    /// Statuses the parameter can cause.
    pub const fn errors(mut self, errors: &'static [(u16, &'static str)]) -> Self {
        self.errors = errors;
        self
    }
}

/// `Idempotency-Key`: a retry with the same key answers the first answer
/// (see `platform::idempotency`).
pub const IDEMPOTENCY_KEY: Param = Param::header::<String>(
    "Idempotency-Key",
    "1 to 255 visible ASCII characters, the caller's own: a retry with the same key \
     and the same request answers the first answer and does the work once",
)
.example("order-2026-04-01-1")
.errors(&[
    (400, "the Idempotency-Key header is malformed"),
    (422, "the Idempotency-Key was used with another request"),
]);

/// `Idempotency-Key`, on routes that refuse to work without one.
pub const IDEMPOTENCY_KEY_REQUIRED: Param = IDEMPOTENCY_KEY.required().errors(&[
    (400, "the Idempotency-Key header is missing or malformed"),
    (422, "the Idempotency-Key was used with another request"),
]);

/// `If-Match` on a write that needs the record's current `ETag`.
pub const IF_MATCH_REQUIRED: Param = Param::header::<String>(
    "If-Match",
    "the record's current ETag (its version, quoted): the write is refused if the \
     record changed since",
)
.required()
.example("\"3\"")
.errors(&[
    (412, "the record changed: the ETag is not its current one"),
    (428, "If-Match is required"),
]);

/// `If-Match` on a write that checks it when it is sent.
pub const IF_MATCH: Param = Param::header::<String>(
    "If-Match",
    "the record's current ETag, when sent: the write is refused if the record changed since",
)
.example("\"3\"")
.errors(&[(412, "the record changed: the ETag is not its current one")]);

/// `If-None-Match` on a read that answers 304 when the version is unchanged.
pub const IF_NONE_MATCH: Param = Param::header::<String>(
    "If-None-Match",
    "an ETag the caller holds: 304 without a body while it is still current",
)
.example("\"3\"");

/// A list paged with `?limit=` and `?cursor=` (see `platform::pagination`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The page size when `limit` is not given.
    pub default: u32,
    /// The largest `limit`.
    pub max: u32,
}

impl Paging {
    /// The platform's page sizes (`PageRequest::standard`).
    pub const STANDARD: Paging = Paging {
        default: crate::pagination::DEFAULT_PAGE,
        max: crate::pagination::MAX_PAGE,
    };
}

/// A JSON request body.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    pub schema: SchemaFn,
    /// Reads the example as the handler reads a body: a fragment whose
    /// example no longer parses is refused, so examples cannot drift.
    pub parse: fn(&[u8]) -> Result<(), String>,
    /// A JSON example.
    pub example: &'static str,
    pub required: bool,
    pub description: &'static str,
    /// Also taken as `application/x-www-form-urlencoded` fields of the
    /// same names (OAuth's token requests).
    pub form: bool,
}

impl Body {
    /// A JSON body of type `T`, with an example.
    pub const fn json<T: JsonSchema + DeserializeOwned>(example: &'static str) -> Self {
        Self {
            schema: schema::<T>,
            parse: parses::<T>,
            example,
            required: true,
            description: "",
            form: false,
        }
    }

    /// The same fields may come form-encoded instead of as JSON.
    pub const fn or_form(mut self) -> Self {
        self.form = true;
        self
    }

    /// The body may be left out.
    pub const fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// What the body is, beyond its schema.
    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }
}

/// What a reply carries.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// No body.
    Empty,
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// `application/problem+json` of this schema (a problem with members
    /// of its own).
    Problem(SchemaFn),
    /// A body of this media type, as text.
    Text(&'static str),
}

/// A response header a reply sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub name: &'static str,
    pub description: &'static str,
}

/// `ETag`: the version of the record answered.
pub const ETAG: Header = Header {
    name: "ETag",
    description: "the record's version, quoted: send it back as If-Match to change it",
};

/// `Location`: where the created or started resource is.
pub const LOCATION: Header = Header {
    name: "Location",
    description: "where the resource is",
};

/// A reply a route gives (a success, or a problem of its own shape).
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    pub content: Content,
    pub headers: &'static [Header],
    /// An example body.
    pub example: Option<fn() -> serde_json::Value>,
}

impl Reply {
    const fn new(status: u16, description: &'static str, content: Content) -> Self {
        Self {
            status,
            description,
            content,
            headers: &[],
            example: None,
        }
    }

    /// `status` with a JSON body of type `T`.
    pub const fn json<T: JsonSchema>(status: u16, description: &'static str) -> Self {
        Self::new(status, description, Content::Json(schema::<T>))
    }

    /// `status` with a problem document of type `T` (members of its own
    /// beside the problem's).
    pub const fn problem<T: JsonSchema>(status: u16, description: &'static str) -> Self {
        Self::new(status, description, Content::Problem(schema::<T>))
    }

    /// `status` without a body.
    pub const fn empty(status: u16, description: &'static str) -> Self {
        Self::new(status, description, Content::Empty)
    }

    /// `status` with a text body of `media_type`.
    pub const fn text(status: u16, description: &'static str, media_type: &'static str) -> Self {
        Self::new(status, description, Content::Text(media_type))
    }

    /// Headers the reply sets.
    pub const fn headers(mut self, headers: &'static [Header]) -> Self {
        self.headers = headers;
        self
    }

    /// An example body.
    pub const fn example(mut self, example: fn() -> serde_json::Value) -> Self {
        self.example = Some(example);
        self
    }
}

/// What the OpenAPI document says of a route beyond what the route table
/// and the types say.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// One line: what the route does.
    pub summary: &'static str,
    /// More, when a reader needs it (Markdown).
    pub description: &'static str,
    pub access: Access,
    /// Query and header parameters, and path parameters that are not ids.
    pub params: &'static [Param],
    /// `?limit=` and `?cursor=`, when the route answers a page.
    pub page: Option<Paging>,
    pub body: Option<Body>,
    /// The successes (and problems with members of their own).
    pub replies: &'static [Reply],
    /// Further error statuses, each with why; answered as problem+json.
    pub errors: &'static [(u16, &'static str)],
}

impl RouteDoc {
    /// The defaults to complete a declaration with (`..RouteDoc::BASE`).
    pub const BASE: RouteDoc = RouteDoc {
        summary: "",
        description: "",
        access: Access::Anyone,
        params: &[],
        page: None,
        body: None,
        replies: &[],
        errors: &[],
    };
}

#[cfg(test)]
mod tests;
