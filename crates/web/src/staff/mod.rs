//! The staff side: login, the queue, request detail and actions, administration, and the
//! staff JSON API. [`routes`] is the one table that says who may use which route; the router
//! is built from it and the role-matrix test enumerates it.

mod account;
mod admin;
pub mod answer;
pub mod api;
mod audit;
mod auth;
mod complaints;
mod dashboard;
pub mod datamap;
mod documents;
mod form;
pub mod guard;
mod incidents;
mod intake;
/// The printable request form is public: a subject prints it from `/procedures`.
pub(crate) use intake::printable_form;
mod mail;
mod pages;
mod webhooks;
mod work;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use madoguchi_domain::Role;

use crate::state::AppState;
use guard::Guard;

/// Everyone on the staff.
pub const ANY_STAFF: &[Role] = &[Role::Admin, Role::Officer, Role::Auditor];
/// Staff who work requests.
pub const WORKERS: &[Role] = &[Role::Admin, Role::Officer];
/// Administrators only.
pub const ADMINS: &[Role] = &[Role::Admin];
/// Administrators, and auditors who read what administrators set.
pub const ADMINS_AND_AUDITORS: &[Role] = &[Role::Admin, Role::Auditor];

/// One guarded route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path pattern.
    pub path: &'static str,
    /// Roles admitted.
    pub roles: &'static [Role],
    /// Bearer-token API route.
    pub api: bool,
    /// Takes file uploads (multipart, up to the package limit); every other route refuses
    /// multipart bodies.
    pub uploads: bool,
    /// A form longer than `MADOGUCHI_BODY_LIMIT` admits (an incident's nine report items):
    /// its own limit in bytes.
    pub form_limit: Option<usize>,
}

/// An incident's form: nine items of up to 4,000 characters, a Japanese character taking nine
/// bytes once form-encoded, with room for the rest.
pub const INCIDENT_FORM_BYTES: usize = 9 * 4000 * 9 + 64 * 1024;

fn page(method: Method, path: &'static str, roles: &'static [Role]) -> RouteSpec {
    RouteSpec {
        method,
        path,
        roles,
        api: false,
        uploads: false,
        form_limit: None,
    }
}

/// A form carrying one message of up to 4,000 characters (a complaint's reply, a note): a
/// Japanese character takes nine bytes once form-encoded, with room for the rest.
pub const MESSAGE_FORM_BYTES: usize = 4000 * 9 + 16 * 1024;

/// The most a form at `path` may send: its own limit where its text is long, never less
/// than `MADOGUCHI_BODY_LIMIT`.
pub(crate) fn form_limit(path: &str, body_limit: usize) -> usize {
    let own = if path.starts_with("/staff/incidents") {
        INCIDENT_FORM_BYTES
    } else if path == "/complaints"
        || path.starts_with("/staff/complaints/")
        || (path.starts_with("/staff/requests/") && path.ends_with("/notes"))
    {
        MESSAGE_FORM_BYTES
    } else {
        0
    };
    own.max(body_limit)
}

/// A page route whose form carries one long message.
fn message_form(method: Method, path: &'static str, roles: &'static [Role]) -> RouteSpec {
    RouteSpec {
        form_limit: Some(MESSAGE_FORM_BYTES),
        ..page(method, path, roles)
    }
}

/// A page route whose form may be long.
fn long_form(method: Method, path: &'static str, roles: &'static [Role]) -> RouteSpec {
    RouteSpec {
        form_limit: Some(INCIDENT_FORM_BYTES),
        ..page(method, path, roles)
    }
}

/// A page route that takes files.
fn upload(method: Method, path: &'static str, roles: &'static [Role]) -> RouteSpec {
    RouteSpec {
        uploads: true,
        ..page(method, path, roles)
    }
}

fn api(method: Method, path: &'static str, roles: &'static [Role]) -> RouteSpec {
    RouteSpec {
        method,
        path,
        roles,
        api: true,
        uploads: false,
        form_limit: None,
    }
}

/// Every guarded route with its handler.
pub fn routes() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    vec![
        (
            page(Method::GET, "/staff", ANY_STAFF),
            get(work::show_queue),
        ),
        (
            page(Method::GET, "/staff/requests/{pid}", ANY_STAFF),
            get(work::show_request),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/events", WORKERS),
            post(work::apply_event),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/claim", WORKERS),
            post(work::claim_request),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/incident", WORKERS),
            post(work::link_incident),
        ),
        (
            message_form(Method::POST, "/staff/requests/{pid}/notes", WORKERS),
            post(work::add_note),
        ),
        (
            page(
                Method::GET,
                "/staff/requests/{pid}/documents/{doc}",
                ANY_STAFF,
            ),
            get(documents::view_document),
        ),
        (
            upload(Method::POST, "/staff/requests/{pid}/documents", WORKERS),
            post(documents::attach_package),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/posted", WORKERS),
            post(documents::record_posting),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/refunds/{id}", WORKERS),
            post(documents::record_refund),
        ),
        (
            page(
                Method::POST,
                "/staff/requests/{pid}/payments/{id}/refund",
                WORKERS,
            ),
            post(documents::refund_flagged),
        ),
        (
            page(Method::GET, "/staff/requests/{pid}/letter", ANY_STAFF),
            get(documents::show_letter),
        ),
        (
            page(Method::GET, "/staff/requests/{pid}/letters/{id}", WORKERS),
            get(documents::show_notice_letter),
        ),
        (
            page(
                Method::POST,
                "/staff/requests/{pid}/letters/{id}/posted",
                WORKERS,
            ),
            post(documents::record_letter_posted),
        ),
        (
            upload(Method::POST, "/staff/requests/{pid}/evidence", WORKERS),
            post(documents::attach_evidence),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/gather", WORKERS),
            post(work::gather_again),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/package", WORKERS),
            post(work::attach_package),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/review", WORKERS),
            post(work::review_fields),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/erase", WORKERS),
            post(work::order_erasure),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/correct", WORKERS),
            post(work::order_correction),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/erase/approve", WORKERS),
            post(work::approve_erasure),
        ),
        (
            page(Method::POST, "/staff/requests/{pid}/stop", WORKERS),
            post(work::stop_provision),
        ),
        (
            page(
                Method::POST,
                "/staff/requests/{pid}/correct/approve",
                WORKERS,
            ),
            post(work::approve_corrections),
        ),
        (
            page(Method::POST, "/staff/requests/assign", WORKERS),
            post(work::assign_requests),
        ),
        (
            page(Method::GET, "/staff/incidents", ANY_STAFF),
            get(incidents::list),
        ),
        (
            long_form(Method::POST, "/staff/incidents", WORKERS),
            post(incidents::open),
        ),
        (
            page(Method::GET, "/staff/incidents/new", WORKERS),
            get(incidents::new_form),
        ),
        (
            page(Method::GET, "/staff/incidents/{pid}", ANY_STAFF),
            get(incidents::show),
        ),
        (
            long_form(Method::POST, "/staff/incidents/{pid}", WORKERS),
            post(incidents::update),
        ),
        (
            page(Method::POST, "/staff/incidents/{pid}/reports", WORKERS),
            post(incidents::record_report),
        ),
        (
            page(Method::GET, "/staff/incidents/{pid}/report", ANY_STAFF),
            get(incidents::report),
        ),
        (
            page(Method::GET, "/staff/dashboard", ANY_STAFF),
            get(dashboard::show_dashboard),
        ),
        (
            page(Method::GET, "/staff/admin/mail", ADMINS_AND_AUDITORS),
            get(mail::show_mail),
        ),
        (
            page(Method::POST, "/staff/admin/mail/{id}/retry", ADMINS),
            post(mail::retry_mail),
        ),
        (
            page(
                Method::GET,
                "/staff/admin/mail/preview/{template}",
                ANY_STAFF,
            ),
            get(mail::preview_mail),
        ),
        (
            page(Method::GET, "/staff/audit", ADMINS_AND_AUDITORS),
            get(audit::show_trail),
        ),
        (
            page(Method::POST, "/staff/audit/verify", ADMINS_AND_AUDITORS),
            post(audit::verify_now),
        ),
        (
            page(Method::GET, "/staff/audit/export.csv", ADMINS_AND_AUDITORS),
            get(audit::export_csv),
        ),
        (
            page(
                Method::GET,
                "/staff/audit/export.jsonl",
                ADMINS_AND_AUDITORS,
            ),
            get(audit::export_jsonl),
        ),
        (
            page(Method::GET, "/staff/reports/monthly.csv", ANY_STAFF),
            get(dashboard::monthly_report),
        ),
        (
            upload(Method::POST, "/staff/incidents/{pid}/people", WORKERS),
            post(incidents::import_people),
        ),
        (
            page(Method::POST, "/staff/incidents/{pid}/notices", WORKERS),
            post(incidents::send_notices),
        ),
        (
            page(
                Method::POST,
                "/staff/incidents/{pid}/failed-letters",
                WORKERS,
            ),
            post(incidents::send_failed_letters),
        ),
        (
            page(Method::GET, "/staff/incidents/{pid}/letters", WORKERS),
            get(incidents::letters),
        ),
        (
            page(Method::POST, "/staff/incidents/{pid}/letters", WORKERS),
            post(incidents::letters_posted),
        ),
        (
            page(Method::POST, "/staff/incidents/{pid}/published", WORKERS),
            post(incidents::record_publication),
        ),
        (
            page(Method::GET, "/staff/admin/webhooks", ADMINS_AND_AUDITORS),
            get(webhooks::show),
        ),
        (
            page(Method::POST, "/staff/admin/webhooks", ADMINS),
            post(webhooks::add),
        ),
        (
            page(Method::POST, "/staff/admin/webhooks/{pid}/disable", ADMINS),
            post(webhooks::disable),
        ),
        (
            page(
                Method::POST,
                "/staff/admin/webhooks/deliveries/{pid}/replay",
                ADMINS,
            ),
            post(webhooks::replay),
        ),
        (
            page(Method::GET, "/staff/complaints", ANY_STAFF),
            get(complaints::queue),
        ),
        (
            page(Method::GET, "/staff/complaints/{pid}", ANY_STAFF),
            get(complaints::show),
        ),
        (
            message_form(Method::POST, "/staff/complaints/{pid}/{action}", WORKERS),
            post(complaints::act),
        ),
        (
            page(Method::GET, "/staff/intake", WORKERS),
            get(intake::show_intake),
        ),
        (
            page(Method::POST, "/staff/intake", WORKERS),
            post(intake::register_request),
        ),
        (
            page(Method::GET, "/staff/admin/users", ADMINS_AND_AUDITORS),
            get(admin::list_users),
        ),
        (
            page(Method::POST, "/staff/admin/users", ADMINS),
            post(admin::invite_user),
        ),
        (
            page(Method::POST, "/staff/admin/users/{pid}", ADMINS),
            post(admin::update_user),
        ),
        (
            page(Method::GET, "/staff/admin/settings", ADMINS_AND_AUDITORS),
            get(admin::show_settings),
        ),
        (
            page(Method::POST, "/staff/admin/settings/fees", ADMINS),
            post(admin::update_fees),
        ),
        (
            page(Method::POST, "/staff/admin/settings/policy", ADMINS),
            post(admin::update_policy),
        ),
        (
            page(Method::POST, "/staff/admin/settings/retention", ADMINS),
            post(admin::update_retention),
        ),
        (
            page(Method::POST, "/staff/admin/settings/payment", ADMINS),
            post(admin::update_payment),
        ),
        (
            page(Method::POST, "/staff/admin/settings/branding", ADMINS),
            post(admin::update_branding),
        ),
        (
            upload(Method::POST, "/staff/admin/settings/logo", ADMINS),
            post(admin::update_logo),
        ),
        (
            page(Method::POST, "/staff/admin/settings/templates", ADMINS),
            post(admin::add_template),
        ),
        (
            page(
                Method::POST,
                "/staff/admin/settings/templates/remove",
                ADMINS,
            ),
            post(admin::remove_template),
        ),
        (
            page(Method::POST, "/staff/admin/settings/business", ADMINS),
            post(admin::update_business),
        ),
        (
            page(Method::GET, "/staff/admin/datamap", ADMINS_AND_AUDITORS),
            get(datamap::show_datamap),
        ),
        (
            page(Method::POST, "/staff/admin/datamap", ADMINS),
            post(datamap::replace_datamap),
        ),
        (
            page(Method::POST, "/staff/admin/datamap/test", ADMINS),
            post(datamap::test_connections),
        ),
        (
            page(Method::GET, "/staff/register", WORKERS),
            get(datamap::show_register),
        ),
        (
            page(Method::POST, "/staff/register", WORKERS),
            post(datamap::import_register_form),
        ),
        (
            api(Method::POST, "/api/v1/staff/register", WORKERS),
            post(datamap::import_register_api),
        ),
        (
            page(Method::GET, "/staff/account/password", ANY_STAFF),
            get(account::show_password),
        ),
        (
            page(Method::POST, "/staff/account/password", ANY_STAFF),
            post(account::change_password),
        ),
        (
            page(Method::GET, "/staff/account", ANY_STAFF),
            get(account::show_account),
        ),
        (
            page(Method::POST, "/staff/account/totp", ANY_STAFF),
            post(account::begin_totp),
        ),
        (
            page(Method::POST, "/staff/account/totp/confirm", ANY_STAFF),
            post(account::confirm_totp),
        ),
        (
            page(Method::POST, "/staff/account/tokens", ANY_STAFF),
            post(account::create_token),
        ),
        (
            page(Method::POST, "/staff/account/tokens/{id}/revoke", ANY_STAFF),
            post(account::revoke_token),
        ),
        (
            page(Method::POST, "/staff/logout", ANY_STAFF),
            post(auth::logout),
        ),
        (
            api(Method::GET, "/api/v1/staff/requests", ANY_STAFF),
            get(api::list_requests),
        ),
        (
            api(Method::GET, "/api/v1/staff/requests/{pid}", ANY_STAFF),
            get(api::show_request),
        ),
        (
            api(Method::POST, "/api/v1/staff/requests/{pid}/events", WORKERS),
            post(api::apply_event),
        ),
        (
            api(
                Method::GET,
                "/api/v1/staff/settings/fees",
                ADMINS_AND_AUDITORS,
            ),
            get(api::show_fees),
        ),
        (
            api(Method::PUT, "/api/v1/staff/settings/fees", ADMINS),
            axum::routing::put(api::update_fees),
        ),
    ]
}

/// The staff router: the guarded table plus the login pages.
pub fn router(state: AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/staff/login", get(auth::show_login).post(auth::login))
        .route("/staff/login/totp", post(auth::login_totp))
        .route("/staff/sso", post(auth::sso_start))
        .route("/staff/sso/callback", get(auth::sso_callback))
        .route("/static/staff.css", get(stylesheet));
    for (spec, handler) in routes() {
        let guard = Guard {
            roles: spec.roles,
            api: spec.api,
            uploads: spec.uploads,
            form_limit: spec.form_limit,
        };
        let handler = if spec.uploads {
            handler.layer(DefaultBodyLimit::max(state.config.package_max_bytes))
        } else if let Some(limit) = spec.form_limit {
            handler.layer(DefaultBodyLimit::max(limit.max(state.config.body_limit)))
        } else {
            handler
        };
        router = router.route(
            spec.path,
            handler.route_layer(from_fn_with_state((state.clone(), guard), guard::guard)),
        );
    }
    router
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/staff.css"),
    )
}
