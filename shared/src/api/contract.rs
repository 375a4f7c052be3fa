//! The published OpenAPI document (`openapi`), and the parts of it that hold for every route,
//! added in one place so that no route can forget them: errors are `application/problem+json`;
//! a route behind a bearer token answers 401; a route with a body answers 400, 413, 415 and
//! 422; a route with parameters 422; every route may answer 429 and 503 (with `Retry-After`)
//! and a `default` problem.

use utoipa::OpenApi as _;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

use super::problem::PROBLEM_JSON;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Accounts, organizations and members for a business-messaging platform."),
    components(schemas(super::problem::Problem)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The OpenAPI document of the given functions (all of them for the published document).
pub fn openapi(functions: &[super::Function]) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for f in functions {
        f.routes().document(&mut doc);
    }
    complete_document(&mut doc);
    doc
}

fn problem(description: &str) -> RefOr<Response> {
    let content = Content::new(Some(Ref::from_schema_name("Problem")));
    RefOr::T(ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build())
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description));
}

fn is_oauth_error(c: &Content) -> bool {
    matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/OAuthErrorBody"))
}

fn complete(op: &mut Operation) {
    // Errors already documented by a route are served as problem+json, not application/json,
    // but for the OAuth endpoints' RFC 6749 error bodies, which clients expect as they are.
    for (status, resp) in op.responses.responses.iter_mut() {
        if let (RefOr::T(r), true) = (resp, status.starts_with('4') || status.starts_with('5'))
            && !r.content.get("application/json").is_some_and(is_oauth_error)
            && let Some(c) = r.content.shift_remove("application/json")
        {
            r.content.insert(PROBLEM_JSON.to_owned(), c);
        }
    }
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        add(op, "401", "missing, invalid or expired access token, or an ended session");
    }
    if op.request_body.is_some() {
        add(op, "400", "malformed body");
        add(op, "413", "body too large");
        add(op, "415", "unsupported content type");
        add(op, "422", "invalid input; `field` names it");
    }
    if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        add(op, "422", "invalid input; `field` names it");
    }
    add(op, "429", "too many attempts; see Retry-After");
    add(op, "503", "a backing service is unavailable; retry later");
    add(op, "default", "an error, as problem+json with a stable `code`");
}

/// A creating route takes an `Idempotency-Key` and may answer that the key is in use.
fn idempotent(op: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    // Length bounds are left to the description: generators of header values (schemathesis)
    // filter for what a header can carry, and bounds on top made them give up.
    let schema = ObjectBuilder::new().schema_type(Type::String).build();
    let param = ParameterBuilder::new()
        .name(crate::domain::idempotency_key::HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "1 to 255 visible ASCII characters (e.g. a UUID), optionally quoted; else 422 \
             `invalid_idempotency_key`. Makes the request safe to repeat: the same key with the same request returns the first \
             answer (with `Idempotent-Replayed: true`) for 24 hours, with another request 422 \
             `idempotency_key_reused`, and while the first is still running 409 `idempotency_in_progress`.",
        ))
        .schema(Some(schema))
        .build();
    op.parameters.get_or_insert_with(Vec::new).push(param);
    add(op, "409", "conflict; or a request with this Idempotency-Key is still running (Retry-After)");
    add(op, "422", "invalid input; `field` names it");
}

/// Apply the rules above to every operation of `doc`.
fn complete_document(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        if let Some(op) = item.post.as_mut()
            && super::idempotency::ROUTES.contains(&path.as_str())
        {
            idempotent(op);
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            complete(op);
        }
    }
}
