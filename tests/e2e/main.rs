//! The end-to-end flows, one module each, in one test binary. They drive the local runner
//! binary, the routers and the dispatcher against the fake WeCom, and the stores on the
//! embedded database and on DynamoDB/Secrets Manager in moto (started by tests/run.sh).

mod any_decision;
mod approvals_live;
mod audit_stats;
mod auth_matrix;
mod backup;
mod callback_flow;
mod callback_memory;
mod card_actions;
mod click_schedules;
mod credential_budget;
mod cursors;
mod decisions;
mod dispatch_flow;
mod eventbridge;
mod fake_verify;
mod i18n;
mod local_events;
mod metrics;
mod oidc;
mod one_server;
mod openapi;
mod probe;
mod readme_walkthrough;
mod recall;
mod schedules;
mod secret_scan;
mod support;
mod template;
mod test_send_flow;
mod wecom_client;
