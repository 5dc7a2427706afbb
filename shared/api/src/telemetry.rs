//! Logging: JSON lines in Lambda (CloudWatch-friendly), readable text locally. `RUST_LOG`
//! filters by target and level (`info`, `error,oms_domain=debug`, `off`); the default is
//! `info` with the SDK's own chatter at `warn`. (`Targets`, not `EnvFilter`: the same
//! directives without span or field matching, and without a regex engine in every
//! bootstrap.)

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn filter() -> Targets {
    let default = || {
        Targets::new()
            .with_default(Level::INFO)
            .with_target("aws_config", Level::WARN)
            .with_target("aws_smithy_runtime", Level::WARN)
    };
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v.parse().unwrap_or_else(|_| default()),
        _ => default(),
    }
}

pub fn init() {
    let in_lambda = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
    let registry = tracing_subscriber::registry().with(filter());
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = if in_lambda {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .without_time(),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().compact().with_target(false))
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_directives_parse_as_targets() {
        for ok in ["info", "off", "error,oms_domain=debug", "warn,aws_config=error"] {
            assert!(ok.parse::<Targets>().is_ok(), "{ok}");
        }
        let t: Targets = "error,oms_domain=debug".parse().expect("targets");
        assert!(t.would_enable("oms_domain::x", &Level::DEBUG));
        assert!(!t.would_enable("hyper", &Level::INFO));
    }
}
