//! One streaming pass over the logs, on every core, in constant memory.
//!
//! Workers take turns pulling the next chunk (about [`CHUNK`] bytes, cut after a newline) from
//! a shared [`Reader`] into their own buffer, then parse and aggregate it on their own; the
//! per-worker [`Collector`]s are merged at the end. Reading happens under a lock but takes a
//! small fraction of the parsing time, so the workers rarely wait. Line numbers are counted
//! per chunk and resolved after the pass, so problems are reported as `file:line` without
//! a serial pre-pass over the data.
//!
//! Each line becomes a borrowed [`Row`] (only the fields a summary needs): read by the
//! hand-written [`crate::fast`] reader when the line is plain, else by serde's derive, which
//! also words the error of a line that is not a record.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use llm_trace_core::sink::JsonlSink;
use llm_trace_core::{Config, trace::SCHEMA_VERSION};
use memchr::{memchr_iter, memrchr};

use crate::failure::{Failure, Result};
use crate::filter::Filter;
use crate::row::{Row, SchemaOnly};
use crate::time;

/// Bytes per chunk handed to a worker.
pub(crate) const CHUNK: usize = 4 << 20;

/// Problems printed per file before they are only counted.
const SHOWN_PROBLEMS: usize = 10;

/// One input: a log file or standard input.
pub(crate) struct Source {
    pub(crate) name: String,
    input: Box<dyn Read + Send>,
}

impl Source {
    fn file(path: PathBuf) -> Result<Source> {
        let file = File::open(&path)
            .map_err(|e| Failure::Runtime(format!("cannot open {}: {e}", path.display())))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(Failure::Runtime(format!("{} is a folder", path.display())));
        }
        Ok(Source { name: path.display().to_string(), input: Box::new(file) })
    }

    pub(crate) fn stdin() -> Source {
        Source { name: "<stdin>".into(), input: Box::new(io::stdin()) }
    }
}

/// The log folder: `$LLM_TRACE_DIR`, else `./llm-traces`.
pub(crate) fn default_dir() -> Result<PathBuf> {
    Config::from_env().map(|c| c.dir).map_err(|e| Failure::Usage(e.to_string()))
}

/// The log files of `dir`, oldest first: `traces.jsonl.N` … `traces.jsonl.1`, `traces.jsonl`.
pub(crate) fn log_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let log = dir.join(llm_trace_core::config::LOG_FILE);
    let mut rotated: Vec<usize> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let suffix = name.to_str()?.strip_prefix(llm_trace_core::config::LOG_FILE)?;
                let digits = suffix.strip_prefix('.')?;
                (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| digits.parse().ok())?
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Failure::Runtime(format!("cannot list {}: {e}", dir.display()))),
    };
    rotated.sort_unstable_by(|a, b| b.cmp(a));
    let mut files: Vec<PathBuf> =
        rotated.iter().map(|&n| JsonlSink::rotated_path(&log, n)).collect();
    if log.exists() {
        files.push(log.clone());
    }
    if files.is_empty() {
        return Err(Failure::Runtime(format!(
            "no log at {} (set LLM_TRACE_DIR or pass the log's path)",
            log.display()
        )));
    }
    Ok(files)
}

/// Opens the inputs named on the command line: files, folders (their log and its rotated
/// files), `-` for stdin; none means the default log folder.
pub(crate) fn open_inputs(paths: &[PathBuf]) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    if paths.is_empty() {
        for path in log_files(&default_dir()?)? {
            sources.push(Source::file(path)?);
        }
        return Ok(sources);
    }
    let mut stdin_used = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_used {
                return Err(Failure::Usage("`-` (stdin) can be given only once".into()));
            }
            stdin_used = true;
            sources.push(Source::stdin());
        } else if path.is_dir() {
            for file in log_files(path)? {
                sources.push(Source::file(file)?);
            }
        } else {
            sources.push(Source::file(path.clone())?);
        }
    }
    Ok(sources)
}

/// Where a record was found: the chunk's sequence number and the line within the chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) seq: u64,
    pub(crate) line: u64,
}

/// A record that passed the filters.
pub(crate) struct Record<'a> {
    pub(crate) row: Row<'a>,
    /// `row.timestamp` in Unix milliseconds.
    pub(crate) millis: i64,
    /// The whole line.
    pub(crate) raw: &'a [u8],
    pub(crate) pos: Pos,
}

/// What a command computes from the records, one per worker, merged at the end.
pub(crate) trait Collector: Send {
    /// A cheap test on the raw line: lines for which it is false are not even parsed.
    fn wants(&self, _raw: &[u8]) -> bool {
        true
    }
    fn add(&mut self, record: &Record<'_>);
    fn merge(&mut self, other: Self)
    where
        Self: Sized;
}

/// Counts of one pass.
#[derive(Debug, Default, Clone)]
pub(crate) struct ScanStats {
    /// Records read (valid lines of a known schema version).
    pub(crate) records: u64,
    /// Records that passed the filters.
    pub(crate) matched: u64,
    /// Lines skipped (malformed, torn or from a newer schema).
    pub(crate) skipped: u64,
}

struct ChunkInfo {
    source: usize,
    seq: u64,
    last: bool,
}

/// The inputs, read one after the other in chunks that end on a line boundary.
struct Reader {
    /// Bytes per chunk ([`CHUNK`], smaller in tests).
    chunk: usize,
    sources: Vec<Source>,
    current: usize,
    carry: Vec<u8>,
    seq: u64,
}

impl Reader {
    fn next_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<ChunkInfo>> {
        const MIN_READ: usize = 64 * 1024;
        while self.current < self.sources.len() {
            buf.clear();
            buf.append(&mut self.carry);
            let input = &mut self.sources[self.current].input;
            let mut eof = false;
            loop {
                let before = buf.len();
                let want = self.chunk.saturating_sub(before).max(MIN_READ.min(self.chunk));
                buf.reserve(want);
                let n = input.take(want as u64).read_to_end(buf)?;
                if n < want {
                    eof = true;
                    break;
                }
                if let Some(i) = memrchr(b'\n', &buf[before..]) {
                    let cut = before + i + 1;
                    self.carry.extend_from_slice(&buf[cut..]);
                    buf.truncate(cut);
                    break;
                }
                // A line longer than a chunk: keep reading until it ends.
            }
            let source = self.current;
            if eof {
                self.current += 1;
            }
            if buf.is_empty() {
                continue;
            }
            let seq = self.seq;
            self.seq += 1;
            return Ok(Some(ChunkInfo { source, seq, last: eof }));
        }
        Ok(None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ProblemKind {
    Torn,
    Malformed,
}

#[derive(Debug, Clone)]
struct Problem {
    source: usize,
    pos: Pos,
    message: String,
}

#[derive(Debug, Clone, Default)]
struct SourceCounts {
    malformed: u64,
    torn: u64,
    newer: u64,
    newest_schema: u64,
    first_newer: Option<Pos>,
    shown: usize,
}

/// A worker's notes on the lines it could not use.
#[derive(Default)]
struct Diagnostics {
    counts: Vec<SourceCounts>,
    problems: Vec<Problem>,
    /// `(seq, source, lines)` of every chunk this worker read.
    chunks: Vec<(u64, usize, u64)>,
    stats: ScanStats,
}

impl Diagnostics {
    fn new(sources: usize) -> Diagnostics {
        Diagnostics { counts: vec![SourceCounts::default(); sources], ..Default::default() }
    }

    fn problem(&mut self, source: usize, pos: Pos, kind: ProblemKind, message: String) {
        let counts = &mut self.counts[source];
        match kind {
            ProblemKind::Torn => counts.torn += 1,
            ProblemKind::Malformed => counts.malformed += 1,
        }
        self.stats.skipped += 1;
        // A worker sees its chunks in order, so its first problems are its earliest.
        if counts.shown < SHOWN_PROBLEMS {
            counts.shown += 1;
            self.problems.push(Problem { source, pos, message });
        }
    }

    fn newer(&mut self, source: usize, pos: Pos, schema: u64) {
        let counts = &mut self.counts[source];
        counts.newer += 1;
        counts.newest_schema = counts.newest_schema.max(schema);
        counts.first_newer = Some(counts.first_newer.map_or(pos, |p| p.min(pos)));
        self.stats.skipped += 1;
    }

    fn merge(&mut self, other: Diagnostics) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            mine.malformed += theirs.malformed;
            mine.torn += theirs.torn;
            mine.newer += theirs.newer;
            mine.newest_schema = mine.newest_schema.max(theirs.newest_schema);
            mine.first_newer = match (mine.first_newer, theirs.first_newer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.problems.extend(other.problems);
        self.chunks.extend(other.chunks);
        self.stats.records += other.stats.records;
        self.stats.matched += other.stats.matched;
        self.stats.skipped += other.stats.skipped;
    }

    /// The problems as `file:line: …`, at most [`SHOWN_PROBLEMS`] per file.
    fn messages(mut self, sources: &[String]) -> Vec<String> {
        self.chunks.sort_unstable();
        let mut first_line = vec![0u64; self.chunks.last().map_or(0, |c| c.0 as usize + 1)];
        let mut lines_so_far = vec![0u64; sources.len()];
        for &(seq, source, lines) in &self.chunks {
            first_line[seq as usize] = lines_so_far[source];
            lines_so_far[source] += lines;
        }
        let line_of =
            |pos: Pos| first_line.get(pos.seq as usize).copied().unwrap_or(0) + pos.line + 1;
        self.problems.sort_by_key(|p| (p.source, p.pos));
        let mut messages = Vec::new();
        for (index, name) in sources.iter().enumerate() {
            let counts = &self.counts[index];
            let mut shown = 0;
            for p in self.problems.iter().filter(|p| p.source == index).take(SHOWN_PROBLEMS) {
                messages.push(format!("{name}:{}: {}", line_of(p.pos), p.message));
                shown += 1;
            }
            let bad = counts.malformed + counts.torn;
            if bad > shown as u64 {
                messages
                    .push(format!("{name}: {} more malformed lines skipped", bad - shown as u64));
            }
            if counts.newer > 0 {
                messages.push(format!(
                    "{name}:{}: {} record{} written by a newer llm-trace (schema {}, \
                     this one reads {SCHEMA_VERSION}) skipped: upgrade llm-trace to read them",
                    counts.first_newer.map_or(0, line_of),
                    counts.newer,
                    if counts.newer == 1 { "" } else { "s" },
                    counts.newest_schema,
                ));
            }
        }
        messages
    }
}

/// The number of worker threads: one per core, at most 8 (`LLM_TRACE_THREADS` overrides).
pub(crate) fn workers() -> usize {
    if let Some(n) = std::env::var("LLM_TRACE_THREADS").ok().and_then(|v| v.trim().parse().ok()) {
        return usize::max(n, 1);
    }
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

/// Reads every source once, handing each record that passes `filter` to a collector made by
/// `make` (one per worker), and returns the merged collector. Lines that cannot be used are
/// reported on stderr with their file and line number and skipped.
pub(crate) fn scan<C: Collector>(
    sources: Vec<Source>,
    filter: &Filter,
    make: impl Fn() -> C + Sync,
) -> Result<(C, ScanStats)> {
    let (collector, stats, messages) = scan_in_chunks(sources, filter, make, CHUNK)?;
    for message in messages {
        eprintln!("llm-trace: {message}");
    }
    Ok((collector, stats))
}

fn scan_in_chunks<C: Collector>(
    sources: Vec<Source>,
    filter: &Filter,
    make: impl Fn() -> C + Sync,
    chunk: usize,
) -> Result<(C, ScanStats, Vec<String>)> {
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let reader = Mutex::new(Reader { chunk, sources, current: 0, carry: Vec::new(), seq: 0 });
    let failed: Mutex<Option<Failure>> = Mutex::new(None);
    let work = || {
        let mut collector = make();
        let mut diagnostics = Diagnostics::new(names.len());
        let mut buf = Vec::with_capacity(chunk + 64 * 1024);
        loop {
            if failed.lock().map_or(true, |f| f.is_some()) {
                break;
            }
            let next = match reader.lock() {
                Ok(mut reader) => reader.next_chunk(&mut buf),
                Err(_) => break,
            };
            match next {
                Ok(Some(chunk)) => {
                    process(&buf, &chunk, filter, &mut collector, &mut diagnostics);
                }
                Ok(None) => break,
                Err(e) => {
                    let name = reader
                        .lock()
                        .ok()
                        .and_then(|r| r.sources.get(r.current).map(|s| s.name.clone()));
                    let message =
                        format!("cannot read {}: {e}", name.as_deref().unwrap_or("the input"));
                    if let Ok(mut f) = failed.lock() {
                        f.get_or_insert(Failure::Runtime(message));
                    }
                    break;
                }
            }
        }
        (collector, diagnostics)
    };
    let n = workers();
    let mut results = if n == 1 {
        vec![work()]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n).map(|_| scope.spawn(work)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect::<Vec<_>>()
        })
    };
    if let Some(failure) = failed.into_inner().ok().flatten() {
        return Err(failure);
    }
    let (mut collector, mut diagnostics) = results.remove(0);
    for (other, other_diagnostics) in results {
        collector.merge(other);
        diagnostics.merge(other_diagnostics);
    }
    let stats = diagnostics.stats.clone();
    Ok((collector, stats, diagnostics.messages(&names)))
}

fn process<C: Collector>(
    buf: &[u8],
    chunk: &ChunkInfo,
    filter: &Filter,
    collector: &mut C,
    diagnostics: &mut Diagnostics,
) {
    // One UTF-8 check for the whole chunk (fast on long runs of ASCII) instead of one per
    // string; a chunk that is not valid UTF-8 is read line by line by serde_json, which
    // reports the bad line.
    let text = std::str::from_utf8(buf).ok();
    let mut start = 0;
    let mut line_no = 0u64;
    let mut ends = memchr_iter(b'\n', buf);
    while start < buf.len() {
        let (mut end, next, terminated) = match ends.next() {
            Some(end) => (end, end + 1, true),
            None => (buf.len(), buf.len(), false),
        };
        let pos = Pos { seq: chunk.seq, line: line_no };
        line_no += 1;
        if end > start && buf[end - 1] == b'\r' {
            end -= 1;
        }
        let line = &buf[start..end];
        let range = start..end;
        start = next;
        if line.iter().all(u8::is_ascii_whitespace) || !collector.wants(line) {
            continue;
        }
        // The hand-written reader takes the common case; serde decides the rest.
        let fast = text.and_then(|text| crate::fast::row(&text[range]));
        let parsed = match fast {
            Some(row) => Ok(row),
            None => serde_json::from_slice::<Row<'_>>(line),
        };
        match parsed {
            Ok(row) if row.schema > u64::from(SCHEMA_VERSION) => {
                diagnostics.newer(chunk.source, pos, row.schema);
            }
            Ok(row) => {
                let Some(millis) = time::parse_millis(&row.timestamp) else {
                    let message = format!(
                        "skipped a record with a bad timestamp {:?}",
                        crate::text::clip(&row.timestamp, 40)
                    );
                    diagnostics.problem(chunk.source, pos, ProblemKind::Malformed, message);
                    continue;
                };
                diagnostics.stats.records += 1;
                if filter.matches(&row, millis) {
                    diagnostics.stats.matched += 1;
                    collector.add(&Record { row, millis, raw: line, pos });
                }
            }
            Err(error) => match serde_json::from_slice::<SchemaOnly>(line) {
                Ok(s) if s.schema > u64::from(SCHEMA_VERSION) => {
                    diagnostics.newer(chunk.source, pos, s.schema);
                }
                _ if chunk.last && !terminated => diagnostics.problem(
                    chunk.source,
                    pos,
                    ProblemKind::Torn,
                    "skipped the incomplete last line (was the writer stopped mid-write?)".into(),
                ),
                _ => {
                    let message = format!("skipped a malformed line: {}", describe(&error));
                    diagnostics.problem(chunk.source, pos, ProblemKind::Malformed, message);
                }
            },
        }
    }
    diagnostics.chunks.push((chunk.seq, chunk.source, line_no));
}

/// serde_json's message without its "at line 1 column N" (we give the file's line).
pub(crate) fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let text = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => &text,
    };
    if error.is_eof() {
        format!("incomplete record ({text})")
    } else {
        format!("{text} (column {})", error.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[derive(Default)]
    struct Count(Vec<String>);

    impl Collector for Count {
        fn add(&mut self, r: &Record<'_>) {
            self.0.push(r.row.trace_id.to_string());
        }
        fn merge(&mut self, other: Self) {
            self.0.extend(other.0);
        }
    }

    fn source(text: &str) -> Source {
        Source { name: "t".into(), input: Box::new(Cursor::new(text.as_bytes().to_vec())) }
    }

    fn line(id: usize) -> String {
        format!(r#"{{"schema":1,"trace_id":"{id}","timestamp":"2026-11-26T10:00:00.000Z"}}"#)
    }

    fn scan_with(text: &str, chunk: usize) -> (Count, ScanStats, Vec<String>) {
        scan_in_chunks(vec![source(text)], &Filter::default(), Count::default, chunk).unwrap()
    }

    #[test]
    fn chunks_end_on_line_boundaries_and_lose_nothing() {
        let text: String = (0..30_000).map(|i| line(i) + "\n").collect();
        for chunk in [100, 4096, 1 << 20, CHUNK] {
            let (count, stats, _) = scan_in_chunks(
                vec![source(&text), source(&text)],
                &Filter::default(),
                Count::default,
                chunk,
            )
            .unwrap();
            assert_eq!((stats.records, stats.matched, stats.skipped), (60_000, 60_000, 0));
            let mut ids = count.0;
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 30_000);
        }
    }

    #[test]
    fn line_numbers_are_right_across_chunks() {
        let mut lines: Vec<String> = (0..5_000).map(line).collect();
        lines[1234] = "garbage".into();
        lines[4321] = "{\"schema\":1,".into();
        let text = lines.join("\n");
        for chunk in [64, 1000, 65_536, CHUNK] {
            let (count, stats, messages) = scan_with(&text, chunk);
            assert_eq!((count.0.len(), stats.skipped), (4_998, 2), "chunk {chunk}");
            assert!(messages[0].starts_with("t:1235: skipped a malformed line"), "{messages:?}");
            assert!(
                messages[1].starts_with("t:4322: skipped a malformed line: incomplete"),
                "{messages:?}"
            );
        }
    }

    #[test]
    fn problems_are_counted_and_the_rest_read() {
        let text = format!(
            "{}\nnot json\n\n{}\n{{\"schema\":2,\"whatever\":true}}\n{}",
            line(1),
            line(2),
            &line(3)[..20]
        );
        let (count, stats, messages) = scan_with(&text, CHUNK);
        assert_eq!(count.0.len(), 2);
        assert_eq!((stats.records, stats.skipped), (2, 3));
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[1].starts_with("t:6: skipped the incomplete last line"), "{messages:?}");
        assert!(messages[2].starts_with("t:5: 1 record written by a newer llm-trace (schema 2"));
    }

    #[test]
    fn only_the_first_problems_are_shown() {
        let text: String = (0..100).map(|i| format!("bad {i}\n")).collect();
        let (_, stats, messages) = scan_with(&text, 64);
        assert_eq!(stats.skipped, 100);
        assert_eq!(messages.len(), SHOWN_PROBLEMS + 1);
        assert!(
            messages[0].starts_with("t:1:") && messages[9].starts_with("t:10:"),
            "{messages:?}"
        );
        assert_eq!(messages[10], "t: 90 more malformed lines skipped");
    }

    #[test]
    fn a_line_longer_than_a_chunk_is_read_whole() {
        let long = format!(
            r#"{{"trace_id":"long","timestamp":"2026-11-26T10:00:00Z","input_preview":"{}"}}"#,
            "x".repeat(5000)
        );
        let text = format!("{}\n{long}\n{}\n", line(1), line(2));
        let (count, stats, _) = scan_with(&text, 1024);
        assert_eq!((count.0.len(), stats.skipped), (3, 0));
    }
}
