# The README's two commands are `make run` and `make test`; the rest are conveniences.
.PHONY: screenshots run test test-fast bench bench-reads bench-import bench-relay chaos load load-dynamodb lambdas coldstart lint token build-lambdas schemathesis

# Start the API on 127.0.0.1:3000 (PORT=... to change) over the embedded store, seeded.
run:
	cargo run -q -p oms-local -- serve --port $${PORT:-3000}

# Every kind of e-mail rendered by headless Chromium at a desktop and a phone width, from
# orders placed on the local server: PNGs in .cache/screenshots/ (installs chromium).
screenshots:
	.ci/email-screenshots.sh

# Everything CI runs: fmt, clippy, template lint, all tests on memory + DynamoDB Local,
# and a smoke test of `make run`. Installs DynamoDB Local, Java and the linters if missing.
test:
	.ci/test.sh

# The in-memory half of the tests only (no Java, DynamoDB Local or moto): the fast loop.
# The webhook tests still sign with Python's standardwebhooks (installed into .cache/).
test-fast:
	OMS_SKIP_DYNAMODB=1 OMS_TEST_PYTHON=$$(.ci/signer.sh) OMS_TEST_PDFTOTEXT=$$(.ci/poppler.sh) cargo test --workspace

# Create-order throughput/latency (memory) and DynamoDB requests per order, then the order
# reads' cost on a 1,000- and a 50,000-order tenant (both against DynamoDB Local).
bench:
	@ep=$$(.ci/dynamodb-local.sh start) && trap '.ci/dynamodb-local.sh stop' EXIT && \
	  OMS_TEST_DYNAMODB_ENDPOINT=$$ep cargo bench -p oms-tests --bench create_order && \
	  OMS_TEST_DYNAMODB_ENDPOINT=$$ep cargo bench -p oms-tests --bench order_reads

# Only the order-read benchmark (loads 51,000 orders into DynamoDB Local: a few minutes).
bench-reads:
	@ep=$$(.ci/dynamodb-local.sh start) && trap '.ci/dynamodb-local.sh stop' EXIT && \
	  OMS_TEST_DYNAMODB_ENDPOINT=$$ep cargo bench -p oms-tests --bench order_reads

# CSV import into DynamoDB Local: 10,000 rows (OMS_IMPORT_ROWS=... to change) created, then
# all updated, then unchanged; prints rows/s for each and checks every row applied once.
bench-import:
	@ep=$$(.ci/dynamodb-local.sh start) && trap '.ci/dynamodb-local.sh stop' EXIT && \
	  OMS_TEST_DYNAMODB_ENDPOINT=$$ep OMS_IMPORT_ROWS=$${OMS_IMPORT_ROWS:-10000} cargo bench -p oms-tests --bench import

# Outbox relay throughput: 600 events (OMS_RELAY_EVENTS=...) relayed from DynamoDB Local to
# six queues on moto's SQS; prints events/s and requests per event, checks each arrived once.
bench-relay:
	@ep=$$(.ci/dynamodb-local.sh start) && moto=$$(.ci/moto.sh start) && \
	  trap '.ci/dynamodb-local.sh stop; .ci/moto.sh stop' EXIT && \
	  OMS_TEST_DYNAMODB_ENDPOINT=$$ep OMS_TEST_MOTO_ENDPOINT=$$moto RUST_LOG=error cargo bench -p oms-tests --bench relay

# The chaos run at full size (make test runs 60 orders): 600 concurrent storefront orders
# and stock edits on DynamoDB Local + moto with SDK faults, workers and relay killed and
# restarted; prints its counts. OMS_CHAOS_ORDERS / OMS_CHAOS_SEED to vary it.
chaos:
	@ep=$$(.ci/dynamodb-local.sh start) && moto=$$(.ci/moto.sh start) && \
	  trap '.ci/dynamodb-local.sh stop; .ci/moto.sh stop' EXIT && \
	  OMS_TEST_DYNAMODB_ENDPOINT=$$ep OMS_TEST_MOTO_ENDPOINT=$$moto OMS_CHAOS_ORDERS=$${OMS_CHAOS_ORDERS:-600} RUST_LOG=error \
	  cargo test -p oms-tests --test it --locked chaos -- --nocapture 2>&1 | grep -E '^chaos|^test |test result'

# Storefront checkouts through the release server with wrk (tests/load/load.py): N buyers
# with their own tokens over 100 products and one hot SKU; prints orders/s, p50/p99/p999 and
# statuses, then checks stock, orders and one receipt per order after the workers drain, and
# the e-mail lag. On the embedded store; LOAD_SECONDS, LOAD_CONNECTIONS, LOAD_RATE, ... vary it.
load:
	@.ci/wrk.sh
	python3 tests/load/load.py

# The same on DynamoDB Local at 100 orders/s, plus the write-heat report (WCU per partition
# key and transactions per item, projected to 1,000 orders/s) from the server's SDK interceptor.
load-dynamodb:
	@.ci/wrk.sh
	@ep=$$(.ci/dynamodb-local.sh start) && trap '.ci/dynamodb-local.sh stop' EXIT && \
	  DYNAMODB_ENDPOINT=$$ep LOAD_STORE=dynamodb LOAD_RATE=$${LOAD_RATE:-100} LOAD_CONNECTIONS=$${LOAD_CONNECTIONS:-16} \
	  python3 tests/load/load.py

# Every function for provided.al2023 arm64 with cargo-lambda (installed from PyPI into
# .cache/), release, and each bootstrap's size. FUNCTIONS="get_order create_order" for some.
lambdas:
	.ci/lambdas.sh

# Cold starts of the functions' release builds (x86_64: arm64 does not run here) against a
# local Lambda Runtime API over DynamoDB Local: size, init and first answer, median of 10.
coldstart:
	.ci/coldstart.sh

# Property-based API tests: schemathesis over every operation of /openapi.json on the local
# server, with an OWNER and a CUSTOMER token (.ci/schemathesis.sh; installs it on first use).
schemathesis:
	cargo build -q --locked -p oms-local
	.ci/schemathesis.sh target/debug/oms-local

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	.ci/lint-template.sh

# A bearer token for the local API: make token ROLE=STAFF [CUSTOMER_ID=...]
token:
	@cargo run -q -p oms-local -- token --role $${ROLE:-OWNER} $${CUSTOMER_ID:+--customer-id $$CUSTOMER_ID}

# Lambda artifacts for `sam deploy` (needs `pip install cargo-lambda`; see README).
build-lambdas:
	sam build -t infra/template.yaml
