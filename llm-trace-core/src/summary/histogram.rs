//! A log-linear histogram of durations: bounded memory, about 1.6% relative error.

use serde::{Deserialize, Serialize};

/// Values below this many microseconds get a bucket each (exact).
const LINEAR: u64 = 64;
/// Sub-buckets per power of two above [`LINEAR`]: 32 gives at most 1/32 relative bucket width.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

/// Counts durations (stored as whole microseconds) in log-linear buckets, so percentiles of
/// any number of samples take a few kilobytes at most. Percentiles are reported as the middle
/// of their bucket, clamped to the smallest and largest value seen: within 1.6% of the exact
/// value. The maximum and the mean are exact.
///
/// ```
/// use llm_trace_core::summary::Histogram;
///
/// let mut h = Histogram::default();
/// for ms in 1..=100 {
///     h.record_ms(ms as f64);
/// }
/// let p50 = h.percentile_ms(0.50).unwrap();
/// assert!((p50 - 50.0).abs() <= 50.0 * 0.02, "{p50}");
/// assert_eq!(h.percentile_ms(1.0), Some(100.0));
/// assert_eq!(h.mean_ms(), Some(50.5));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    counts: Vec<u32>,
    total: u64,
    sum_us: u128,
    min_us: u64,
    max_us: u64,
}

impl Histogram {
    /// Adds one duration in milliseconds (negative and NaN values count as zero).
    pub fn record_ms(&mut self, ms: f64) {
        self.record_us(micros(ms));
    }

    /// Adds one duration in microseconds.
    pub fn record_us(&mut self, us: u64) {
        let index = bucket_of(us);
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] = self.counts[index].saturating_add(1);
        if self.total == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.total += 1;
        self.sum_us += u128::from(us);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine = mine.saturating_add(*theirs);
        }
        self.min_us = if self.total == 0 { other.min_us } else { self.min_us.min(other.min_us) };
        self.max_us = self.max_us.max(other.max_us);
        self.total += other.total;
        self.sum_us += other.sum_us;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0..=1) in milliseconds; `None` when empty.
    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        if rank >= self.total {
            return Some(self.max_us as f64 / 1000.0);
        }
        let mut seen = 0u64;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                let (low, high) = bounds_of(index);
                let mid = low + (high - low) / 2;
                return Some(mid.clamp(self.min_us, self.max_us) as f64 / 1000.0);
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }

    /// Mean in milliseconds; `None` when empty.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum_us as f64 / self.total as f64 / 1000.0)
    }
}

/// Milliseconds as the whole microseconds [`Histogram::record_ms`] records.
pub(crate) fn micros(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 { (ms * 1000.0).round() as u64 } else { 0 }
}

fn bucket_of(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros(); // >= 6
    let sub = (us >> (exp - SUB_BITS)) & (SUB - 1);
    (LINEAR + u64::from(exp - LINEAR.trailing_zeros()) * SUB + sub) as usize
}

/// The smallest and largest value of bucket `index`.
fn bounds_of(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < LINEAR {
        return (index, index);
    }
    let exp = (index - LINEAR) / SUB + u64::from(LINEAR.trailing_zeros());
    let sub = (index - LINEAR) % SUB;
    let width = 1u64 << (exp - u64::from(SUB_BITS));
    let low = (1u64 << exp) + sub * width;
    (low, low + (width - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_contiguously() {
        let mut expected_low = 0;
        for index in 0..bucket_of(u64::MAX) + 1 {
            let (low, high) = bounds_of(index);
            assert_eq!(low, expected_low, "gap before bucket {index}");
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high), index);
            assert!(high - low <= low / 32, "bucket {index} too wide");
            expected_low = high.wrapping_add(1);
        }
        assert_eq!(expected_low, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn percentiles_are_within_two_percent_of_exact() {
        let mut h = Histogram::default();
        let mut values: Vec<u64> = (0..10_000u64).map(|i| (i * 7919) % 5_000_000 + 100).collect();
        for &v in &values {
            h.record_us(v);
        }
        values.sort_unstable();
        for q in [0.5, 0.9, 0.95, 0.99] {
            let exact = values[(q * values.len() as f64).ceil() as usize - 1] as f64 / 1000.0;
            let got = h.percentile_ms(q).unwrap();
            assert!((got - exact).abs() <= exact * 0.02, "q{q}: {got} vs {exact}");
        }
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) =
            (Histogram::default(), Histogram::default(), Histogram::default());
        for v in 0..1000u64 {
            let us = v * v;
            if v % 3 == 0 { &mut a } else { &mut b }.record_us(us);
            all.record_us(us);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    fn empty_histograms_report_nothing() {
        let h = Histogram::default();
        assert_eq!(h.percentile_ms(0.5), None);
        assert_eq!(h.mean_ms(), None);
    }

    #[test]
    fn a_single_value_is_exact() {
        let mut h = Histogram::default();
        h.record_ms(812.4);
        assert_eq!(h.percentile_ms(0.5), Some(812.4));
        assert_eq!(h.percentile_ms(0.99), Some(812.4));
    }
}
