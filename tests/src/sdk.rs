//! SDK interceptors for tests: a recorder of the AWS operations a piece of code really
//! performs (and the IAM actions they need), installed on the same SDK clients production
//! builds, so what is recorded is what the adapters send.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One IAM permission a call needs: the action, and whether it reads a secondary index
/// (which IAM authorizes on the `<table>/index/*` resource, not the table's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Needed {
    pub action: String,
    pub on_index: bool,
}

/// A DynamoDB client over `config` with `interceptor` installed.
pub fn dynamodb_with(
    config: &aws_config::SdkConfig,
    interceptor: impl Intercept + 'static,
) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(config)
            .interceptor(interceptor)
            .build(),
    )
}

/// An SQS client over `config` with `interceptor` installed.
pub fn sqs_with(config: &aws_config::SdkConfig, interceptor: impl Intercept + 'static) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(config)
            .interceptor(interceptor)
            .build(),
    )
}

/// Records the IAM actions of every operation sent through the clients it is installed on
/// (once per operation, before it is serialized, whatever its retries).
#[derive(Debug, Clone, Default)]
pub struct CallRecorder(Arc<Mutex<BTreeSet<Needed>>>);

impl CallRecorder {
    /// Everything recorded since the last call, and clears it.
    pub fn take(&self) -> BTreeSet<Needed> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add(&self, action: String, on_index: bool) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Needed { action, on_index });
    }

    /// A DynamoDB client over `config` that records through this recorder.
    pub fn dynamodb(&self, config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        dynamodb_with(config, self.clone())
    }

    pub fn sqs(&self, config: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
        sqs_with(config, self.clone())
    }

    pub fn ses(&self, config: &aws_config::SdkConfig) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(config)
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_serialization(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(meta) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let (service, op) = (meta.service().to_ascii_lowercase(), meta.name().to_owned());
        let input = ctx.input();
        use aws_sdk_dynamodb::operation as ddb;
        match (service.as_str(), op.as_str()) {
            // IAM authorizes each action of a transaction as the single-item write it is.
            ("dynamodb", "TransactWriteItems") => {
                if let Some(i) = input.downcast_ref::<ddb::transact_write_items::TransactWriteItemsInput>() {
                    for item in i.transact_items() {
                        let action = if item.put().is_some() {
                            "PutItem"
                        } else if item.update().is_some() {
                            "UpdateItem"
                        } else if item.delete().is_some() {
                            "DeleteItem"
                        } else {
                            "ConditionCheckItem"
                        };
                        self.add(format!("dynamodb:{action}"), false);
                    }
                }
            }
            ("dynamodb", "TransactGetItems") => self.add("dynamodb:GetItem".into(), false),
            ("dynamodb", "Query") => {
                let on_index = input
                    .downcast_ref::<ddb::query::QueryInput>()
                    .is_some_and(|q| q.index_name().is_some());
                self.add("dynamodb:Query".into(), on_index);
            }
            ("dynamodb", _) => self.add(format!("dynamodb:{op}"), false),
            // Batches are authorized as the single-message action.
            ("sqs", "SendMessageBatch") => self.add("sqs:SendMessage".into(), false),
            ("sqs", _) => self.add(format!("sqs:{op}"), false),
            // SES v2's SendEmail is authorized as ses:SendEmail (raw content included).
            (s, _) if s.starts_with("ses") => self.add(format!("ses:{op}"), false),
            (s, _) => self.add(format!("{s}:{op}"), false),
        }
        Ok(())
    }
}

/// Counts the operations sent through the clients it is installed on, by name
/// (`SendMessageBatch`, `UpdateItem`, ...), once per operation whatever its retries.
#[derive(Debug, Clone, Default)]
pub struct OpCounter(Arc<Mutex<std::collections::BTreeMap<String, usize>>>);

impl OpCounter {
    /// Counts since the last call, and clears them.
    pub fn take(&self) -> std::collections::BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn dynamodb(&self, config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        dynamodb_with(config, self.clone())
    }

    pub fn sqs(&self, config: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
        sqs_with(config, self.clone())
    }
}

impl Intercept for OpCounter {
    fn name(&self) -> &'static str {
        "OpCounter"
    }

    fn read_before_serialization(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            *self
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(meta.name().to_owned())
                .or_default() += 1;
        }
        Ok(())
    }
}

/// A fault [`FaultInjector`] puts in place of a real response, after the request reached
/// the server (so whatever the server did, it did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB says the same transaction is still in progress: the answer is lost.
    TransactionInProgress,
    /// HTTP 500 from the service (the SDK retries it).
    InternalServerError,
    /// Throttled (the SDK backs off and retries it).
    Throttling,
}

/// Replaces the responses of chosen operations with faults: the first `n` of an operation,
/// or a share of all of them chosen by a seeded generator, so a test (or the chaos run)
/// can make answers get lost after the work was done.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector(Arc<Mutex<FaultPlan>>);

#[derive(Debug, Default)]
struct FaultPlan {
    /// (operation, fault, how many more times).
    next: Vec<(String, Fault, u32)>,
    /// (operation, fault, per mille of calls) for random faults.
    random: Vec<(String, Fault, u32)>,
    seed: u64,
    injected: u64,
}

impl FaultInjector {
    /// The next `times` responses of `operation` (e.g. "TransactWriteItems") become `fault`.
    pub fn next(&self, operation: &str, fault: Fault, times: u32) {
        self.lock().next.push((operation.to_owned(), fault, times));
    }

    /// About `per_mille` of `operation`'s responses become `fault`, chosen by a generator
    /// seeded with `seed` (repeatable runs).
    pub fn random(&self, operation: &str, fault: Fault, per_mille: u32, seed: u64) {
        let mut p = self.lock();
        p.random.push((operation.to_owned(), fault, per_mille));
        p.seed = seed.max(1);
    }

    /// How many responses were replaced so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultPlan> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn choose(&self, operation: &str) -> Option<Fault> {
        let mut p = self.lock();
        if let Some(entry) = p.next.iter_mut().find(|(op, _, n)| op == operation && *n > 0) {
            entry.2 -= 1;
            let fault = entry.1;
            p.injected += 1;
            return Some(fault);
        }
        let random: Vec<(Fault, u32)> = p
            .random
            .iter()
            .filter(|(op, _, _)| op == operation)
            .map(|(_, f, pm)| (*f, *pm))
            .collect();
        for (fault, per_mille) in random {
            // xorshift64: small, seeded, good enough to spread faults.
            p.seed ^= p.seed << 13;
            p.seed ^= p.seed >> 7;
            p.seed ^= p.seed << 17;
            if p.seed % 1000 < u64::from(per_mille) {
                p.injected += 1;
                return Some(fault);
            }
        }
        None
    }
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.load::<Metadata>().map(|m| m.name().to_owned()) else {
            return Ok(());
        };
        let Some(fault) = self.choose(&op) else { return Ok(()) };
        let (status, kind) = match fault {
            Fault::TransactionInProgress => (400, "TransactionInProgressException"),
            Fault::InternalServerError => (500, "InternalServerError"),
            Fault::Throttling => (400, "ThrottlingException"),
        };
        let body =
            format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by the test"}}"#);
        let mut resp = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).map_err(|e| format!("{e:?}"))?,
            aws_smithy_types::body::SdkBody::from(body),
        );
        resp.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        resp.headers_mut().insert("x-amzn-errortype", kind);
        *ctx.response_mut() = resp;
        Ok(())
    }
}
