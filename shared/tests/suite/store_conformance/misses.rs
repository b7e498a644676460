//! Receivers WeCom did not know ([`shared::store::ReceiverMisses`]).

use shared::domain::{
    AgentId, CorpId, MISS_KEPT_MS, Receiver, ReceiverMiss, SourceColumn, receiver_miss_key,
};
use shared::testing::ENCODING_AES_KEY as KEY_A;

use super::{Harness, dynamo, embedded, full, key};

/// A receiver WeCom did not know is remembered per (app, source column, receiver) for a day,
/// read in one go for a list, and forgotten by a save of a channel with that app and receiver.
async fn receiver_misses_are_remembered_for_a_day_and_cleared_by_a_save(h: Harness) {
    let now = shared::domain::unix_ms();
    let phone = |p: &str| Receiver::parse(SourceColumn::Phone, p).expect("phone");
    let corp = CorpId::parse("ww01").expect("corp");
    let agent = AgentId::parse(7).expect("agent");
    let k1 = receiver_miss_key(&corp, agent, &phone("10000000000"));
    let k2 = receiver_miss_key(&corp, agent, &phone("10000000001"));
    let old = receiver_miss_key(&corp, agent, &phone("10000000002"));
    let miss = ReceiverMiss::new(46004, now);
    h.misses
        .remember_receiver_miss(&k1, &miss)
        .await
        .expect("remember");
    // One whose day ended: no longer stands, whether or not the store let it go yet.
    h.misses
        .remember_receiver_miss(&old, &ReceiverMiss::new(60111, now - MISS_KEPT_MS - 1))
        .await
        .expect("remember");
    let read = |keys: Vec<String>, at: i64| {
        let misses = h.misses.clone();
        async move { misses.receiver_misses(&keys, at).await.expect("read") }
    };
    assert_eq!(
        read(vec![k2.clone(), k1.clone(), old.clone()], now).await,
        vec![None, Some(miss), None],
        "in the order asked"
    );
    assert_eq!(read(vec![], now).await, Vec::<Option<ReceiverMiss>>::new());
    assert_eq!(
        read(vec![k1.clone()], now + MISS_KEPT_MS).await,
        vec![None],
        "a day later it no longer stands"
    );
    // A renewed miss replaces the one before.
    let renewed = ReceiverMiss::new(81013, now + 1000);
    h.misses
        .remember_receiver_miss(&k1, &renewed)
        .await
        .expect("renew");
    assert_eq!(
        read(vec![k1.clone()], now + 1000).await,
        vec![Some(renewed)]
    );
    h.misses.forget_receiver_miss(&k1).await.expect("forget");
    assert_eq!(read(vec![k1.clone()], now).await, vec![None]);
    h.misses
        .forget_receiver_miss(&k2)
        .await
        .expect("forgetting nothing is fine");

    // Through the service: per channel configuration, and a save clears it.
    let k = key("acme", "alice");
    let mut u = full("ww01", 7, "secret-one", "tokenOne", KEY_A);
    u.receiver = phone("10000000000");
    h.misses
        .remember_receiver_miss(&k1, &miss)
        .await
        .expect("remember");
    let rec = h.saved(&k, u.clone()).await;
    let config = rec.config.clone().expect("configured");
    assert_eq!(
        h.svc.receiver_miss(&config, now).await.expect("read"),
        None,
        "the save cleared it"
    );
    h.misses
        .remember_receiver_miss(&k1, &miss)
        .await
        .expect("remember");
    let mut login = config.clone();
    login.receiver = Receiver::parse(SourceColumn::LoginName, "zhangsan").expect("login");
    assert_eq!(
        h.svc
            .receiver_misses(&[login, config.clone()], now)
            .await
            .expect("read"),
        vec![None, Some(miss)],
        "a login name is never looked up, so never missed"
    );
    let mut other_agent = config.clone();
    other_agent.agent_id = AgentId::parse(8).expect("agent");
    assert_eq!(
        h.svc.receiver_miss(&other_agent, now).await.expect("read"),
        None,
        "per app"
    );
}

shared::both_stores!(receiver_misses_are_remembered_for_a_day_and_cleared_by_a_save);
