//! The subcommands, and the bounded aggregates they share.

pub(crate) mod cost;
pub(crate) mod errors;
pub(crate) mod generate;
pub(crate) mod report;
pub(crate) mod show;
pub(crate) mod slow;
pub(crate) mod summary;
pub(crate) mod tail;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufWriter};

use llm_trace_core::summary::{Aggregate, GroupStats, Observation};

/// Distinct keys kept per breakdown; further keys are counted under [`OTHER`]. Higher than
/// the library's live summary (1,000) because a log spans many sessions and hours.
pub(crate) const MAX_KEYS: usize = 10_000;

/// The key that collects every group past [`MAX_KEYS`].
pub(crate) const OTHER: &str = llm_trace_core::summary::OTHER;

/// Buffered stdout.
pub(crate) fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// Aggregates by key, in bounded memory.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    map: HashMap<Box<str>, Aggregate, BuildHasherDefault<FxHasher>>,
}

/// The Firefox/rustc hash: a multiply and a rotate per word, several times faster than the
/// default SipHash on short keys. The keys come from the user's own log and their number is
/// capped at [`MAX_KEYS`], so hash flooding is not a concern here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Groups {
    pub(crate) fn add(&mut self, key: &str, o: &Observation) {
        if let Some(agg) = self.map.get_mut(key) {
            agg.add(o);
            return;
        }
        let key = if self.map.len() < MAX_KEYS { key } else { OTHER };
        self.map.entry(Box::from(key)).or_default().add(o);
    }

    pub(crate) fn merge(&mut self, other: Groups) {
        for (key, agg) in other.map {
            if let Some(mine) = self.map.get_mut(&key) {
                mine.merge(&agg);
            } else if self.map.len() < MAX_KEYS {
                self.map.insert(key, agg);
            } else {
                self.map.entry(Box::from(OTHER)).or_default().merge(&agg);
            }
        }
    }

    /// Most expensive first, then most calls, then by key (as the library's summary).
    pub(crate) fn by_cost(&self) -> Vec<GroupStats> {
        let mut groups: Vec<GroupStats> =
            self.map.iter().map(|(k, a)| a.stats(k.as_ref())).collect();
        llm_trace_core::summary::sort_by_cost(&mut groups);
        groups
    }

    /// By key (chronological for day and hour keys).
    pub(crate) fn by_key(&self) -> Vec<GroupStats> {
        let mut groups: Vec<GroupStats> =
            self.map.iter().map(|(k, a)| a.stats(k.as_ref())).collect();
        groups.sort_by(|a, b| a.key.cmp(&b.key));
        groups
    }
}

/// An `f64` with a total order, for heaps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Total(pub(crate) f64);

impl PartialEq for Total {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Total {}
impl PartialOrd for Total {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Total {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

struct Keyed<K, V> {
    key: K,
    value: V,
}

impl<K: Ord, V> PartialEq for Keyed<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<K: Ord, V> Eq for Keyed<K, V> {}
impl<K: Ord, V> PartialOrd for Keyed<K, V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord, V> Ord for Keyed<K, V> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// The `n` entries with the largest keys; the value is only built for entries that get in.
pub(crate) struct TopN<K: Ord, V> {
    n: usize,
    heap: BinaryHeap<Reverse<Keyed<K, V>>>,
}

impl<K: Ord, V> TopN<K, V> {
    pub(crate) fn new(n: usize) -> TopN<K, V> {
        TopN { n, heap: BinaryHeap::with_capacity(n.min(4096) + 1) }
    }

    pub(crate) fn offer(&mut self, key: K, value: impl FnOnce() -> V) {
        if self.heap.len() < self.n {
            self.heap.push(Reverse(Keyed { key, value: value() }));
        } else if self.heap.peek().is_some_and(|Reverse(min)| key > min.key) {
            self.heap.pop();
            self.heap.push(Reverse(Keyed { key, value: value() }));
        }
    }

    pub(crate) fn merge(&mut self, other: TopN<K, V>) {
        for Reverse(Keyed { key, value }) in other.heap {
            self.offer(key, || value);
        }
    }

    /// Largest key first.
    pub(crate) fn into_sorted(self) -> Vec<V> {
        let mut all: Vec<Keyed<K, V>> = self.heap.into_iter().map(|Reverse(k)| k).collect();
        all.sort_by(|a, b| b.key.cmp(&a.key));
        all.into_iter().map(|k| k.value).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_keeps_the_largest() {
        let mut a = TopN::new(3);
        let mut b = TopN::new(3);
        for i in 0..100u32 {
            if i % 2 == 0 { &mut a } else { &mut b }.offer(Total(f64::from(i)), || i);
        }
        a.merge(b);
        assert_eq!(a.into_sorted(), [99, 98, 97]);
    }

    #[test]
    fn groups_past_the_limit_go_to_other() {
        let mut g = Groups::default();
        let o = Observation { latency_ms: 1.0, ..Default::default() };
        for i in 0..MAX_KEYS + 5 {
            g.add(&i.to_string(), &o);
        }
        let other = g.by_key().into_iter().find(|s| s.key == OTHER).unwrap();
        assert_eq!(other.calls, 5);
    }
}
