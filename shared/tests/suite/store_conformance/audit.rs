//! The audit trail ([`shared::store::AuditLog`]).

use shared::domain::{AuditAction, AuditEntry, OrgId};
use shared::store::{AuditQuery, PageAt};

use super::{Harness, dynamo, embedded};

fn entry(org: &str, at_ms: i64, action: AuditAction, member: Option<&str>) -> AuditEntry {
    AuditEntry {
        org: OrgId::parse(org).expect("org"),
        at_ms,
        id: format!("{at_ms:x}"),
        who: "admin-1".into(),
        action,
        member: member.map(str::to_owned),
        target: member.unwrap_or("subscriptions").to_owned(),
        outcome: "ok".into(),
        changed: vec!["token".into()],
        expires_at: 4_000_000_000,
    }
}

/// Newest first, a page at a time, filtered by member and by action, one org's only.
async fn the_audit_trail_pages_newest_first_with_filters(h: Harness) {
    let org = OrgId::parse("acme").expect("org");
    let written = [
        entry("acme", 1_000, AuditAction::ChannelSaved, Some("alice")),
        entry("acme", 2_000, AuditAction::SubscriptionsChanged, None),
        entry("acme", 3_000, AuditAction::TestSent, Some("bob")),
        entry("acme", 4_000, AuditAction::Recall, Some("alice")),
        entry("other", 5_000, AuditAction::Recall, Some("alice")),
    ];
    for e in &written {
        h.audit.record_audit(e).await.expect("record");
    }
    let q = |member, action, after, limit| AuditQuery {
        org: &org,
        member,
        action,
        page: PageAt::new(after, limit),
    };
    let all = h.audit.audit(q(None, None, None, 10)).await.expect("all");
    let at: Vec<i64> = all.items.iter().map(|e| e.at_ms).collect();
    assert_eq!(at, [4_000, 3_000, 2_000, 1_000]);
    assert_eq!(all.items[3], written[0], "kept whole");

    let first = h.audit.audit(q(None, None, None, 2)).await.expect("page");
    assert_eq!(first.items.len(), 2);
    let next = first.next.expect("more");
    let second = h
        .audit
        .audit(q(None, None, Some(next.as_str()), 2))
        .await
        .expect("page 2");
    let at: Vec<i64> = second.items.iter().map(|e| e.at_ms).collect();
    assert_eq!(at, [2_000, 1_000]);

    let alice = h
        .audit
        .audit(q(Some("alice"), None, None, 10))
        .await
        .expect("alice");
    let at: Vec<i64> = alice.items.iter().map(|e| e.at_ms).collect();
    assert_eq!(at, [4_000, 1_000]);
    let tests = h
        .audit
        .audit(q(None, Some(AuditAction::TestSent), None, 10))
        .await
        .expect("tests");
    assert_eq!(tests.items.len(), 1);
    assert_eq!(tests.items[0].member.as_deref(), Some("bob"));
}

shared::both_stores!(the_audit_trail_pages_newest_first_with_filters);
