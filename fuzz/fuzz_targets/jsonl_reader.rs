//! The JSON-lines reader over arbitrary bytes: it never panics, it yields at most one item
//! per line with increasing line numbers, and every trace it accepts writes back to a line
//! that reads back as the same trace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_trace_core::LlmTrace;
use llm_trace_core::reader::LogReader;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count();
    let mut last_line = 0;
    let mut items = 0;
    for item in LogReader::new(data) {
        items += 1;
        let line = match &item {
            Ok(_) => last_line + 1,
            Err(e) => e.line,
        };
        assert!(line > last_line, "line numbers increase");
        last_line = line.max(last_line);
        if let Ok(trace) = item {
            let written = serde_json::to_string(&trace).expect("a trace always serializes");
            assert!(!written.contains('\n'), "one line per trace");
            let back: LlmTrace = serde_json::from_str(&written).expect("it reads back");
            assert_eq!(back, trace, "a trace read from a log is written back unchanged: {written}");
            let again: Vec<_> = LogReader::new(format!("{written}\n").as_bytes()).collect();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].as_ref().ok(), Some(&trace));
        }
    }
    assert!(items <= lines, "{items} items from {lines} lines");
});
