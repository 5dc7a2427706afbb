//! An e-mail is never silently dropped: workers killed at the worst moments, injected
//! through a wrapping mailer port, on a hand-moved clock, on both adapters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use oms_adapters::mail::MemoryMailer;
use oms_domain::notify::{Email, EmailKind};
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::Mailer;
use oms_domain::usecases::notifications::{email_lease_secs, handle, NotifyDeps, Worker};
use oms_tests::{on_both_adapters, ManualClock, TestApp};

use crate::support::{demo, items, ORDERS};

on_both_adapters!(
    a_worker_killed_between_claim_and_send_sends_it_later_exactly_once,
    a_worker_killed_between_send_and_mark_sends_it_at_most_twice,
    a_refused_receipt_does_not_hold_back_the_staff_alert,
);

/// Where a worker dies while sending the receipt.
#[derive(Clone, Copy, PartialEq)]
enum Crash {
    /// After claiming, before SES accepted the message.
    BeforeSend,
    /// After SES accepted it, before the sent mark was written.
    AfterSend,
    /// Not a crash: SES refuses every receipt.
    RefuseReceipts,
}

/// A mailer that kills its worker (a panic, as a Lambda timeout or OOM would end it) the
/// first time it handles a receipt.
struct CrashingMailer {
    inner: MemoryMailer,
    crash: Crash,
    crashes: AtomicUsize,
}

#[async_trait]
impl Mailer for CrashingMailer {
    async fn send(&self, email: &Email) -> Result<String, oms_domain::Error> {
        if email.kind != EmailKind::Receipt {
            return self.inner.send(email).await;
        }
        match self.crash {
            Crash::RefuseReceipts => Err(oms_domain::Error::internal("SES refused the recipient (injected)")),
            Crash::BeforeSend if self.crashes.fetch_add(1, Ordering::SeqCst) == 0 => {
                panic!("injected: the worker died before sending")
            }
            Crash::AfterSend if self.crashes.fetch_add(1, Ordering::SeqCst) == 0 => {
                self.inner.send(email).await?;
                panic!("injected: the worker died after sending, before marking it sent")
            }
            _ => self.inner.send(email).await,
        }
    }
}

struct Setup {
    n: NotifyDeps,
    clock: Arc<ManualClock>,
    sent: MemoryMailer,
    event: OutboxEvent,
}

async fn setup(app: &TestApp, crash: Crash) -> Setup {
    let d = demo(app).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let event = app
        .store()
        .pending_outbox(10, 0)
        .await
        .expect("pending")
        .pop()
        .expect("an event");
    let clock = ManualClock::at("2031-01-10T08:00:00Z");
    let mut deps = app.app().deps.clone();
    deps.clock = clock.clone();
    let sent = MemoryMailer::default();
    let n = NotifyDeps {
        deps,
        mailer: Arc::new(CrashingMailer {
            inner: sent.clone(),
            crash,
            crashes: AtomicUsize::new(0),
        }),
        // The template's queue (60 s visibility) and function (10 s timeout).
        lease_secs: email_lease_secs(60, 10).expect("lease"),
        documents: None,
    };
    Setup { n, clock, sent, event }
}

/// One SQS delivery of the event to the receipts worker; a panic is a failed delivery.
async fn deliver(s: &Setup) -> Result<(), String> {
    match oms_api::unwind::catch(handle(&s.n, Worker::Receipts, &s.event, &Default::default())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!("{panic:?}")),
    }
}

fn count(m: &MemoryMailer, kind: EmailKind) -> usize {
    m.sent().iter().filter(|e| e.kind == kind).count()
}

async fn a_worker_killed_between_claim_and_send_sends_it_later_exactly_once(app: TestApp) {
    let s = setup(&app, Crash::BeforeSend).await;
    assert!(deliver(&s).await.is_err(), "the first delivery dies");
    // SQS brings the message back after its visibility timeout (60 s); a copy arriving
    // sooner (10 s) finds the claim still held, and fails rather than calling it sent.
    s.clock.set("2031-01-10T08:00:10Z");
    let early = deliver(&s).await;
    assert!(early.is_err(), "a held claim is not a sent e-mail: {early:?}");
    assert_eq!(count(&s.sent, EmailKind::Receipt), 0);
    assert_eq!(
        count(&s.sent, EmailKind::StaffAlert),
        1,
        "the staff alert went out on its own"
    );
    s.clock.set("2031-01-10T08:01:00Z");
    deliver(&s).await.expect("the redelivery after the lease sends it");
    s.clock.set("2031-01-10T08:02:00Z");
    deliver(&s).await.expect("a further duplicate finds it sent");
    assert_eq!(count(&s.sent, EmailKind::Receipt), 1, "sent exactly once, later");
    assert_eq!(count(&s.sent, EmailKind::StaffAlert), 1);
}

async fn a_worker_killed_between_send_and_mark_sends_it_at_most_twice(app: TestApp) {
    let s = setup(&app, Crash::AfterSend).await;
    assert!(deliver(&s).await.is_err(), "the first delivery dies after sending");
    assert_eq!(count(&s.sent, EmailKind::Receipt), 1);
    s.clock.set("2031-01-10T08:00:10Z");
    assert!(
        deliver(&s).await.is_err(),
        "within the lease: not sent again, not acknowledged"
    );
    s.clock.set("2031-01-10T08:01:00Z");
    deliver(&s).await.expect("after the lease");
    s.clock.set("2031-01-10T08:02:00Z");
    deliver(&s).await.expect("then marked sent");
    // SES accepted it once before the crash and once after: the documented worst case.
    assert_eq!(count(&s.sent, EmailKind::Receipt), 2, "at most twice");
}

async fn a_refused_receipt_does_not_hold_back_the_staff_alert(app: TestApp) {
    let s = setup(&app, Crash::RefuseReceipts).await;
    for second in ["00", "30", "59"] {
        s.clock.set(&format!("2031-01-10T08:00:{second}Z"));
        assert!(
            deliver(&s).await.is_err(),
            "the receipt keeps failing, so the message is retried"
        );
    }
    assert_eq!(
        count(&s.sent, EmailKind::StaffAlert),
        1,
        "sent on the first delivery, once"
    );
    assert_eq!(count(&s.sent, EmailKind::Receipt), 0);
}
