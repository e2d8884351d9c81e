//! The parts of the OpenAPI document that no single route owns: info, servers, security schemes,
//! tags, and the documented examples attached to the operations they document.

use utoipa::OpenApi;
use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::{Components, RefOr, SecurityRequirement};

/// Where the token endpoint is, relative to the server.
const TOKEN_PATH: &str = "/oauth/token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyward",
        description = "Issues, verifies and manages API keys. A key is an OAuth 2.0 client-credentials \
            pair that a CLI, SDK or service exchanges for an access token at `/oauth/token`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    // Each deployment has its own URL: the committed documents say `/`, the root of wherever
    // they are served, and a deployment serves its own (see `at`).
    servers((url = "/", description = "The deployment that serves this document")),
    tags(
        (name = "apikeys", description = "API keys, in the HAL dialect"),
        (name = "keys", description = "API keys by name and type, shown once in full"),
        (name = "profiles", description = "The owners of keys"),
        (name = "oauth", description = "Access tokens and the keys that verify them"),
        (name = "operations", description = "Running the service"),
    )
)]
struct ApiDoc;

/// The document before any route is added.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Adds what the routes cannot say themselves: the security schemes, applied to every operation
/// that does not name its own.
pub fn finish(document: &mut utoipa::openapi::OpenApi) {
    attach_examples(document);
    document_unavailability(document);
    let components = document.components.get_or_insert_with(Components::new);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An access token from `/oauth/token`, or, where sign-in is configured, a person's \
                     access token from the identity provider: `Authorization: Bearer <token>`.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "authorization",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "An access token or a full key alone, without `Bearer`: `Authorization: <key>`.",
        ))),
    );
    components.add_security_scheme(
        "basic",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some("A key's client id and secret."))
                .build(),
        ),
    );
    components.add_security_scheme("oauth2", oauth2(TOKEN_PATH.to_owned()));
    document.security = Some(
        ["bearer", "authorization", "basic", "oauth2"]
            .into_iter()
            .map(|scheme| SecurityRequirement::new(scheme, Vec::<String>::new()))
            .collect(),
    );
}

/// The document as the deployment at `base_url` serves it: its server and its token endpoint are
/// that deployment's, as its links and its discovery document say. A relative token URL would
/// resolve against the host alone, and miss a deployment below a path.
pub fn at(document: &mut utoipa::openapi::OpenApi, base_url: &str) {
    let mut server = Server::new(base_url);
    server.description = Some("This deployment".to_owned());
    document.servers = Some(vec![server]);
    let components = document.components.get_or_insert_with(Components::new);
    components.add_security_scheme("oauth2", oauth2(format!("{base_url}{TOKEN_PATH}")));
}

/// The client-credentials grant at `token_url`.
fn oauth2(token_url: String) -> SecurityScheme {
    SecurityScheme::OAuth2(OAuth2::with_description(
        [Flow::ClientCredentials(ClientCredentials::new(token_url, Scopes::new()))],
        "The client-credentials grant: a key's client id and secret for an access token.",
    ))
}

/// Every operation that authenticates its caller reads the store, so each may answer 503 when the
/// database cannot work; its body is the operation's own error shape (that of its 401).
fn document_unavailability(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        for method in [HttpMethod::Get, HttpMethod::Put, HttpMethod::Post, HttpMethod::Delete] {
            let Some(operation) = operation_mut(item, &method) else { continue };
            let Some(RefOr::T(refused)) = operation.responses.responses.get("401") else { continue };
            let mut unavailable = ResponseBuilder::new().description(
                "The database cannot take requests now (no space, an I/O error, a lost connection): \
                 nothing was changed; retry later.",
            );
            for (media_type, content) in &refused.content {
                let RefOr::T(content) = content else { continue };
                let schema = content.schema.clone();
                unavailable = unavailable.content(media_type, ContentBuilder::new().schema(schema).build());
            }
            operation.responses.responses.insert("503".to_owned(), RefOr::T(unavailable.build()));
        }
    }
}

/// Where a documented example belongs.
enum Slot {
    Request,
    Response(u16),
}

/// A documented body, attached to the operation it documents.
struct Documented {
    path: &'static str,
    method: HttpMethod,
    slot: Slot,
    /// Which document it comes from.
    source: &'static str,
    json: &'static str,
}

/// A documented body from `openapi/examples/`.
macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/examples/", $file))
    };
}

macro_rules! documented {
    ($($path:literal $method:ident $slot:expr, $source:literal => $file:literal;)*) => {
        &[$(Documented { path: $path, method: HttpMethod::$method, slot: $slot, source: $source, json: fixture!($file) },)*]
    };
}

const DOCUMENTED: &[Documented] = documented! {
    "/api/apikeys" Get Slot::Response(200), "matatika" => "matatika/list-response.json";
    "/api/apikeys" Get Slot::Response(200), "meltano" => "meltano/list-response.json";
    "/api/apikeys/{id}" Get Slot::Response(200), "matatika" => "matatika/view-response.json";
    "/api/apikeys/{id}" Get Slot::Response(200), "meltano" => "meltano/view-response.json";
    "/api/apikeys" Post Slot::Response(200), "matatika" => "matatika/initialise-response.json";
    "/api/apikeys" Post Slot::Response(200), "meltano" => "meltano/initialise-response.json";
    "/api/apikeys/{id}" Put Slot::Request, "matatika create" => "matatika/create-request.json";
    "/api/apikeys/{id}" Put Slot::Request, "matatika update" => "matatika/update-request.json";
    "/api/apikeys/{id}" Put Slot::Request, "meltano create" => "meltano/create-request.json";
    "/api/apikeys/{id}" Put Slot::Request, "meltano update" => "meltano/update-request.json";
    "/api/apikeys/{id}" Put Slot::Response(201), "matatika" => "matatika/create-response.json";
    "/api/apikeys/{id}" Put Slot::Response(200), "matatika" => "matatika/update-response.json";
    "/api/apikeys/{id}" Put Slot::Response(200), "meltano" => "meltano/update-response.json";
    "/api/apikeys/{id}" Put Slot::Response(403), "meltano" => "meltano/create-limit-error.json";
    "/api/v1/keys/create" Post Slot::Request, "metlo" => "metlo/create-request.json";
    "/api/v1/keys/create" Post Slot::Response(200), "metlo" => "metlo/create-response.json";
    "/api/v1/keys/create" Post Slot::Response(400), "metlo" => "metlo/create-error.json";
    "/api/v1/keys/create" Post Slot::Response(400), "metlo limit" => "metlo/limit-error.json";
    "/api/v1/keys/create" Post Slot::Response(401), "metlo" => "metlo/unauthorized-error.json";
    "/api/v1/keys/list" Get Slot::Response(200), "metlo" => "metlo/list-response.json";
    "/api/v1/keys/list" Get Slot::Response(401), "metlo" => "metlo/unauthorized-error.json";
    "/api/v1/keys/onboarding" Get Slot::Response(401), "metlo" => "metlo/unauthorized-error.json";
    "/api/v1/keys/{name}/delete" Delete Slot::Response(200), "metlo" => "metlo/delete-response.json";
    "/api/v1/keys/{name}/delete" Delete Slot::Response(401), "metlo" => "metlo/unauthorized-error.json";
};

/// Attaches every documented body to its operation as a named example of each media type.
fn attach_examples(document: &mut utoipa::openapi::OpenApi) {
    for documented in DOCUMENTED {
        let value: serde_json::Value =
            serde_json::from_str(documented.json).expect("documented examples are valid JSON");
        let operation = document
            .paths
            .paths
            .get_mut(documented.path)
            .and_then(|item| operation_mut(item, &documented.method))
            .unwrap_or_else(|| panic!("no operation for the documented {}", documented.path));
        let contents: Vec<&mut RefOr<Content>> = match documented.slot {
            Slot::Request => match operation.request_body.as_mut() {
                Some(RefOr::T(body)) => body.content.values_mut().collect(),
                _ => Vec::new(),
            },
            Slot::Response(status) => match operation.responses.responses.get_mut(&status.to_string()) {
                Some(RefOr::T(response)) => response.content.values_mut().collect(),
                _ => Vec::new(),
            },
        };
        assert!(!contents.is_empty(), "nowhere to attach {} to {}", documented.source, documented.path);
        for content in contents {
            if let RefOr::T(content) = content {
                let example = ExampleBuilder::new()
                    .summary(format!("As documented ({})", documented.source))
                    .value(Some(value.clone()))
                    .build();
                content.examples.insert(documented.source.to_owned(), RefOr::T(example));
            }
        }
    }
}

fn operation_mut<'a>(item: &'a mut PathItem, method: &HttpMethod) -> Option<&'a mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}
