//! A function's routes and their documentation, kept apart so that serving never pays for
//! the document. Each handler is registered once (`routes!`), with its path and methods for
//! axum and a function that adds its OpenAPI operation and the schemas it names to a
//! document: a Lambda function's start builds only the router, and the document is built
//! where it is served or checked (`api::openapi`, with the `openapi` feature the local server
//! and the tests turn on), from the same list, so the two cannot drift apart.

use axum::Router;
use axum::routing::MethodRouter;
#[cfg(feature = "openapi")]
use utoipa::openapi::{OpenApi, RefOr, path::Paths, schema::Schema};

use super::AppState;

/// The schemas a handler's operation names, as utoipa collects them.
#[cfg(feature = "openapi")]
pub(crate) type Schemas = Vec<(String, RefOr<Schema>)>;

/// Adds one handler's operation (and the schemas it names) to a document.
#[cfg(feature = "openapi")]
pub(crate) type Documents = fn(&mut Paths, &mut Schemas);

/// Routes, served and documented.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    #[cfg(feature = "openapi")]
    documents: Vec<Documents>,
}

impl Routes {
    pub(crate) fn new() -> Routes {
        Routes::default()
    }

    /// One handler: `path` in the document's syntax (`/v1/orgs/{id}`, axum's too).
    pub(crate) fn handler(mut self, path: &str, method_router: MethodRouter<AppState>) -> Routes {
        self.router = self.router.route(path, method_router);
        self
    }

    /// The last handler's documentation.
    #[cfg(feature = "openapi")]
    pub(crate) fn documented(mut self, documents: Documents) -> Routes {
        self.documents.push(documents);
        self
    }

    /// Both sets of routes (a function serving the routes of two files).
    pub(crate) fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        #[cfg(feature = "openapi")]
        self.documents.extend(other.documents);
        self
    }

    pub(crate) fn into_router(self) -> Router<AppState> {
        self.router
    }

    /// Add these routes' operations and schemas to `doc`, in the order they were registered.
    #[cfg(feature = "openapi")]
    pub(crate) fn document(&self, doc: &mut OpenApi) {
        let mut paths = Paths::new();
        let mut schemas = Schemas::new();
        for add in &self.documents {
            add(&mut paths, &mut schemas);
        }
        doc.paths.merge(paths);
        doc.components.get_or_insert_with(Default::default).schemas.extend(schemas);
    }
}

/// The routes of handlers written with `#[utoipa::path]`, each at its documented path and
/// methods; their documentation is built only when asked for.
macro_rules! routes {
    ($($handler:ident),+ $(,)?) => {
        ::utoipa_axum::paste! {{
            #[allow(unused_imports)]
            use ::utoipa::__dev::{SchemaReferences as _, Tags as _};
            use ::utoipa::Path as _;
            use ::utoipa_axum::PathItemExt as _;
            let routes = $crate::api::doc::Routes::new();
            $(
                let method_router = [<__path_ $handler>]::methods()
                    .iter()
                    .fold(::axum::routing::MethodRouter::new(), |r, m| r.on(m.to_method_filter(), $handler));
                let routes = routes.handler(&[<__path_ $handler>]::path(), method_router);
                // Without the feature, nothing names the operation: the linker leaves it out.
                #[cfg(feature = "openapi")]
                let routes = routes.documented(|paths, schemas| {
                    let mut operation = [<__path_ $handler>]::operation();
                    let tags = [<__path_ $handler>]::tags();
                    if !tags.is_empty() {
                        operation.tags.get_or_insert_with(Vec::new).extend(tags.iter().map(ToString::to_string));
                    }
                    [<__path_ $handler>]::schemas(schemas);
                    paths.add_path_operation([<__path_ $handler>]::path(), [<__path_ $handler>]::methods(), operation);
                });
            )+
            routes
        }}
    };
}

pub(crate) use routes;
