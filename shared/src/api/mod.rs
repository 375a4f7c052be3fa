//! HTTP: one router per Lambda function, and all of them merged for the local server. Routes
//! are registered through utoipa-axum, so the OpenAPI document and the routes served are one
//! list and cannot drift apart.

mod contract;
pub mod extract;
mod idempotency;
pub mod problem;
mod routes;
mod telemetry;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::service::Ctx;

pub type AppState = Arc<Ctx>;

/// Every Lambda function of the API. The name is the binary's and, in PascalCase plus
/// `Function`, the SAM resource's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Register,
    Login,
    Refresh,
    Logout,
    VerifyEmail,
    Me,
    Jwks,
    SwitchOrg,
    CreateOrg,
    CreateSubAccount,
    Orgs,
    Activity,
    Invite,
    AcceptInvitation,
    Members,
    PasswordReset,
    Inboxes,
    Profile,
    TwoFactor,
    ChangeEmail,
    ImportUsers,
    Settings,
    Domains,
    EmailToSmsLookup,
    Directory,
    CreateUser,
    MobileVerification,
    EmailSettings,
    Theme,
    Notifications,
    NotificationEvents,
    Unsubscribe,
    AlarmService,
    AlarmServiceLookup,
    SsoProviders,
    Sso,
    Applications,
    OauthAuthorize,
    OauthToken,
    OauthIntrospect,
    ContactGroups,
    Contacts,
    MessageTemplates,
    OrgLifecycle,
    Exports,
    DeleteAccount,
}

impl Function {
    pub const ALL: [Function; 46] = [
        Function::Register,
        Function::Login,
        Function::Refresh,
        Function::Logout,
        Function::VerifyEmail,
        Function::Me,
        Function::Jwks,
        Function::SwitchOrg,
        Function::CreateOrg,
        Function::CreateSubAccount,
        Function::Orgs,
        Function::Activity,
        Function::Invite,
        Function::AcceptInvitation,
        Function::Members,
        Function::PasswordReset,
        Function::Inboxes,
        Function::Profile,
        Function::TwoFactor,
        Function::ChangeEmail,
        Function::ImportUsers,
        Function::Settings,
        Function::Domains,
        Function::EmailToSmsLookup,
        Function::Directory,
        Function::CreateUser,
        Function::MobileVerification,
        Function::EmailSettings,
        Function::Theme,
        Function::Notifications,
        Function::NotificationEvents,
        Function::Unsubscribe,
        Function::AlarmService,
        Function::AlarmServiceLookup,
        Function::SsoProviders,
        Function::Sso,
        Function::Applications,
        Function::OauthAuthorize,
        Function::OauthToken,
        Function::OauthIntrospect,
        Function::ContactGroups,
        Function::Contacts,
        Function::MessageTemplates,
        Function::OrgLifecycle,
        Function::Exports,
        Function::DeleteAccount,
    ];

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Function::Register => "register",
            Function::Login => "login",
            Function::Refresh => "refresh",
            Function::Logout => "logout",
            Function::VerifyEmail => "verify-email",
            Function::Me => "me",
            Function::Jwks => "jwks",
            Function::SwitchOrg => "switch-org",
            Function::CreateOrg => "create-org",
            Function::CreateSubAccount => "create-sub-account",
            Function::Orgs => "orgs",
            Function::Activity => "activity",
            Function::Invite => "invite",
            Function::AcceptInvitation => "accept-invitation",
            Function::Members => "members",
            Function::PasswordReset => "password-reset",
            Function::Inboxes => "inboxes",
            Function::Profile => "profile",
            Function::TwoFactor => "two-factor",
            Function::ChangeEmail => "change-email",
            Function::ImportUsers => "import-users",
            Function::Settings => "settings",
            Function::Domains => "domains",
            Function::EmailToSmsLookup => "email-to-sms-lookup",
            Function::Directory => "directory",
            Function::CreateUser => "create-user",
            Function::MobileVerification => "mobile-verification",
            Function::EmailSettings => "email-settings",
            Function::Theme => "theme",
            Function::Notifications => "notifications",
            Function::NotificationEvents => "notification-events",
            Function::Unsubscribe => "unsubscribe",
            Function::AlarmService => "alarm-service",
            Function::AlarmServiceLookup => "alarm-service-lookup",
            Function::SsoProviders => "sso-providers",
            Function::Sso => "sso",
            Function::Applications => "applications",
            Function::OauthAuthorize => "oauth-authorize",
            Function::OauthToken => "oauth-token",
            Function::OauthIntrospect => "oauth-introspect",
            Function::ContactGroups => "contact-groups",
            Function::Contacts => "contacts",
            Function::MessageTemplates => "message-templates",
            Function::OrgLifecycle => "org-lifecycle",
            Function::Exports => "exports",
            Function::DeleteAccount => "delete-account",
        }
    }

    /// The SAM logical id, e.g. `VerifyEmailFunction`.
    pub fn resource_id(self) -> String {
        let mut id = String::new();
        for part in self.name().split('-') {
            let mut c = part.chars();
            if let Some(f) = c.next() {
                id.extend(f.to_uppercase());
                id.push_str(c.as_str());
            }
        }
        id + "Function"
    }

    fn routes(self) -> OpenApiRouter<AppState> {
        match self {
            Function::Register => routes::auth::register(),
            Function::Login => routes::auth::login().merge(routes::two_factor::login_step()),
            Function::Refresh => routes::auth::refresh(),
            Function::Logout => routes::auth::logout(),
            Function::VerifyEmail => routes::auth::verify_email(),
            Function::Me => routes::me::routes(),
            Function::Jwks => routes::jwks::routes(),
            Function::SwitchOrg => routes::orgs::switch(),
            Function::CreateOrg => routes::orgs::create_org(),
            Function::CreateSubAccount => routes::orgs::create_sub_account(),
            Function::Orgs => routes::orgs::manage(),
            Function::Activity => routes::orgs::activity(),
            Function::Invite => routes::members::invite(),
            Function::AcceptInvitation => routes::members::accept().merge(routes::invitee::routes()),
            Function::Members => routes::members::manage().merge(routes::membership::routes()),
            Function::PasswordReset => routes::members::passwords(),
            Function::Inboxes => routes::inboxes::routes(),
            Function::Profile => routes::profile::routes(),
            Function::TwoFactor => routes::two_factor::routes(),
            Function::ChangeEmail => routes::email_change::routes(),
            Function::ImportUsers => routes::imports::routes(),
            Function::Settings => routes::settings::routes(),
            Function::Domains => routes::domains::routes(),
            Function::EmailToSmsLookup => routes::domains::sender_lookup(),
            Function::Directory => routes::directory::routes(),
            Function::CreateUser => routes::directory::create_user(),
            Function::MobileVerification => routes::directory::mobile(),
            Function::EmailSettings => routes::email_settings::routes(),
            Function::Theme => routes::theme::routes(),
            Function::Notifications => routes::notifications::feed(),
            Function::NotificationEvents => routes::notifications::events(),
            Function::Unsubscribe => routes::notifications::unsubscribe(),
            Function::AlarmService => routes::alarm::routes(),
            Function::AlarmServiceLookup => routes::alarm::lookup(),
            Function::SsoProviders => routes::sso::providers(),
            Function::Sso => routes::sso::sign_in(),
            Function::Applications => routes::oauth_apps::routes(),
            Function::OauthAuthorize => routes::oauth::authorize(),
            Function::OauthToken => routes::oauth::tokens(),
            Function::OauthIntrospect => routes::oauth::introspection(),
            Function::ContactGroups => routes::contact_groups::groups(),
            Function::Contacts => routes::contact_groups::contacts(),
            Function::MessageTemplates => routes::message_templates::routes(),
            Function::OrgLifecycle => routes::lifecycle::closing(),
            Function::Exports => routes::lifecycle::exports(),
            Function::DeleteAccount => routes::erasure::routes(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Accounts, organizations and members for a business-messaging platform."),
    components(schemas(problem::Problem)),
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

/// The routes of `functions` and their document. Each function's requests run as that
/// function: the IAM check attributes AWS calls by it.
fn api_router(functions: &[Function], state: Option<&AppState>) -> OpenApiRouter<AppState> {
    functions.iter().fold(OpenApiRouter::with_openapi(ApiDoc::openapi()), |r, &f| {
        let name = f.name();
        let routes = match state {
            // Inside the function's scope, so its DynamoDB calls are the function's (IAM).
            Some(s) => f.routes().route_layer(axum::middleware::from_fn_with_state(s.clone(), idempotency::guard)),
            None => f.routes(),
        };
        r.merge(routes.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                crate::aws::as_function(name, next.run(req))
            },
        )))
    })
}

/// The OpenAPI document of the given functions (all of them for the published document).
pub fn openapi(functions: &[Function]) -> utoipa::openapi::OpenApi {
    let mut doc = api_router(functions, None).into_openapi();
    contract::complete_document(&mut doc);
    doc
}

/// The router serving `functions`, with the shared layers: request ids and structured logs
/// with DynamoDB call counts, problem+json for unknown routes and panics.
pub fn router(state: AppState, functions: &[Function]) -> Router {
    let (router, _) = api_router(functions, Some(&state)).split_for_parts();
    router
        .fallback(|| async { problem::problem(StatusCode::NOT_FOUND, "route_not_found", "no such route".into(), None) })
        .method_not_allowed_fallback(|| async {
            problem::problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route".into(),
                None,
            )
        })
        .layer(axum::middleware::from_fn(telemetry::trace_request))
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
