//! Pace logs ([`shared::store::PaceStore`]).

use shared::domain::{Pace, STAMP_SLACK_MS, WECOM_MEMBER_LIMITS};

use super::{Harness, dynamo, embedded};

async fn pace_allows_thirty_a_minute_per_app_and_member(h: Harness) {
    let key = "ww01:7:alice";
    let t0 = 1_000_000_000;
    for i in 0..30 {
        assert_eq!(
            h.pace
                .reserve(key, t0 + i, WECOM_MEMBER_LIMITS)
                .await
                .expect("reserve"),
            Pace::Granted,
            "{i}"
        );
    }
    assert_eq!(
        h.pace
            .reserve(key, t0 + 40, WECOM_MEMBER_LIMITS)
            .await
            .expect("full"),
        Pace::WaitUntil(t0 + 60_000 + STAMP_SLACK_MS)
    );
    assert_eq!(
        h.pace
            .reserve("ww01:7:bob", t0 + 40, WECOM_MEMBER_LIMITS)
            .await
            .expect("other"),
        Pace::Granted
    );
    assert_eq!(
        h.pace
            .reserve(key, t0 + 60_001 + STAMP_SLACK_MS, WECOM_MEMBER_LIMITS)
            .await
            .expect("window moved"),
        Pace::Granted
    );

    // Concurrent reservations never exceed the window.
    let key2 = "ww01:7:carol";
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let pace = h.pace.clone();
        tasks.push(tokio::spawn(async move {
            pace.reserve(key2, t0, WECOM_MEMBER_LIMITS).await
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.expect("join").expect("reserve") == Pace::Granted {
            granted += 1;
        }
    }
    assert_eq!(granted, 30);

    // A slow send is re-stamped: its slot then counts from when it completed.
    let key3 = "ww01:7:dave";
    for at in std::iter::once(t0).chain((0..29).map(|i| t0 + 1_000 + i)) {
        h.pace
            .reserve(key3, at, WECOM_MEMBER_LIMITS)
            .await
            .expect("reserve");
    }
    h.pace
        .restamp(key3, t0, t0 + 20_000)
        .await
        .expect("restamp");
    assert_eq!(
        h.pace
            .reserve(key3, t0 + 61_500, WECOM_MEMBER_LIMITS)
            .await
            .expect("the re-stamped slot still counts"),
        Pace::WaitUntil(t0 + 1_000 + 60_000 + STAMP_SLACK_MS)
    );
}

shared::both_stores!(pace_allows_thirty_a_minute_per_app_and_member);
