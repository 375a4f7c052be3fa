//! HTTP: one router per Lambda function, and all of them merged for the local server. Each
//! route is registered once with its handler's `#[utoipa::path]` (`doc::routes!`), so the
//! OpenAPI document and the routes served are one list and cannot drift apart; the document
//! is built only where it is served or checked, never at a function's start.

#[cfg(feature = "openapi")]
mod contract;
mod doc;
#[cfg(feature = "openapi")]
pub use contract::openapi;
pub mod extract;
mod idempotency;
pub mod problem;
mod routes;
mod telemetry;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;

use crate::service::Ctx;

pub type AppState = Arc<Ctx>;

/// Every Lambda function of the API, in one table: the variant, its name (the handler
/// Lambda passes and, in PascalCase plus `Function`, the SAM resource), what it needs from
/// its environment beyond what every function has, and its routes.
macro_rules! functions {
    ($($variant:ident $name:literal [$($need:ident),*] => $routes:expr,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Function {
            $($variant,)*
        }

        impl Function {
            pub const ALL: [Function; [$($name),*].len()] = [$(Function::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Function::$variant => $name,)*
                }
            }

            /// The variables this function needs beyond [`crate::config::EVERY_FUNCTION_NEEDS`].
            pub fn needs(self) -> &'static [crate::config::Need] {
                match self {
                    $(Function::$variant => &[$(crate::config::Need::$need),*],)*
                }
            }

            fn routes(self) -> doc::Routes {
                match self {
                    $(Function::$variant => $routes,)*
                }
            }
        }
    };
}

functions! {
    Register "register" [] => routes::identity::auth::register(),
    Login "login" [] => routes::identity::auth::login().merge(routes::identity::two_factor::login_step()),
    Refresh "refresh" [] => routes::identity::auth::refresh(),
    Logout "logout" [] => routes::identity::auth::logout(),
    VerifyEmail "verify-email" [] => routes::identity::auth::verify_email(),
    Me "me" [] => routes::identity::me::routes(),
    Jwks "jwks" [] => routes::identity::jwks::routes(),
    SwitchOrg "switch-org" [] => routes::orgs::organizations::switch(),
    CreateOrg "create-org" [] => routes::orgs::organizations::create_org(),
    CreateSubAccount "create-sub-account" [] => routes::orgs::organizations::create_sub_account(),
    Orgs "orgs" [] => routes::orgs::organizations::manage(),
    Activity "activity" [] => routes::orgs::organizations::activity(),
    Invite "invite" [] => routes::members::manage::invite(),
    AcceptInvitation "accept-invitation" [] => routes::members::manage::accept().merge(routes::members::invitee::routes()),
    Members "members" [] => routes::members::manage::manage().merge(routes::members::membership::routes()),
    PasswordReset "password-reset" [] => routes::identity::passwords::passwords(),
    Inboxes "inboxes" [] => routes::members::inboxes::routes(),
    Profile "profile" [] => routes::identity::profile::routes(),
    TwoFactor "two-factor" [] => routes::identity::two_factor::routes(),
    ChangeEmail "change-email" [] => routes::identity::email_change::routes(),
    ImportUsers "import-users" [UploadsBucket, ImportQueue] => routes::members::imports::routes(),
    Settings "settings" [] => routes::orgs::settings::routes(),
    Domains "domains" [] => routes::orgs::domains::routes(),
    EmailToSmsLookup "email-to-sms-lookup" [] => routes::orgs::domains::sender_lookup(),
    Directory "directory" [] => routes::orgs::directory::routes(),
    CreateUser "create-user" [] => routes::members::people::create_user(),
    MobileVerification "mobile-verification" [] => routes::members::people::mobile(),
    EmailSettings "email-settings" [UploadsBucket] => routes::notify::email_settings::routes(),
    Theme "theme" [] => routes::orgs::theme::routes(),
    Notifications "notifications" [] => routes::notify::notifications::feed(),
    NotificationEvents "notification-events" [] => routes::notify::notifications::events(),
    Unsubscribe "unsubscribe" [] => routes::notify::notifications::unsubscribe(),
    AlarmService "alarm-service" [] => routes::orgs::alarm::routes(),
    AlarmServiceLookup "alarm-service-lookup" [] => routes::orgs::alarm::lookup(),
    SsoProviders "sso-providers" [] => routes::federation::sso::providers(),
    Sso "sso" [] => routes::federation::sso::sign_in(),
    Applications "applications" [] => routes::federation::oauth::apps::routes(),
    OauthAuthorize "oauth-authorize" [] => routes::federation::oauth::authorize(),
    OauthToken "oauth-token" [] => routes::federation::oauth::tokens(),
    OauthIntrospect "oauth-introspect" [] => routes::federation::oauth::introspection(),
    ContactGroups "contact-groups" [] => routes::library::contact_groups::groups(),
    Contacts "contacts" [] => routes::library::contact_groups::contacts(),
    MessageTemplates "message-templates" [] => routes::library::message_templates::routes(),
    OrgLifecycle "org-lifecycle" [] => routes::orgs::lifecycle::closing(),
    Exports "exports" [UploadsBucket, ExportQueue] => routes::orgs::lifecycle::exports(),
    DeleteAccount "delete-account" [] => routes::identity::erasure::routes(),
}

impl Function {
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The SAM logical id, e.g. `VerifyEmailFunction`.
    pub fn resource_id(self) -> String {
        resource_id(self.name())
    }
}

/// The SAM logical id of the function whose handler is `name`: PascalCase plus `Function`
/// (`verify-email` → `VerifyEmailFunction`).
pub fn resource_id(name: &str) -> String {
    let mut id = String::new();
    for part in name.split('-') {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            id.extend(f.to_uppercase());
            id.push_str(c.as_str());
        }
    }
    id + "Function"
}

/// The routes of `functions`. Each function's requests run as that function: the IAM check
/// attributes AWS calls by it.
fn api_router(functions: &[Function], state: &AppState) -> Router<AppState> {
    functions.iter().fold(Router::new(), |r, &f| {
        let name = f.name();
        // Inside the function's scope, so its DynamoDB calls are the function's (IAM).
        let routes = f
            .routes()
            .into_router()
            .route_layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::guard));
        r.merge(routes.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                crate::aws::as_function(name, next.run(req))
            },
        )))
    })
}

/// The router serving `functions`, with the shared layers: request ids and structured logs
/// with DynamoDB call counts, problem+json for unknown routes and panics.
pub fn router(state: AppState, functions: &[Function]) -> Router {
    api_router(functions, &state)
        .fallback(|| async { problem::problem(StatusCode::NOT_FOUND, "route_not_found", "no such route".into(), None) })
        .method_not_allowed_fallback(|| async {
            problem::problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route".into(),
                None,
            )
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), telemetry::trace_request))
        .layer(CatchPanicLayer::custom(|_| {
            problem::problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "unexpected error".into(), None)
        }))
        // Every answer is what its Content-Type says (a logo is an image, never a page).
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}
