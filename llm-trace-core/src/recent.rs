//! A ring of the last few values used: the per-thread caches of the recording path (model
//! names, prices) look there first and, on a miss, replace the oldest entry.

/// The last `N` values inserted, oldest replaced first.
pub(crate) struct Recent<T, const N: usize> {
    slots: [Option<T>; N],
    next: usize,
}

impl<T, const N: usize> Recent<T, N> {
    /// Empty (`const`, for a `thread_local!`).
    pub(crate) const fn new() -> Self {
        Recent { slots: [const { None }; N], next: 0 }
    }

    /// The first value kept that `matches` accepts.
    #[inline]
    pub(crate) fn find(&self, mut matches: impl FnMut(&T) -> bool) -> Option<&T> {
        self.slots.iter().flatten().find(|value| matches(value))
    }

    /// Keeps `value` in place of the oldest one.
    #[inline]
    pub(crate) fn insert(&mut self, value: T) {
        self.slots[self.next] = Some(value);
        self.next = (self.next + 1) % N;
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    #[test]
    fn the_oldest_value_is_replaced_first() {
        let mut recent = Recent::<u32, 3>::new();
        assert_eq!(recent.find(|_| true), None);
        for v in 1..=4 {
            recent.insert(v);
        }
        assert_eq!(recent.find(|&v| v == 1), None, "1 was the oldest");
        for v in 2..=4 {
            assert_eq!(recent.find(|&x| x == v), Some(&v));
        }
        recent.insert(5);
        assert_eq!(recent.find(|&v| v == 2), None);
        assert_eq!(recent.find(|&v| v == 3), Some(&3));
    }
}
