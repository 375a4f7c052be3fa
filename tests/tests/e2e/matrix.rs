//! Authorization matrix: every organization route × every role × every target, against the
//! table below. Targets are relative to the organization M where the caller holds the role
//! (a subtree membership): M itself, its child C, grandchild G, its sibling S, its parent P,
//! and an unrelated tenant's organization U. Letters: O owner, A admin, G agent, V viewer;
//! `-` nobody. "Allowed" means authorization let the request through; "denied" means 403.

use std::collections::HashMap;

use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::domain::{OrgId, Role};

// `leave` stays last: a caller who left has no access for the rows after it.
pub(crate) const MATRIX: &str = "
route               own   child  grandchild  sibling  parent  unrelated
get-org             OAGV  OAGV   OAGV        -        -       -
children            OAGV  OAGV   OAGV        -        -       -
subtree             OAGV  OAGV   OAGV        -        -       -
activity            OA    OA     OA          -        -       -
rename              OA    OA     OA          -        -       -
create-sub-account  OA    OA     OA          -        -       -
suspend             -     OA     OA          -        -       -
reactivate          -     OA     OA          -        -       -
switch              OAGV  OAGV   OAGV        -        -       -
members             OAGV  OAGV   OAGV        -        -       -
invitations         OAGV  OAGV   OAGV        -        -       -
seats               OAGV  OAGV   OAGV        -        -       -
inboxes             OAGV  OAGV   OAGV        -        -       -
invite              OA    OA     OA          -        -       -
seat-quote          OA    OA     OA          -        -       -
create-inbox        OA    OA     OA          -        -       -
edit-member         OA    OA     OA          -        -       -
transfer-ownership  O     -      -           -        -       -
deactivate-member   OA    OA     OA          -        -       -
reactivate-member   OA    OA     OA          -        -       -
sign-out-member     OA    OA     OA          -        -       -
reset-member-pw     OA    OA     OA          -        -       -
delete-member       OA    OA     OA          -        -       -
mark-shared         OA    OA     OA          -        -       -
link-shared         OA    OA     OA          -        -       -
list-links          OA    OA     OA          -        -       -
unlink-shared       OA    OA     OA          -        -       -
edit-invitation     OA    OA     OA          -        -       -
revoke-invitation   OA    OA     OA          -        -       -
resend-invitation   OA    OA     OA          -        -       -
seat-purchase       OA    OA     OA          -        -       -
seat-remove         OA    OA     OA          -        -       -
inbox-add-member    OA    OA     OA          -        -       -
inbox-remove-member OA    OA     OA          -        -       -
inbox-assignments   OA    OA     OA          -        -       -
inbox-phone         OAGV  OAGV   OAGV        -        -       -
inbox-activity      OAGV  OAGV   OAGV        -        -       -
reset-member-2fa    OA    OA     OA          -        -       -
login-domain        OA    OA     OA          -        -       -
import-upload       OA    OA     OA          -        -       -
import-presign      OA    OA     OA          -        -       -
import-preview      OA    OA     OA          -        -       -
import-start        OA    OA     OA          -        -       -
import-job          OA    OA     OA          -        -       -
import-report       OA    OA     OA          -        -       -
get-member          OAGV  OAGV   OAGV        -        -       -
get-invitation      OAGV  OAGV   OAGV        -        -       -
inbox-members       OAGV  OAGV   OAGV        -        -       -
delete-inbox        OA    OA     OA          -        -       -
get-settings        OA    OA     OA          -        -       -
patch-settings      OA    OA     OA          -        -       -
set-aliases         OA    OA     OA          -        -       -
policy              OAGV  OAGV   OAGV        -        -       -
list-domains        OA    OA     OA          -        -       -
add-domain          OA    OA     OA          -        -       -
verify-domain       OA    OA     OA          -        -       -
remove-domain       OA    OA     OA          -        -       -
list-e2s-domains    OA    OA     OA          -        -       -
add-e2s-domain      OA    OA     OA          -        -       -
verify-e2s-domain   OA    OA     OA          -        -       -
remove-e2s-domain   OA    OA     OA          -        -       -
join-requests       OA    OA     OA          -        -       -
approve-join        OA    OA     OA          -        -       -
deny-join           OA    OA     OA          -        -       -
create-user         OA    OA     OA          -        -       -
get-email-settings  OA    OA     OA          -        -       -
patch-email-settings OA   OA     OA          -        -       -
get-logo            OA    OA     OA          -        -       -
put-logo            OA    OA     OA          -        -       -
delete-logo         OA    OA     OA          -        -       -
get-template        OA    OA     OA          -        -       -
put-template        OA    OA     OA          -        -       -
reset-template      OA    OA     OA          -        -       -
preview-template    OA    OA     OA          -        -       -
get-theme           OAGV  OAGV   OAGV        -        -       -
put-theme           OA    OA     OA          -        -       -
delete-theme        OA    OA     OA          -        -       -
preview-theme       OA    OA     OA          -        -       -
notifications       OAGV  OAGV   OAGV        -        -       -
unread-count        OAGV  OAGV   OAGV        -        -       -
read-notification   OAGV  OAGV   OAGV        -        -       -
read-all            OAGV  OAGV   OAGV        -        -       -
get-notif-prefs     OAGV  OAGV   OAGV        -        -       -
put-notif-prefs     OAGV  OAGV   OAGV        -        -       -
get-alarm-service   OA    OA     OA          -        -       -
put-alarm-service   OA    OA     OA          -        -       -
delete-alarm-service OA   OA     OA          -        -       -
list-sso-providers  OA    OA     OA          -        -       -
add-sso-provider    OA    OA     OA          -        -       -
get-sso-provider    OA    OA     OA          -        -       -
patch-sso-provider  OA    OA     OA          -        -       -
delete-sso-provider OA    OA     OA          -        -       -
list-applications   OA    OA     OA          -        -       -
add-application     OA    OA     OA          -        -       -
get-application     OA    OA     OA          -        -       -
patch-application   OA    OA     OA          -        -       -
delete-application  OA    OA     OA          -        -       -
rotate-app-secret   OA    OA     OA          -        -       -
list-groups         OAGV  OAGV   OAGV        -        -       -
create-group        OAG   OAG    OAG         -        -       -
get-group           OAGV  OAGV   OAGV        -        -       -
rename-group        OAG   OAG    OAG         -        -       -
delete-group        OAG   OAG    OAG         -        -       -
share-group         OA    OA     OA          -        -       -
list-contacts       OAG   OAG    OAG         -        -       -
add-contacts        OAG   OAG    OAG         -        -       -
put-contact         OAG   OAG    OAG         -        -       -
delete-contact      OAG   OAG    OAG         -        -       -
list-msg-templates  OAGV  OAGV   OAGV        -        -       -
add-msg-template    OA    OA     OA          -        -       -
get-msg-template    OAGV  OAGV   OAGV        -        -       -
put-msg-template    OA    OA     OA          -        -       -
delete-msg-template OA    OA     OA          -        -       -
close               -     OA     OA          -        -       -
restore             -     OA     OA          -        -       -
request-export      OA    OA     OA          -        -       -
get-export          OA    OA     OA          -        -       -
download-export     OA    OA     OA          -        -       -
leave               OAGV  OAGV   OAGV        -        -       -
";

// Settings changes carry a stale `If-Match`, so an allowed caller gets 412 (or, for aliases of
// a sub-account, 422) and nothing changes. Domain routes name a domain never claimed (404) or
// claim one (201). Join-request routes name a person who never asked (404).
// Member routes target `OUTSIDER` (no membership in M, C or G), invitation routes an address
// never invited, inbox routes an inbox that does not exist: an allowed caller gets past
// authorization to a 404/422, a denied one gets 403 first. The inbox phone and activity rows
// are open to every member because their rule is per inbox (its owner or admins; its members),
// checked after the inbox is found and covered in `inboxes.rs`. Token routes (accepting an
// invitation, resetting a password) act on no organization the caller names and are covered in
// `members.rs`; so are the sign-in side of single sign-on (`sso.rs`), the OAuth endpoints and a
// person's authorized applications (`oauth.rs`, including another organization's client), and
// the messaging service's alarm lookup (`alarm.rs`, refusing user tokens).
const NO_INBOX: &str = "inb_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const NO_GROUP: &str = "grp_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const NO_TEMPLATE: &str = "tpl_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const NO_EXPORT: &str = "exp_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const NO_UPLOAD: &str = "01arz3ndektsv4rrffq69g5fav";

const TARGETS: [&str; 6] = ["own", "child", "grandchild", "sibling", "parent", "unrelated"];

/// Who may do what is decided by the service from what the store answers, not by the engine's
/// semantics (conditions, transactions, index consistency), which the storage, faults and
/// concurrency tests hold on both engines. So the matrix, the suite's longest test on moto
/// (121 s there, 26 s here), runs on the in-process engine only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_on_dynoxide() {
    authorization_matrix(Engine::Dynoxide).await
}

fn role_letter(r: Role) -> char {
    match r {
        Role::Owner => 'O',
        Role::Admin => 'A',
        Role::Agent => 'G',
        Role::Viewer => 'V',
    }
}

pub(crate) async fn request(
    app: &TestApp,
    user: &User,
    route: &str,
    org: &str,
    outsider: &str,
) -> (StatusCode, String) {
    let (method, path, body) = match route {
        "get-org" => (Method::GET, format!("/v1/orgs/{org}"), None),
        "children" => (Method::GET, format!("/v1/orgs/{org}/children"), None),
        "subtree" => (Method::GET, format!("/v1/orgs/{org}/subtree"), None),
        "activity" => (Method::GET, format!("/v1/orgs/{org}/activity"), None),
        "rename" => {
            let id = OrgId::parse(org, "org").unwrap();
            let version = app.ctx.store.get_org(&id).await.unwrap().unwrap().version;
            (Method::PATCH, format!("/v1/orgs/{org}"), Some(json!({"name": "Renamed", "version": version})))
        }
        "create-sub-account" => (Method::POST, format!("/v1/orgs/{org}/sub-accounts"), Some(json!({"name": "Sub"}))),
        "suspend" => (Method::POST, format!("/v1/orgs/{org}/suspend"), None),
        "reactivate" => (Method::POST, format!("/v1/orgs/{org}/reactivate"), None),
        "switch" => (Method::POST, "/v1/auth/switch".into(), Some(json!({"organization_id": org}))),
        "members" => (Method::GET, format!("/v1/orgs/{org}/members"), None),
        "invitations" => (Method::GET, format!("/v1/orgs/{org}/invitations"), None),
        "seats" => (Method::GET, format!("/v1/orgs/{org}/seats"), None),
        "inboxes" => (Method::GET, format!("/v1/orgs/{org}/inboxes"), None),
        "invite" => (
            Method::POST,
            format!("/v1/orgs/{org}/invitations"),
            Some(json!({"invitations": [{"email": e2e::unique_email("matrix"), "roles": ["viewer"]}]})),
        ),
        "seat-quote" => (Method::POST, format!("/v1/orgs/{org}/seats/quote"), Some(json!({"count": 1}))),
        "create-inbox" => (Method::POST, format!("/v1/orgs/{org}/inboxes"), Some(json!({"name": "Matrix line"}))),
        "edit-member" => {
            (Method::PATCH, format!("/v1/orgs/{org}/members/{outsider}"), Some(json!({"scope": "subtree"})))
        }
        "transfer-ownership" => {
            (Method::POST, format!("/v1/orgs/{org}/transfer-ownership"), Some(json!({"user_id": user.id})))
        }
        "deactivate-member" => (Method::POST, format!("/v1/orgs/{org}/members/{outsider}/deactivate"), None),
        "reactivate-member" => (Method::POST, format!("/v1/orgs/{org}/members/{outsider}/reactivate"), None),
        "sign-out-member" => (Method::POST, format!("/v1/orgs/{org}/members/{outsider}/sign-out"), None),
        "reset-member-pw" => (Method::POST, format!("/v1/orgs/{org}/members/{outsider}/reset-password"), None),
        "delete-member" => (
            Method::DELETE,
            format!("/v1/orgs/{org}/members/{outsider}"),
            Some(json!({"reassign_to": user.id, "seat": "keep"})),
        ),
        "mark-shared" => {
            (Method::PUT, format!("/v1/orgs/{org}/members/{outsider}/shared"), Some(json!({"shared": true})))
        }
        "link-shared" => {
            (Method::POST, format!("/v1/orgs/{org}/members/{outsider}/links"), Some(json!({"user_id": user.id})))
        }
        "list-links" => (Method::GET, format!("/v1/orgs/{org}/members/{outsider}/links"), None),
        "unlink-shared" => (Method::DELETE, format!("/v1/orgs/{org}/members/{outsider}/links/{}", user.id), None),
        "edit-invitation" => {
            (Method::PATCH, format!("/v1/orgs/{org}/invitations/never@example.com"), Some(json!({"roles": ["agent"]})))
        }
        "revoke-invitation" => (Method::DELETE, format!("/v1/orgs/{org}/invitations/never@example.com"), None),
        "resend-invitation" => (Method::POST, format!("/v1/orgs/{org}/invitations/never@example.com/resend"), None),
        "seat-purchase" => (Method::POST, format!("/v1/orgs/{org}/seats/purchase"), Some(json!({"count": 1}))),
        "seat-remove" => (Method::POST, format!("/v1/orgs/{org}/seats/remove"), Some(json!({"count": 1}))),
        "inbox-add-member" => {
            (Method::POST, format!("/v1/orgs/{org}/inboxes/{NO_INBOX}/members"), Some(json!({"user_id": user.id})))
        }
        "inbox-remove-member" => {
            (Method::DELETE, format!("/v1/orgs/{org}/inboxes/{NO_INBOX}/members/{}", user.id), None)
        }
        "inbox-assignments" => (
            Method::PUT,
            format!("/v1/orgs/{org}/inboxes/{NO_INBOX}/members/{}/assignments", user.id),
            Some(
                json!({"conversation_assignment": false, "ring_group": false, "ivr": false, "call_distribution": false}),
            ),
        ),
        "inbox-phone" => {
            (Method::PUT, format!("/v1/orgs/{org}/inboxes/{NO_INBOX}/phone"), Some(json!({"phone": "+31201234567"})))
        }
        "inbox-activity" => (Method::GET, format!("/v1/orgs/{org}/inboxes/{NO_INBOX}/activity"), None),
        "reset-member-2fa" => (Method::POST, format!("/v1/orgs/{org}/members/{outsider}/reset-2fa"), None),
        // A stale version: allowed callers get past authorization to 409.
        "login-domain" => {
            (Method::PUT, format!("/v1/orgs/{org}/login-domain"), Some(json!({"login_domain": null, "version": 0})))
        }
        "import-upload" => return raw_upload(app, user, org).await,
        "import-presign" => (Method::POST, format!("/v1/orgs/{org}/imports/uploads"), Some(json!({"size": 10}))),
        "import-preview" => {
            (Method::POST, format!("/v1/orgs/{org}/imports/uploads/{NO_UPLOAD}/preview"), Some(json!({})))
        }
        "import-start" => (
            Method::POST,
            format!("/v1/orgs/{org}/imports"),
            Some(json!({"upload_id": NO_UPLOAD, "mapping": {"email": "A"}, "start_row": 2, "roles": ["viewer"]})),
        ),
        "import-job" => (Method::GET, format!("/v1/orgs/{org}/imports/{NO_UPLOAD}"), None),
        "import-report" => (Method::GET, format!("/v1/orgs/{org}/imports/{NO_UPLOAD}/report.csv"), None),
        "get-member" => (Method::GET, format!("/v1/orgs/{org}/members/{outsider}"), None),
        "get-invitation" => (Method::GET, format!("/v1/orgs/{org}/invitations/never@example.com"), None),
        "inbox-members" => (Method::GET, format!("/v1/orgs/{org}/inboxes/{NO_INBOX}/members"), None),
        "delete-inbox" => (Method::DELETE, format!("/v1/orgs/{org}/inboxes/{NO_INBOX}"), None),
        // Allowed callers get past authorization: a member leaves (the matrix runs it last),
        // one with only inherited access is told to leave the parent.
        "leave" => (Method::POST, format!("/v1/orgs/{org}/leave"), None),
        "get-settings" => (Method::GET, format!("/v1/orgs/{org}/settings"), None),
        "patch-settings" => {
            return with_if_match(
                app,
                user,
                Method::PATCH,
                &format!("/v1/orgs/{org}/settings"),
                json!({"like_messages": false}),
            )
            .await;
        }
        "set-aliases" => {
            return with_if_match(
                app,
                user,
                Method::PUT,
                &format!("/v1/orgs/{org}/aliases"),
                json!({"aliases": ["Matrix"]}),
            )
            .await;
        }
        "policy" => (Method::GET, format!("/v1/orgs/{org}/policy"), None),
        "list-domains" => (Method::GET, format!("/v1/orgs/{org}/domains"), None),
        "add-domain" => {
            (Method::POST, format!("/v1/orgs/{org}/domains"), Some(json!({"domain": "matrix-company.example"})))
        }
        "verify-domain" => (Method::POST, format!("/v1/orgs/{org}/domains/never-claimed.example/verify"), None),
        "remove-domain" => (Method::DELETE, format!("/v1/orgs/{org}/domains/never-claimed.example"), None),
        "list-e2s-domains" => (Method::GET, format!("/v1/orgs/{org}/email-to-sms-domains"), None),
        "add-e2s-domain" => (
            Method::POST,
            format!("/v1/orgs/{org}/email-to-sms-domains"),
            Some(json!({"domain": "matrix-sender.example"})),
        ),
        "verify-e2s-domain" => {
            (Method::POST, format!("/v1/orgs/{org}/email-to-sms-domains/never-claimed.example/verify"), None)
        }
        "remove-e2s-domain" => {
            (Method::DELETE, format!("/v1/orgs/{org}/email-to-sms-domains/never-claimed.example"), None)
        }
        "join-requests" => (Method::GET, format!("/v1/orgs/{org}/join-requests"), None),
        "approve-join" => (Method::POST, format!("/v1/orgs/{org}/join-requests/{outsider}/approve"), None),
        "deny-join" => (Method::DELETE, format!("/v1/orgs/{org}/join-requests/{outsider}"), None),
        "create-user" => (
            Method::POST,
            format!("/v1/orgs/{org}/users"),
            Some(
                json!({"first_name": "Matrix", "last_name": "User", "email": e2e::unique_email("created"), "roles": ["viewer"]}),
            ),
        ),
        "get-email-settings" => (Method::GET, format!("/v1/orgs/{org}/email-settings"), None),
        "patch-email-settings" => {
            let body = json!({"types": {"mentions": {"enabled": false}}});
            return with_etag(app, user, Method::PATCH, &format!("/v1/orgs/{org}/email-settings"), Some(body), STALE)
                .await;
        }
        // No logo was uploaded: allowed callers get past authorization to 404.
        "get-logo" => (Method::GET, format!("/v1/orgs/{org}/email-settings/logo"), None),
        "put-logo" => return logo_upload(app, user, org).await,
        "delete-logo" => {
            return with_etag(app, user, Method::DELETE, &format!("/v1/orgs/{org}/email-settings/logo"), None, STALE)
                .await;
        }
        "get-template" => (Method::GET, format!("/v1/orgs/{org}/email-templates/welcome"), None),
        "put-template" => {
            let body = json!({"subject": "Hi", "title": "Hi", "body": "Hello {{ first_name }}"});
            let path = format!("/v1/orgs/{org}/email-templates/welcome?language=en");
            return with_etag(app, user, Method::PUT, &path, Some(body), "\"t999999\"").await;
        }
        "reset-template" => {
            let path = format!("/v1/orgs/{org}/email-templates/welcome?language=en");
            return with_etag(app, user, Method::DELETE, &path, None, "\"t999999\"").await;
        }
        "preview-template" => {
            (Method::POST, format!("/v1/orgs/{org}/email-templates/welcome/preview"), Some(json!({})))
        }
        "get-theme" => (Method::GET, format!("/v1/orgs/{org}/theme"), None),
        "put-theme" => {
            let body = json!({"preset": "ember"});
            return with_etag(app, user, Method::PUT, &format!("/v1/orgs/{org}/theme"), Some(body), STALE).await;
        }
        "delete-theme" => {
            return with_etag(app, user, Method::DELETE, &format!("/v1/orgs/{org}/theme"), None, STALE).await;
        }
        "list-applications" => (Method::GET, format!("/v1/orgs/{org}/applications"), None),
        // A redirect URL that is not https: an allowed caller gets 422 and nothing is registered.
        "add-application" => (
            Method::POST,
            format!("/v1/orgs/{org}/applications"),
            Some(json!({"name": "m", "redirect_uris": ["http://app.example/cb"], "resources": ["profile"]})),
        ),
        "get-application" => (Method::GET, format!("/v1/orgs/{org}/applications/app_nosuch"), None),
        "patch-application" => {
            let path = format!("/v1/orgs/{org}/applications/app_nosuch");
            return with_etag(app, user, Method::PATCH, &path, Some(json!({"name": "n"})), "\"a1\"").await;
        }
        "delete-application" => (Method::DELETE, format!("/v1/orgs/{org}/applications/app_nosuch"), None),
        "rotate-app-secret" => (Method::POST, format!("/v1/orgs/{org}/applications/app_nosuch/secret"), None),
        "list-sso-providers" => (Method::GET, format!("/v1/orgs/{org}/sso-providers"), None),
        // Metadata that does not parse: an allowed caller gets 422 and nothing is added.
        "add-sso-provider" => (
            Method::POST,
            format!("/v1/orgs/{org}/sso-providers"),
            Some(json!({"title": "t", "name": "matrix", "entity_id": "urn:x", "metadata_xml": "<x/>"})),
        ),
        "get-sso-provider" => (Method::GET, format!("/v1/orgs/{org}/sso-providers/nosuch"), None),
        "patch-sso-provider" => {
            let path = format!("/v1/orgs/{org}/sso-providers/nosuch");
            return with_etag(app, user, Method::PATCH, &path, Some(json!({"enabled": false})), "\"p1\"").await;
        }
        "delete-sso-provider" => (Method::DELETE, format!("/v1/orgs/{org}/sso-providers/nosuch"), None),
        "get-alarm-service" => (Method::GET, format!("/v1/orgs/{org}/alarm-service"), None),
        "put-alarm-service" => {
            let body = json!({"type": "ascom", "host": "10.0.0.5", "port": 5000, "subject": "Alarm", "call_id": "12"});
            return with_etag(app, user, Method::PUT, &format!("/v1/orgs/{org}/alarm-service"), Some(body), STALE)
                .await;
        }
        "delete-alarm-service" => {
            return with_etag(app, user, Method::DELETE, &format!("/v1/orgs/{org}/alarm-service"), None, STALE).await;
        }
        "preview-theme" => (Method::POST, format!("/v1/orgs/{org}/theme/preview"), Some(json!({"preset": "ember"}))),
        "notifications" => (Method::GET, format!("/v1/orgs/{org}/notifications"), None),
        "unread-count" => (Method::GET, format!("/v1/orgs/{org}/notifications/unread-count"), None),
        // No such notification: an allowed caller gets 404.
        "read-notification" => {
            (Method::POST, format!("/v1/orgs/{org}/notifications/01JAAAAAAAAAAAAAAAAAAAAAAA/read"), Some(json!({})))
        }
        "read-all" => (Method::POST, format!("/v1/orgs/{org}/notifications/read-all"), Some(json!({}))),
        "get-notif-prefs" => (Method::GET, format!("/v1/orgs/{org}/notification-preferences"), None),
        "put-notif-prefs" => (Method::PUT, format!("/v1/orgs/{org}/notification-preferences"), Some(json!({}))),
        // Groups and templates that do not exist: an allowed caller gets past authorization
        // to a 404 (or 428 without If-Match); creations create.
        "list-groups" => (Method::GET, format!("/v1/orgs/{org}/contact-groups"), None),
        "create-group" => (Method::POST, format!("/v1/orgs/{org}/contact-groups"), Some(json!({"name": "Matrix"}))),
        "get-group" => (Method::GET, format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}"), None),
        "rename-group" => {
            let path = format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}");
            return with_etag(app, user, Method::PATCH, &path, Some(json!({"name": "n"})), "\"g1\"").await;
        }
        "delete-group" => {
            let path = format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}");
            return with_etag(app, user, Method::DELETE, &path, None, "\"g1\"").await;
        }
        "share-group" => {
            (Method::PUT, format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}/sharing"), Some(json!({"mode": "all"})))
        }
        "list-contacts" => (Method::GET, format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}/contacts"), None),
        "add-contacts" => (
            Method::POST,
            format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}/contacts"),
            Some(json!({"contacts": [{"name": "A", "phone": "+64211234567"}]})),
        ),
        "put-contact" => (
            Method::PUT,
            format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}/contacts/%2B64211234567"),
            Some(json!({"name": "A"})),
        ),
        "delete-contact" => {
            (Method::DELETE, format!("/v1/orgs/{org}/contact-groups/{NO_GROUP}/contacts/%2B64211234567"), None)
        }
        "list-msg-templates" => (Method::GET, format!("/v1/orgs/{org}/message-templates"), None),
        "add-msg-template" => (
            Method::POST,
            format!("/v1/orgs/{org}/message-templates"),
            Some(json!({"name": "m", "language": "en", "body": "Hi {{name}}"})),
        ),
        "get-msg-template" => (Method::GET, format!("/v1/orgs/{org}/message-templates/{NO_TEMPLATE}"), None),
        "put-msg-template" => {
            let path = format!("/v1/orgs/{org}/message-templates/{NO_TEMPLATE}");
            let body = json!({"name": "m", "language": "en", "body": "b"});
            return with_etag(app, user, Method::PUT, &path, Some(body), "\"m1\"").await;
        }
        "delete-msg-template" => {
            let path = format!("/v1/orgs/{org}/message-templates/{NO_TEMPLATE}");
            return with_etag(app, user, Method::DELETE, &path, None, "\"m1\"").await;
        }
        // A stale version: an allowed caller gets 409 and nothing closes.
        "close" => (Method::POST, format!("/v1/orgs/{org}/close"), Some(json!({"version": 0}))),
        // Not closed: an allowed caller gets 422.
        "restore" => (Method::POST, format!("/v1/orgs/{org}/restore"), None),
        "request-export" => (Method::POST, format!("/v1/orgs/{org}/exports"), None),
        "get-export" => (Method::GET, format!("/v1/orgs/{org}/exports/{NO_EXPORT}"), None),
        "download-export" => (Method::GET, format!("/v1/orgs/{org}/exports/{NO_EXPORT}/download"), None),
        other => panic!("route {other} has no request in the matrix test"),
    };
    let r = app.call(method, &path, Some(&user.access), body).await;
    (r.status, r.code().to_owned())
}

/// A settings change with an `If-Match` that names no current version.
async fn with_if_match(
    app: &TestApp,
    user: &User,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, String) {
    let resp = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&user.access)
        .header("If-Match", "\"s999999\"")
        .json(&body)
        .send()
        .await
        .expect("settings change");
    let r = TestApp::reply(resp).await;
    (r.status, r.code().to_owned())
}

/// An `If-Match` naming no current version of the settings.
const STALE: &str = "\"s999999\"";

/// A change carrying `etag` in `If-Match` (and a JSON body, when given).
async fn with_etag(
    app: &TestApp,
    user: &User,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    etag: &str,
) -> (StatusCode, String) {
    let mut req =
        app.http.request(method, format!("{}{path}", app.base)).bearer_auth(&user.access).header("If-Match", etag);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = TestApp::reply(req.send().await.expect("change")).await;
    (r.status, r.code().to_owned())
}

/// A logo upload is the image itself, with a stale `If-Match`.
async fn logo_upload(app: &TestApp, user: &User, org: &str) -> (StatusCode, String) {
    let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/logos/acme.png")).expect("fixture");
    let resp = app
        .http
        .put(format!("{}/v1/orgs/{org}/email-settings/logo", app.base))
        .bearer_auth(&user.access)
        .header("content-type", "image/png")
        .header("If-Match", STALE)
        .body(png)
        .send()
        .await
        .expect("logo upload");
    let r = TestApp::reply(resp).await;
    (r.status, r.code().to_owned())
}

/// A direct upload is a raw body, not JSON.
async fn raw_upload(app: &TestApp, user: &User, org: &str) -> (StatusCode, String) {
    let resp = app
        .http
        .post(format!("{}/v1/orgs/{org}/imports/files", app.base))
        .bearer_auth(&user.access)
        .header("content-type", "text/csv")
        .body("email\nann@example.com\n")
        .send()
        .await
        .expect("upload");
    let r = TestApp::reply(resp).await;
    (r.status, r.code().to_owned())
}

/// The matrix's organizations: the founder's P with M and S beneath it, C beneath M, G
/// beneath C, and an unrelated tenant's U. `(founder, P, M, S, C, G, U)`.
pub(crate) async fn tree(app: &TestApp, tag: &str) -> (User, String, String, String, String, String, String) {
    let founder = app.signup(&format!("{tag}-founder"), "web").await;
    let parent = founder.org.clone();
    let own = app.sub_account(&founder.access, &parent, "M").await;
    let sibling = app.sub_account(&founder.access, &parent, "S").await;
    let child = app.sub_account(&founder.access, &own, "C").await;
    let grandchild = app.sub_account(&founder.access, &child, "G").await;
    let unrelated = app.signup(&format!("{tag}-stranger"), "web").await.org;
    (founder, parent, own, sibling, child, grandchild, unrelated)
}

async fn authorization_matrix(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (founder, parent, own, sibling, child, grandchild, unrelated) = tree(&app, "matrix").await;
    let target: HashMap<&str, &String> = HashMap::from([
        ("own", &own),
        ("child", &child),
        ("grandchild", &grandchild),
        ("sibling", &sibling),
        ("parent", &parent),
        ("unrelated", &unrelated),
    ]);

    let mut users = Vec::new();
    for role in Role::ALL {
        let user = app.signup(&format!("as-{}", role.as_str()), "web").await;
        let roles = if role == Role::Owner { vec![Role::Owner, Role::Admin] } else { vec![role] };
        app.add_member(&user.id, &own, &roles, Scope::Subtree, Manage::All).await;

        // Zero leaks in the listing either.
        let mine = app.get("/v1/me/organizations?limit=200", &user.access).await;
        let mut listed: Vec<String> = mine.body["organizations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["organization"]["id"].as_str().unwrap().to_owned())
            .filter(|id| *id != user.org)
            .collect();
        listed.sort();
        let mut expected = vec![own.clone(), child.clone(), grandchild.clone()];
        expected.sort();
        assert_eq!(listed, expected, "{role:?} lists exactly M and beneath");
        users.push((role, user));
    }

    let mut checked = 0;
    let mut failures = Vec::new();
    for (role, user) in users {
        for line in MATRIX.lines().skip(2).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let route = cols[0];
            // Leaving M ends the caller's rights below it: that row (the last) visits M last.
            let order: Vec<usize> = if route == "leave" { (0..6).rev().collect() } else { (0..6).collect() };
            for i in order {
                let t = &TARGETS[i];
                let allowed = cols[i + 1].contains(role_letter(role));
                let (status, code) = request(&app, &user, route, target[t], &founder.id).await;
                // Allowed: authorization let the request through (it may still fail validation,
                // e.g. transferring ownership to oneself, or a grant rule such as acting on the
                // owner). Denied: 403 `forbidden`, nothing else.
                let denied = status == StatusCode::FORBIDDEN && code == "forbidden";
                let ok = if allowed {
                    !denied && status != StatusCode::UNAUTHORIZED && !status.is_server_error()
                } else {
                    denied
                };
                checked += 1;
                if !ok {
                    failures.push(format!(
                        "{route} {t} as {role:?}: expected {}, got {status} {code}",
                        if allowed { "allow" } else { "403" }
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cells wrong:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, MATRIX.lines().skip(2).filter(|l| !l.trim().is_empty()).count() * 6 * 4);
    // Every operation under /v1/orgs/{org_id} in the published document has a row.
    let doc = serde_json::to_value(switchboard::api::openapi(&switchboard::api::Function::ALL)).expect("document");
    let org_operations: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/orgs/{org_id}"))
        .map(|(_, ops)| ops.as_object().map_or(0, |o| o.keys().filter(|k| *k != "parameters").count()))
        .sum();
    // Plus `switch`, which names the organization in its body.
    assert_eq!(checked, (org_operations + 1) * 6 * 4, "every organization-scoped route has a row");
}
