//! Reading a JSON-lines log back, robustly.
//!
//! A log can end in a torn line (the process was killed in the middle of a write) or hold a
//! damaged line; a reader must still recover every complete record. [`LogReader`] yields one
//! item per line: the trace, or a [`LineError`] saying which line is bad and why, and carries
//! on with the next line.

use std::io::BufRead;

use crate::trace::{LlmTrace, SCHEMA_VERSION};

/// Reads traces from JSON lines, one item per non-empty line.
///
/// ```
/// use llm_trace_core::{reader::{LineProblem, LogReader}, LlmTrace};
///
/// let good = serde_json::to_string(&LlmTrace::example())?;
/// let log = format!("{good}\n{{not json}}\n{good}\n{}", &good[..40]); // the last line is torn
/// let items: Vec<_> = LogReader::new(log.as_bytes()).collect();
/// assert_eq!(items.len(), 4);
/// assert!(items[0].is_ok() && items[2].is_ok());
/// let bad = items[1].as_ref().unwrap_err();
/// assert_eq!((bad.line, &bad.problem), (2, &LineProblem::Malformed("key must be a string at line 1 column 2".into())));
/// assert_eq!(items[3].as_ref().unwrap_err().problem, LineProblem::Torn);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug)]
pub struct LogReader<R> {
    input: R,
    line: usize,
    buf: Vec<u8>,
}

/// A line that is not a trace this reader can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: LineProblem,
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// The last line has no newline and is not a complete record: the writer was stopped in
    /// the middle of it.
    #[error("torn last line (the writer stopped in the middle of it)")]
    Torn,
    /// Not a JSON trace record.
    #[error("not a trace record: {0}")]
    Malformed(String),
    /// Not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// A record of a newer schema than this reader knows.
    #[error(
        "schema {0} is newer than this reader's ({SCHEMA_VERSION}): upgrade llm-trace to read it"
    )]
    NewerSchema(u64),
    /// The input could not be read.
    #[error("read error: {0}")]
    Io(String),
}

impl<R: BufRead> LogReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> LogReader<R> {
        LogReader { input, line: 0, buf: Vec::new() }
    }
}

impl<R: BufRead> Iterator for LogReader<R> {
    type Item = Result<LlmTrace, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            let read = match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => {
                    self.line += 1;
                    return Some(Err(LineError {
                        line: self.line,
                        problem: LineProblem::Io(e.to_string()),
                    }));
                }
            };
            self.line += 1;
            let complete = self.buf.ends_with(b"\n");
            let text = self.buf[..read].trim_ascii();
            if text.is_empty() {
                continue;
            }
            let line = self.line;
            let error = |problem| Some(Err(LineError { line, problem }));
            let Ok(text) = std::str::from_utf8(text) else {
                return error(if complete { LineProblem::NotUtf8 } else { LineProblem::Torn });
            };
            return match serde_json::from_str::<LlmTrace>(text) {
                Ok(trace) if u64::from(trace.schema) > u64::from(SCHEMA_VERSION) => {
                    error(LineProblem::NewerSchema(u64::from(trace.schema)))
                }
                Ok(trace) => Some(Ok(trace)),
                Err(_) if !complete => error(LineProblem::Torn),
                Err(e) => {
                    // A newer schema may also have changed fields this reader requires.
                    let schema = serde_json::from_str::<SchemaOnly>(text).ok().map(|s| s.schema);
                    match schema {
                        Some(s) if s > u64::from(SCHEMA_VERSION) => {
                            error(LineProblem::NewerSchema(s))
                        }
                        _ => error(LineProblem::Malformed(e.to_string())),
                    }
                }
            };
        }
    }
}

#[derive(serde::Deserialize)]
struct SchemaOnly {
    schema: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> String {
        serde_json::to_string(&LlmTrace::example()).unwrap()
    }

    #[test]
    fn every_complete_line_survives_a_cut_anywhere() {
        let one = line();
        let log = format!("{one}\n{one}\n{one}\n");
        let bytes = log.as_bytes();
        for cut in 0..bytes.len() {
            let items: Vec<_> = LogReader::new(&bytes[..cut]).collect();
            let complete = bytes[..cut].iter().filter(|b| **b == b'\n').count();
            let ok = items.iter().filter(|i| i.is_ok()).count();
            // A record cut just before its newline is whole, and is kept.
            let rest = &bytes[..cut]
                [bytes[..cut].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1)..];
            let whole_rest = usize::from(rest == one.as_bytes());
            assert_eq!(ok, complete + whole_rest, "cut at {cut}");
            // Whatever is left after the last newline is reported as torn, nothing else.
            for item in items.iter().filter_map(|i| i.as_ref().err()) {
                assert_eq!(item.problem, LineProblem::Torn, "cut at {cut}");
                assert_eq!(item.line, complete + 1);
            }
        }
    }

    #[test]
    fn bad_lines_are_reported_with_their_number_and_skipped() {
        let log = format!("{}\n\n{{\"schema\":1}}\n\u{ff}\n{}\n", line(), line()).into_bytes();
        let mut log = log;
        // Replace the ÿ with a lone invalid byte.
        let pos = log.windows(2).position(|w| w == "\u{ff}".as_bytes()).unwrap();
        log.splice(pos..pos + 2, [0xff]);
        let items: Vec<_> = LogReader::new(log.as_slice()).collect();
        assert_eq!(items.len(), 4);
        assert!(items[0].is_ok() && items[3].is_ok());
        let e = items[1].as_ref().unwrap_err();
        assert_eq!(e.line, 3);
        assert!(matches!(e.problem, LineProblem::Malformed(_)));
        assert_eq!(items[2].as_ref().unwrap_err().problem, LineProblem::NotUtf8);
        assert_eq!(items[2].as_ref().unwrap_err().line, 4);
    }

    #[test]
    fn a_newer_schema_says_to_upgrade() {
        let mut v = serde_json::to_value(LlmTrace::example()).unwrap();
        v["schema"] = 2.into();
        let text = format!("{v}\n{{\"schema\": 7, \"everything\": \"changed\"}}\n");
        let items: Vec<_> = LogReader::new(text.as_bytes()).collect();
        assert_eq!(items[0].as_ref().unwrap_err().problem, LineProblem::NewerSchema(2));
        assert_eq!(items[1].as_ref().unwrap_err().problem, LineProblem::NewerSchema(7));
        assert!(items[1].as_ref().unwrap_err().to_string().contains("upgrade"));
    }
}
