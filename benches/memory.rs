//! Memory: resident set size after 10,000 and after 1,000,000 recorded calls (issue 7: within
//! 10 MB of each other; nothing grows with the number of calls), paced and in a tight loop.
//! Prints the figures; run with `cargo bench --bench memory`.

mod support;

use std::time::Duration;

use llm_trace::sink::JsonlSink;
use llm_trace::{Scope, Tracer};

/// Resident set size in bytes, from `/proc/self/statm`.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let mb = |b: u64| b as f64 / 1e6;
    eprintln!("memory/rss: at start {:.1} MB", mb(rss_bytes()));
    // Paced: the queue is drained every 4,096 calls, as it is when calls take any time at all
    // (an LLM call takes 100 ms or more): what grows with the number of calls.
    // Tight loop: a million calls as fast as one thread can make them, faster than the writer
    // writes, so the queue fills up to its capacity (65,536 traces): what the queue's bound
    // costs at most.
    for (mode, pace) in [("paced", Some(4096u64)), ("tight loop", None)] {
        let dir = tempfile::tempdir().unwrap();
        let tracer = Tracer::builder()
            .sink(JsonlSink::open(dir.path().join("traces.jsonl")).unwrap())
            .build()
            .unwrap();
        let mut recorded = 0u64;
        let mut report = Vec::new();
        Scope::new("classify_ticket", "bench", &["support", "classification"]).in_scope(|| {
            for target in [10_000u64, 100_000, 1_000_000] {
                while recorded < target {
                    support::record_manual(&tracer);
                    recorded += 1;
                    if pace.is_some_and(|p| recorded % p == 0) {
                        tracer.flush().unwrap();
                    }
                }
                tracer.flush().unwrap();
                report.push((target, rss_bytes()));
            }
        });
        let stats = tracer.stats();
        assert_eq!(stats.written, recorded, "{stats:?}");
        for (calls, rss) in &report {
            eprintln!("memory/rss ({mode}): after {calls:>9} calls {:.1} MB", mb(*rss));
        }
        let growth = report[2].1 as i64 - report[0].1 as i64;
        eprintln!(
            "memory/rss ({mode}): growth from 10,000 to 1,000,000 calls {:+.1} MB (target: within 10 MB)",
            growth as f64 / 1e6
        );
        let _ = tracer.shutdown(Duration::from_secs(30));
    }
}
