//! What a handler is given: the domain's ports plus the edge's own secrets. Built once per
//! Lambda container (or once for the local server) and shared by every request.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls;
use oms_adapters::dynamo::DynamoStore;
use oms_adapters::memory::MemoryStore;
use oms_adapters::ses::SesMailer;
use oms_adapters::sqs::SqsPublisher;
use oms_domain::ports::{Deps, Store};

use crate::cursor::CursorSigner;

#[derive(Clone)]
pub struct App {
    pub deps: Deps,
    pub cursors: CursorSigner,
    /// The API's public address, for the webhook URLs integrations are given
    /// (`PUBLIC_BASE_URL` in AWS; the local server's own address locally).
    pub base_url: String,
}

impl App {
    pub fn new(store: Arc<dyn Store>, cursor_secret: &[u8]) -> App {
        // Built here, at start-up on a shallow stack, rather than inside the first request.
        crate::handlers::declared_params();
        App {
            deps: Deps::new(store),
            cursors: CursorSigner::new(cursor_secret),
            base_url: "http://127.0.0.1:3000".into(),
        }
    }

    pub fn in_memory(store: MemoryStore) -> App {
        App::new(Arc::new(store), b"local-cursor-secret")
    }

    /// Production wiring, from the function's environment (set by `infra/template.yaml`):
    /// `TABLE_NAME`, `CURSOR_SECRET`, and optionally `DYNAMODB_ENDPOINT`.
    pub async fn from_env() -> anyhow::Result<App> {
        let secret = env("CURSOR_SECRET")?;
        if secret.len() < 16 {
            anyhow::bail!("CURSOR_SECRET must be at least 16 characters");
        }
        Ok(App {
            deps: deps_from_env().await?,
            cursors: CursorSigner::new(secret.as_bytes()),
            base_url: std::env::var("PUBLIC_BASE_URL").unwrap_or_default(),
        })
    }
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set"))
}

/// The store over the function's table: `TABLE_NAME`, optionally `DYNAMODB_ENDPOINT`.
pub async fn deps_from_env() -> anyhow::Result<Deps> {
    let client = dynamo_client(std::env::var("DYNAMODB_ENDPOINT").ok().as_deref()).await;
    Ok(Deps::new(Arc::new(DynamoStore::new(client, env("TABLE_NAME")?))))
}

/// The relay's publisher: `QUEUE_URLS` (comma-separated, one per worker), optionally
/// `SQS_ENDPOINT`.
pub async fn publisher_from_env() -> anyhow::Result<SqsPublisher> {
    let urls: Vec<String> = env("QUEUE_URLS")?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if urls.is_empty() {
        anyhow::bail!("QUEUE_URLS names no queue");
    }
    Ok(SqsPublisher::new(
        sqs_client(std::env::var("SQS_ENDPOINT").ok().as_deref()).await,
        urls,
    ))
}

/// The workers' mailer: `SENDER_EMAIL` (an SES-verified identity), optionally `SES_ENDPOINT`.
pub async fn mailer_from_env() -> anyhow::Result<SesMailer> {
    Ok(SesMailer::new(
        ses_client(std::env::var("SES_ENDPOINT").ok().as_deref()).await,
        env("SENDER_EMAIL")?,
    ))
}

/// Attempts per SDK call, with the standard mode's jittered exponential backoff: throttling,
/// 500s and lost connections are retried before a request fails. The SDK's default is 3;
/// DynamoDB's guidance for throttled tables is more (the SDKs historically used 10 for it),
/// and each Lambda's timeout bounds the total wait. With 3 % of calls throttled, three
/// throttles in a row on one call came through a chaos run as a 500; five attempts make
/// that about a thousand times rarer.
pub const SDK_MAX_ATTEMPTS: u32 = 5;

fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS)
}

/// The one HTTP client of every SDK client (and of the credential providers): hyper with
/// rustls over ring. The SDKs' default client uses aws-lc-rs, about 2 MB more per bootstrap.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration every client is built from: the default AWS chain, or a local
/// endpoint with throwaway credentials (tests add interceptors to clients built from it).
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    match endpoint {
        None => {
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(http_client())
                .retry_config(retry_config())
                .load()
                .await
        }
        Some(url) => aws_config::SdkConfig::builder()
            .http_client(http_client())
            .retry_config(retry_config())
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(url)
            .region(Region::new(
                std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            ))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                Credentials::new("local", "local", None, None, "local-endpoint"),
            ))
            .build(),
    }
}

/// An SQS client: the default AWS chain, or a local endpoint (moto) with throwaway credentials.
pub async fn sqs_client(endpoint: Option<&str>) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config(endpoint).await)
}

/// An SES v2 client: the default AWS chain, or a local endpoint (moto).
pub async fn ses_client(endpoint: Option<&str>) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&sdk_config(endpoint).await)
}

/// A DynamoDB client: the default AWS chain, or, given an endpoint (DynamoDB Local), that
/// endpoint with throwaway credentials so no AWS account is needed.
pub async fn dynamo_client(endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(endpoint).await)
}
