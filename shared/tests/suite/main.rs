//! The shared library's integration tests in one binary: the WeCom crypto vectors and the
//! store conformance suite.

mod properties;
mod store_conformance;
mod vectors;
