#!/usr/bin/env python3
"""Cold starts of the functions' bootstraps against a minimal local Lambda Runtime API.

    python3 tests/lambda/coldstart.py DIR NAME...     (make coldstart FUNCTIONS="...")

For each function NAME, COLDSTART_RUNS times (default 10): spawn DIR/NAME with
AWS_LAMBDA_RUNTIME_API pointing at the server below and a function's environment
(TABLE_NAME and DYNAMODB_ENDPOINT from the caller, a cursor secret, fake queue URLs),
record the time from spawn to its first `GET .../runtime/invocation/next` (init: process
start, logging, SDK clients, the App) and to its first answer to the sample event
`events/NAME.json`, then kill it. Prints the binary's size and the medians.
"""
import http.server
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("COLDSTART_RUNS", "10"))


class Invocation:
    """One bootstrap's run: when it first asked for work and when it first answered."""

    def __init__(self, event):
        self.event = event
        self.first_next = None
        self.first_answer = None
        self.answered = threading.Event()


def serve(inv_ref):
    class Runtime(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            inv = inv_ref[0]
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if inv.first_next is not None:
                # Its second poll: the first answer is in; it waits here until killed.
                inv.answered.wait(10)
                time.sleep(10)
                return
            inv.first_next = time.perf_counter()
            body = inv.event
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "coldstart-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:cold")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            inv = inv_ref[0]
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if inv.first_answer is None and ("/response" in self.path or "/error" in self.path):
                inv.first_answer = time.perf_counter()
                inv.answered.set()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a killed bootstrap drops its connection: expected

    server = Server(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    directory = pathlib.Path(sys.argv[1])
    inv_ref = [None]
    server = serve(inv_ref)
    api = f"127.0.0.1:{server.server_address[1]}"
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=api,
        AWS_LAMBDA_FUNCTION_NAME="cold",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_REGION=os.environ.get("AWS_REGION", "us-east-1"),
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        CURSOR_SECRET="coldstart-cursor-secret-0123456789",
        QUEUE_URLS="http://127.0.0.1:9/q1",
        SENDER_EMAIL="orders@demo.example",
        RUST_LOG="error",
    )
    print(f"{'function':<28} {'size':>8}  {'init p50':>9}  {'1st answer p50':>14}  (median of {RUNS})")
    for name in sys.argv[2:]:
        binary = directory / name
        sample = ROOT / "events" / f"{name}.json"
        event = sample.read_bytes() if sample.exists() else b"{}"
        inits, answers = [], []
        for _ in range(RUNS):
            inv = Invocation(event)
            inv_ref[0] = inv
            started = time.perf_counter()
            proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            inv.answered.wait(30)
            proc.kill()
            proc.wait()
            if inv.first_next is None:
                sys.exit(f"{name}: never asked the Runtime API for work (a missing environment variable?)")
            inits.append((inv.first_next - started) * 1000)
            if inv.first_answer is not None:
                answers.append((inv.first_answer - started) * 1000)
        size = binary.stat().st_size / 1e6
        answer = f"{statistics.median(answers):>11.1f} ms" if answers else "   no answer"
        print(f"{name:<28} {size:>6.1f} MB  {statistics.median(inits):>6.1f} ms  {answer}")


if __name__ == "__main__":
    main()
