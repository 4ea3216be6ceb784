//! The clock calls are timed with: a call's start (as a monotonic tick and as wall-clock
//! milliseconds), its first token and its end.
//!
//! Where the kernel itself keeps time with the CPU's time-stamp counter (x86-64 Linux whose
//! clock source is `tsc`: the kernel checked that the counter runs at a constant rate and
//! agrees across cores), a tick is the counter, read with one instruction (about 11 ns here,
//! against 29 ns for `Instant::now`, which reads the same counter through the vDSO and
//! converts it). Ticks become nanoseconds by a rate measured against `Instant` when the
//! clock is first used (a quarter of a millisecond; [`Tracer`](crate::Tracer) builds do it
//! up front) and refined from then on against a longer and longer baseline. Anywhere else a
//! tick is `Instant` in nanoseconds.
//!
//! Wall-clock time is derived from a per-thread anchor, re-read from the system clock at least
//! once a second: one tick read and one multiplication instead of two clock reads.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A point in time on this process's clock: compare it only with other ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tick(u64);

impl Tick {
    /// Now.
    #[inline]
    pub(crate) fn now() -> Tick {
        clock().tick()
    }

    /// Milliseconds from `earlier` to `self` (0 when `earlier` is later: two cores' counters
    /// may differ by a few nanoseconds).
    pub(crate) fn millis_since(self, earlier: Tick) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 * clock().nanos_per_tick() / 1e6
    }
}

/// Now, as a tick and as wall-clock milliseconds since the Unix epoch.
#[inline]
pub(crate) fn now() -> (Tick, u64) {
    let clock = clock();
    let tick = clock.tick();
    let nanos = ANCHOR
        .try_with(|anchor| {
            if let Some((at, wall)) = anchor.get() {
                let since = tick.0.wrapping_sub(at.0);
                if since < clock.reanchor_ticks {
                    return wall + (since as f64 * clock.nanos_per_tick()) as u64;
                }
            }
            let wall = clock.reanchor();
            anchor.set(Some((tick, wall)));
            wall
        })
        .unwrap_or_else(|_| unix_nanos(SystemTime::now()));
    (tick, nanos / NANOS_PER_MILLI)
}

/// Chooses the clock and measures its rate now rather than at the first call.
pub(crate) fn init() {
    clock();
}

/// How long a thread derives wall-clock time from its anchor before reading the system clock
/// again (so that a step of the system clock is picked up within this time).
const REANCHOR: Duration = Duration::from_secs(1);

/// How long the time-stamp counter's rate is measured for when the clock is first used.
const CALIBRATION: Duration = Duration::from_micros(250);

const NANOS_PER_MILLI: u64 = 1_000_000;

thread_local! {
    /// A tick and the wall-clock time at it, in nanoseconds since the Unix epoch.
    static ANCHOR: Cell<Option<(Tick, u64)>> = const { Cell::new(None) };
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| if tsc::trusted_by_kernel() { Clock::tsc() } else { Clock::monotonic() })
}

struct Clock {
    /// Ticks are the time-stamp counter; otherwise nanoseconds since `base`.
    tsc: bool,
    /// The instant at tick `base_tick`.
    base: Instant,
    base_tick: u64,
    /// Nanoseconds per tick, as `f64` bits: refined as the baseline grows.
    nanos_per_tick: AtomicU64,
    /// [`REANCHOR`] in ticks.
    reanchor_ticks: u64,
}

impl Clock {
    fn monotonic() -> Clock {
        Clock {
            tsc: false,
            base: Instant::now(),
            base_tick: 0,
            nanos_per_tick: AtomicU64::new(1f64.to_bits()),
            reanchor_ticks: REANCHOR.as_nanos() as u64,
        }
    }

    /// The time-stamp counter, with its rate measured against `Instant` for [`CALIBRATION`];
    /// the monotonic clock if the rate comes out implausible.
    fn tsc() -> Clock {
        let (base_tick, base) = tsc::read_with_instant();
        let (tick, at) = loop {
            let (tick, at) = tsc::read_with_instant();
            if at.duration_since(base) >= CALIBRATION {
                break (tick, at);
            }
        };
        let rate = rate(at.duration_since(base), tick.wrapping_sub(base_tick));
        match rate {
            Some(nanos_per_tick) => Clock {
                tsc: true,
                base,
                base_tick,
                nanos_per_tick: AtomicU64::new(nanos_per_tick.to_bits()),
                reanchor_ticks: (REANCHOR.as_nanos() as f64 / nanos_per_tick) as u64,
            },
            None => Clock::monotonic(),
        }
    }

    #[inline]
    fn tick(&self) -> Tick {
        if self.tsc { Tick(tsc::read()) } else { Tick(self.base.elapsed().as_nanos() as u64) }
    }

    fn nanos_per_tick(&self) -> f64 {
        f64::from_bits(self.nanos_per_tick.load(Ordering::Relaxed))
    }

    /// The wall-clock time (read from the system clock now), in nanoseconds since the Unix
    /// epoch; and, for the time-stamp counter, its rate measured again over the
    /// baseline since the clock was made (from a fresh reading of the counter and `Instant`
    /// together, which a thread switch cannot come between).
    #[cold]
    fn reanchor(&self) -> u64 {
        let wall = unix_nanos(SystemTime::now());
        if self.tsc {
            let (tick, at) = tsc::read_with_instant();
            let elapsed = at.saturating_duration_since(self.base);
            if elapsed >= REANCHOR {
                if let Some(rate) = rate(elapsed, tick.wrapping_sub(self.base_tick)) {
                    self.nanos_per_tick.store(rate.to_bits(), Ordering::Relaxed);
                }
            }
        }
        wall
    }
}

/// Nanoseconds per tick, if plausible for a time-stamp counter (0.1 to 10 GHz).
fn rate(elapsed: Duration, ticks: u64) -> Option<f64> {
    let nanos_per_tick = elapsed.as_nanos() as f64 / ticks as f64;
    (0.1..=10.0).contains(&nanos_per_tick).then_some(nanos_per_tick)
}

/// Nanoseconds since the Unix epoch (0 before it; saturating in the year 2554).
fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tsc {
    use std::time::Instant;

    /// Whether the kernel keeps time with the time-stamp counter: it does only when the
    /// counter runs at a constant rate, does not stop in sleep states and agrees across CPUs.
    pub(super) fn trusted_by_kernel() -> bool {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|source| source.trim() == "tsc")
    }

    #[inline]
    pub(super) fn read() -> u64 {
        // SAFETY: RDTSC is part of the x86-64 baseline and only reads a register.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_rdtsc()
        }
    }

    /// The counter and the instant at the same moment: of a few tries, the one whose two
    /// `Instant` reads around the counter's are the closest (a try interrupted by the
    /// scheduler is not used), with the instant between them.
    pub(super) fn read_with_instant() -> (u64, Instant) {
        let mut best: Option<(std::time::Duration, u64, Instant)> = None;
        for _ in 0..5 {
            let before = Instant::now();
            let tick = read();
            let after = Instant::now();
            let width = after.duration_since(before);
            if best.is_none_or(|(w, _, _)| width < w) {
                best = Some((width, tick, before + width / 2));
            }
        }
        let (_, tick, at) = best.expect("five tries");
        (tick, at)
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod tsc {
    pub(super) fn trusted_by_kernel() -> bool {
        false
    }

    pub(super) fn read() -> u64 {
        unreachable!("the time-stamp counter is only used on x86-64 Linux")
    }

    pub(super) fn read_with_instant() -> (u64, std::time::Instant) {
        unreachable!("the time-stamp counter is only used on x86-64 Linux")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_millis() -> u64 {
        unix_nanos(SystemTime::now()) / NANOS_PER_MILLI
    }

    #[test]
    fn derived_wall_clock_time_agrees_with_the_system_clock() {
        // The first call anchors the thread; the next ones derive from the anchor.
        for _ in 0..3 {
            let before = system_millis();
            let (_, millis) = now();
            let after = system_millis();
            assert!(before <= millis + 1 && millis <= after + 1, "{before} {millis} {after}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_old_anchor_is_replaced() {
        let (tick, first) = now();
        // An anchor claiming the epoch, older than REANCHOR: used, it would put "now" in 1970.
        let stale = Tick(tick.0.wrapping_sub(clock().reanchor_ticks * 2));
        ANCHOR.with(|anchor| anchor.set(Some((stale, 0))));
        let (_, millis) = now();
        assert!(millis >= first, "{millis} < {first}");
    }

    /// Ticks measure what `Instant` measures, on whichever clock this machine uses.
    #[test]
    fn ticks_agree_with_instant_over_a_sleep() {
        for _ in 0..3 {
            let (start, span) = bracketed(Tick::now);
            std::thread::sleep(Duration::from_millis(30));
            let (end, end_span) = bracketed(Tick::now);
            let measured = end.millis_since(start);
            let (shortest, longest) = between(span, end_span);
            // The rate is measured to well under 0.1%.
            assert!(
                shortest * 0.999 <= measured && measured <= longest * 1.001,
                "{measured} not within {shortest}..{longest}"
            );
        }
        assert_eq!(Tick::now().millis_since(Tick(u64::MAX)), 0.0, "a later start counts as 0");
    }

    /// `read()`, with the instants just before and after it: a thread switch may come between
    /// two reads, so only the bracket is known.
    fn bracketed<T>(read: impl FnOnce() -> T) -> (T, (Instant, Instant)) {
        let before = Instant::now();
        let value = read();
        (value, (before, Instant::now()))
    }

    /// The shortest and the longest time, in milliseconds, that may have passed between two
    /// bracketed reads.
    fn between(first: (Instant, Instant), second: (Instant, Instant)) -> (f64, f64) {
        let millis = |d: Duration| d.as_secs_f64() * 1e3;
        (millis(second.0.saturating_duration_since(first.1)), millis(second.1 - first.0))
    }

    #[test]
    fn the_counter_is_used_exactly_where_the_kernel_uses_it() {
        assert_eq!(clock().tsc, tsc::trusted_by_kernel());
    }

    #[test]
    fn the_monotonic_clock_counts_nanoseconds() {
        let clock = Clock::monotonic();
        let start = clock.tick();
        std::thread::sleep(Duration::from_millis(2));
        let ticks = clock.tick().0 - start.0;
        assert!((2_000_000..1_000_000_000).contains(&ticks), "{ticks}");
        assert_eq!(clock.nanos_per_tick(), 1.0);
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn the_time_stamp_counter_rate_is_measured_and_refined() {
        let clock = Clock::tsc();
        assert!(clock.tsc, "a plausible rate on any x86-64 machine");
        let first = clock.nanos_per_tick();
        let (start, span) = bracketed(|| clock.tick());
        std::thread::sleep(REANCHOR + Duration::from_millis(10));
        // A re-anchor after REANCHOR measures the rate again over the whole baseline: here it
        // corrects a rate spoiled on purpose.
        clock.nanos_per_tick.store((first * 1.5).to_bits(), Ordering::Relaxed);
        clock.reanchor();
        let refined = clock.nanos_per_tick();
        let (end, end_span) = bracketed(|| clock.tick());
        let measured = (end.0 - start.0) as f64 * refined / 1e6;
        let (shortest, longest) = between(span, end_span);
        assert!(
            shortest * (1.0 - 1e-4) <= measured && measured <= longest * (1.0 + 1e-4),
            "{measured} not within {shortest}..{longest}"
        );
        assert!((refined - first).abs() < first * 1e-2, "{refined} vs {first}");
    }

    #[test]
    fn implausible_rates_are_refused() {
        assert_eq!(rate(Duration::from_millis(1), 1_000_000), Some(1.0));
        assert_eq!(rate(Duration::from_millis(1), 0), None, "a counter that did not move");
        assert_eq!(rate(Duration::from_millis(1), 1), None);
        assert_eq!(rate(Duration::from_millis(1), u64::MAX), None);
    }
}
