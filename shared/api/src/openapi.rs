//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the request/response types, so it cannot drift from the code.

use utoipa::openapi::content::Content;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Type};
use utoipa::{Modify, OpenApi};

use crate::handlers;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Order management API",
        description = "Orders, products, customers and stock for B2B distributors. Amounts are decimal strings in the order's currency. Errors are always {\"error\": {\"code\", \"message\", \"details\"}}."
    ),
    paths(
        handlers::orders::create_order,
        handlers::orders::get_order,
        handlers::documents::get_invoice,
        handlers::documents::email_invoice,
        handlers::children::create_child_order,
        handlers::children::record_payment,
        handlers::order_reads::list_orders,
        handlers::order_reads::search_orders,
        handlers::order_reads::requires_attention,
        handlers::order_reads::high_value_orders,
        handlers::orders::update_order,
        handlers::orders::change_order_status,
        handlers::audit::list_audit_log,
        handlers::products::create_product,
        handlers::products::list_products,
        handlers::products::get_product,
        handlers::products::update_product,
        handlers::products::adjust_stock,
        handlers::customers::create_customer,
        handlers::customers::get_customer,
        handlers::customers::set_customer_price,
        handlers::integrations::create_integration,
        handlers::integrations::list_integrations,
        handlers::integrations::get_integration,
        handlers::integrations::delete_integration,
        handlers::integrations::rotate_integration_secret,
        handlers::integrations::list_deliveries,
        handlers::integrations::get_delivery,
        handlers::integrations::retry_delivery,
        handlers::integrations::receive_webhook,
        handlers::settings::get_settings,
        handlers::settings::update_settings,
        handlers::imports::import_products,
        handlers::imports::get_import,
        handlers::inventory::inventory_health,
        handlers::inventory::list_low_stock,
        handlers::inventory::list_out_of_stock,
        handlers::products::activate_product,
        handlers::products::deactivate_product,
        handlers::customers::list_customers,
        handlers::customers::update_customer,
        handlers::customers::list_customer_prices,
        handlers::customers::delete_customer_price,
        handlers::products::bulk_stock,
        handlers::users::list_users,
        handlers::users::create_user,
        handlers::users::get_user,
        handlers::users::update_user,
        handlers::users::deactivate_user,
    ),
    modifiers(&BearerAuth, &CommonResponses, &DecimalInputSchema, &ProductAvailable)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The error responses that come from the edge rather than from one handler, added to every
/// operation in one place (an operation's own entry for a status wins): 401 from the
/// authorizer, 500 and 503 from any handler, and 400, 413 and 415 from parsing a JSON body
/// (`request::json_body`) on every operation that takes one. All use the one error shape.
struct CommonResponses;

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    )
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let common: Vec<(&str, Response)> = vec![
            (
                "401",
                error_response("unauthorized: missing, expired or forged token.").build(),
            ),
            (
                "500",
                error_response("internal_error: an unexpected failure (logged; the body says nothing more).").build(),
            ),
            (
                "503",
                error_response("contention: the store stayed too busy to finish; retry after `Retry-After` seconds.")
                    .header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(
                                utoipa::openapi::ObjectBuilder::new()
                                    .schema_type(Type::Integer)
                                    .minimum(Some(0)),
                            )
                            .description(Some("Seconds to wait before retrying."))
                            .build(),
                    )
                    .build(),
            ),
        ];
        let with_body: Vec<(&str, Response)> = vec![
            (
                "400",
                error_response("malformed_json: the body is empty or not JSON.").build(),
            ),
            (
                "413",
                error_response("payload_too_large: the body is over 256 KiB.").build(),
            ),
            (
                "415",
                error_response("unsupported_media_type: a Content-Type other than application/json.").build(),
            ),
            (
                "422",
                error_response("validation_error naming each invalid field.").build(),
            ),
        ];
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let has_body = op.request_body.is_some();
                let extra = common.iter().chain(with_body.iter().filter(|_| has_body));
                for (status, response) in extra {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::T(response.clone()));
                }
            }
        }
    }
}

/// `DecimalInput` (every amount a request sends) reads a JSON string or a number
/// (`money::deserialize_decimal`); its derived schema says only "string". Amounts are at
/// least 0 and at most 10^12, with at most the currency's decimal places (2 for USD).
struct DecimalInputSchema;

impl Modify for DecimalInputSchema {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            "DecimalInput".to_owned(),
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
                .description(Some(
                    "A decimal amount as a string (\"12.50\") or a JSON number: from 0 to 1000000000000, \
                     with at most the currency's decimal places.",
                ))
                .pattern(Some(r"^[0-9]{1,12}(\.[0-9]{1,2})?$"))
                .minimum(Some(0))
                .maximum(Some(1_000_000_000_000_i64))
                .examples([serde_json::json!("12.50")])
                .into(),
        );
    }
}

/// `Product.available` is written by the product's hand-written `Serialize` (it is
/// `stock`, not a stored field), so the derived schema lacks it.
struct ProductAvailable;

impl Modify for ProductAvailable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Schema};
        use utoipa::openapi::RefOr;
        let components = openapi.components.get_or_insert_with(Default::default);
        if let Some(RefOr::T(Schema::Object(product))) = components.schemas.get_mut("Product") {
            let available = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int32,
                )))
                .minimum(Some(0))
                .description(Some(
                    "Units that can be sold now: the same as `stock`. Under the `reserve_on_confirm` \
                     stock policy the units held for confirmed orders are in `reserved`, not here.",
                ));
            product.properties.insert("available".to_owned(), available.into());
            product.required.push("available".to_owned());
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
