//! At most one warning per interval, counting the ones held back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) struct RateLimited {
    origin: Instant,
    interval_ms: u64,
    /// Milliseconds after `origin` before which no warning is emitted; 0 = never warned.
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimited {
    pub(crate) fn new(interval: Duration) -> RateLimited {
        RateLimited {
            origin: Instant::now(),
            interval_ms: interval.as_millis().max(1) as u64,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Calls `emit` with the number of warnings held back since the last one, unless a warning
    /// was emitted less than the interval ago.
    pub(crate) fn warn(&self, emit: impl FnOnce(u64)) {
        let now = self.origin.elapsed().as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        let due = next == 0 || now >= next;
        if due
            && self
                .next_ms
                .compare_exchange(next, now + self.interval_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            emit(self.suppressed.swap(0, Ordering::AcqRel));
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_once_per_interval_and_counts_the_rest() {
        let limiter = RateLimited::new(Duration::from_secs(3600));
        let mut emitted = Vec::new();
        for _ in 0..5 {
            limiter.warn(|suppressed| emitted.push(suppressed));
        }
        assert_eq!(emitted, [0]);
        assert_eq!(limiter.suppressed.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn emits_again_after_the_interval() {
        let limiter = RateLimited::new(Duration::from_millis(200));
        let mut emitted = Vec::new();
        limiter.warn(|s| emitted.push(s));
        limiter.warn(|s| emitted.push(s));
        std::thread::sleep(Duration::from_millis(250));
        limiter.warn(|s| emitted.push(s));
        assert_eq!(emitted, [0, 1]);
    }
}
