//! Records that change under optimistic concurrency: each write is conditioned on the version
//! its writer read, and stamps the next one.

/// A record replaced only over the version its writer read: `updated_ms`, unix milliseconds
/// of its last change.
pub trait Versioned {
    fn version(&self) -> i64;
    fn set_version(&mut self, version: i64);

    /// What a record notes as a version is stamped (a delivery: the status it reaches, to
    /// be counted once); nothing by default.
    fn stamped(&mut self) {}

    /// Stamps the next version, written at `now_ms`, and answers the one it replaces (what
    /// the write is conditioned on). Always later than that one, even when this writer's
    /// clock is behind the last writer's.
    fn bump(&mut self, now_ms: i64) -> i64 {
        let held = self.version();
        self.set_version(now_ms.max(held + 1));
        self.stamped();
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(i64);

    impl Versioned for R {
        fn version(&self) -> i64 {
            self.0
        }
        fn set_version(&mut self, version: i64) {
            self.0 = version;
        }
    }

    #[test]
    fn a_bump_is_later_than_the_version_held_whatever_the_clock() {
        let mut r = R(5_000);
        assert_eq!(r.bump(9_000), 5_000);
        assert_eq!(r.0, 9_000);
        assert_eq!(r.bump(1_000), 9_000, "a clock behind the last writer's");
        assert_eq!(r.0, 9_001);
    }
}
