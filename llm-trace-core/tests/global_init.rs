//! The global tracer: `init` once, calls anywhere, the guard writes everything on drop.
//! (Its own test binary: the global tracer is per process.)

use llm_trace_core::{Config, Error, FinishReason, LlmTrace, Usage, call, init};

#[test]
fn init_records_globally_and_the_guard_flushes_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.dir = dir.path().join("traces");
    config.flush_interval = std::time::Duration::from_secs(3600); // only the guard flushes
    let guard = init(config.clone()).unwrap();

    assert!(matches!(init(config.clone()), Err(Error::AlreadyInitialized)));

    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..250 {
                    let mut rec = call("openai", "chat", "gpt-4o-mini");
                    rec.usage(Usage::new(10, 2));
                    rec.finish(FinishReason::Stop);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(llm_trace_core::summary().total.calls, 1000);
    drop(guard);

    let log = std::fs::read_to_string(config.log_path()).unwrap();
    let traces: Vec<LlmTrace> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(traces.len(), 1000);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config.log_path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
