//! Helpers for the end-to-end tests (tests/e2e) and the bench tools (tests/bench): the local
//! runner binary started like a user starts it and talked to over HTTP only (runner), the fake
//! WeCom it talks to (fake), what the flows send (fixtures), a workflow system's endpoint
//! (hook) and the stores on moto (moto).

pub mod fake;
mod fixtures;
mod hook;
mod moto;
pub mod oidc;
mod runner;

pub use fixtures::{
    approve_reject, demo_app_update, demo_channel, fast_wecom_client, workflow_detail,
    workflow_envelope, workflow_event,
};
pub use hook::{Hook, settled_actions};
pub use moto::{moto_sdk, moto_stores, moto_table};
pub use runner::{Runner, admin_token, answer, demo_runner, free_port, runner_binary};
