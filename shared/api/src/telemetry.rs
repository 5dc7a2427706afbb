//! Logging: JSON lines in Lambda (CloudWatch-friendly), readable text locally. `RUST_LOG`
//! filters; the default is `info`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"));
    let in_lambda = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = if in_lambda {
        builder.json().with_current_span(true).without_time().try_init()
    } else {
        builder.compact().with_target(false).try_init()
    };
}
