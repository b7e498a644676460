#!/bin/sh
# cargo's RUSTC_WORKSPACE_WRAPPER in tests/run.sh (tests/lib.sh: lint_while_building): clippy's
# driver compiles the workspace's own crates in rustc's place, with every warning, clippy's
# included, an error: the lints of `cargo clippy -- -D warnings`, found while building.
exec clippy-driver "$@" -D warnings
