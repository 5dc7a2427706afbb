//! What a handler is given: the domain's ports plus the edge's own secrets. Built once per
//! Lambda container (or once for the local server) and shared by every request.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use oms_adapters::dynamo::DynamoStore;
use oms_adapters::memory::MemoryStore;
use oms_domain::ports::{Deps, Store};

use crate::cursor::CursorSigner;

#[derive(Clone)]
pub struct App {
    pub deps: Deps,
    pub cursors: CursorSigner,
}

impl App {
    pub fn new(store: Arc<dyn Store>, cursor_secret: &[u8]) -> App {
        App {
            deps: Deps::new(store),
            cursors: CursorSigner::new(cursor_secret),
        }
    }

    pub fn in_memory(store: MemoryStore) -> App {
        App::new(Arc::new(store), b"local-cursor-secret")
    }

    /// Production wiring, from the function's environment (set by `infra/template.yaml`):
    /// `TABLE_NAME`, `CURSOR_SECRET`, and optionally `DYNAMODB_ENDPOINT`.
    pub async fn from_env() -> anyhow::Result<App> {
        let table = std::env::var("TABLE_NAME").map_err(|_| anyhow::anyhow!("TABLE_NAME is not set"))?;
        let secret = std::env::var("CURSOR_SECRET").map_err(|_| anyhow::anyhow!("CURSOR_SECRET is not set"))?;
        if secret.len() < 16 {
            anyhow::bail!("CURSOR_SECRET must be at least 16 characters");
        }
        let client = dynamo_client(std::env::var("DYNAMODB_ENDPOINT").ok().as_deref()).await;
        Ok(App::new(Arc::new(DynamoStore::new(client, table)), secret.as_bytes()))
    }
}

/// A DynamoDB client: the default AWS chain, or, given an endpoint (DynamoDB Local), that
/// endpoint with throwaway credentials so no AWS account is needed.
pub async fn dynamo_client(endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    match endpoint {
        None => aws_sdk_dynamodb::Client::new(&aws_config::load_defaults(BehaviorVersion::latest()).await),
        Some(url) => {
            let conf = aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(url)
                .region(Region::new(
                    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                ))
                .credentials_provider(Credentials::new("local", "local", None, None, "local-endpoint"))
                .build();
            aws_sdk_dynamodb::Client::from_conf(conf)
        }
    }
}
