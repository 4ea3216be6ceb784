//! `llm-trace tail [-f]`: the last calls, one readable line each, and new ones as they come.
//!
//! The last lines are found by reading the log backwards from its end (then the rotated files,
//! newest first, if the live file has fewer), so this is instant on any size of log. `-f` then
//! polls the live file: new complete lines are printed; when the file is replaced (rotation)
//! the rest of the old file is read and the new one followed from its start; when it shrinks
//! (truncation) it is read again from the start.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use llm_trace_core::LlmTrace;
use llm_trace_core::summary::{format_cost, format_count, format_ms};
use llm_trace_core::trace::SCHEMA_VERSION;
use memchr::{memchr_iter, memrchr_iter};

use super::stdout;
use crate::args::TailArgs;
use crate::failure::{Failure, Result};
use crate::filter::Filter;
use crate::row::Row;
use crate::scan;
use crate::text::{clip, fit};
use crate::time;

/// Bytes read per step when reading backwards.
const BLOCK: usize = 256 * 1024;

/// Problems printed before they are only counted.
const SHOWN_PROBLEMS: u64 = 10;

/// What happened to a line.
enum Line {
    /// It matched: the readable line.
    Show(String),
    /// Valid, but filtered out.
    Skip,
    /// Written by a newer version.
    Newer(u64),
    /// Not a record.
    Bad(String),
}

/// Turns a log line into the readable line, if it passes the filter.
fn render(raw: &[u8], filter: &Filter) -> Line {
    let mut raw = raw;
    if let [rest @ .., b'\r'] = raw {
        raw = rest;
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Line::Skip;
    }
    let row: Row<'_> = match serde_json::from_slice(raw) {
        Ok(row) => row,
        Err(e) => {
            return match serde_json::from_slice::<crate::row::SchemaOnly>(raw) {
                Ok(s) if s.schema > u64::from(SCHEMA_VERSION) => Line::Newer(s.schema),
                _ => Line::Bad(scan::describe(&e)),
            };
        }
    };
    if row.schema > u64::from(SCHEMA_VERSION) {
        return Line::Newer(row.schema);
    }
    let Some(millis) = time::parse_millis(&row.timestamp) else {
        return Line::Bad("bad timestamp".into());
    };
    if !filter.matches(&row, millis) {
        return Line::Skip;
    }
    match serde_json::from_slice::<LlmTrace>(raw) {
        Ok(trace) => Line::Show(one_line(&trace)),
        Err(e) => Line::Bad(scan::describe(&e)),
    }
}

/// `2026-11-26 19:18:53  classify_ticket  gpt-4o-mini  1,200→80 tok  $0.0001344  812 ms  ok`
pub(crate) fn one_line(t: &LlmTrace) -> String {
    let millis = t.timestamp.unix_millis();
    let tokens =
        format!("{}→{} tok", format_count(t.prompt_tokens), format_count(t.completion_tokens));
    let cost = t.cost_usd.map_or_else(|| "unpriced".to_owned(), format_cost);
    let status = match &t.error {
        Some(e) => {
            let code = e.status.map(|s| format!(" {s}")).unwrap_or_default();
            format!("error {}{code}: {}", clip(e.kind.as_str(), 30), clip(&e.message, 100))
        }
        None => clip(t.finish_reason.as_str(), 30),
    };
    format!(
        "{}  {}  {}  {:>18}  {:>10}  {:>8}  {status}",
        time::short(millis),
        fit(&clip(&t.function_name, 24), 24),
        fit(&clip(&t.model, 24), 24),
        tokens,
        cost,
        format_ms(Some(t.latency_ms)),
    )
}

/// Counts and prints (the first few) problems of one file.
struct Problems {
    name: String,
    path: Option<PathBuf>,
    bad: u64,
    newer: u64,
}

impl Problems {
    fn new(name: String, path: Option<PathBuf>) -> Problems {
        Problems { name, path, bad: 0, newer: 0 }
    }

    /// Notes a line that could not be shown; `offset` is where it starts in the file.
    fn note(&mut self, line: &Line, offset: Option<u64>) {
        match line {
            Line::Newer(schema) => {
                if self.newer == 0 {
                    eprintln!(
                        "llm-trace: {}: records written by a newer llm-trace (schema {schema}, this one \
                         reads {SCHEMA_VERSION}) are skipped: upgrade llm-trace to read them",
                        self.name
                    );
                }
                self.newer += 1;
            }
            Line::Bad(message) => {
                self.bad += 1;
                if self.bad <= SHOWN_PROBLEMS {
                    let at = match (&self.path, offset) {
                        (Some(path), Some(offset)) => count_lines(path, offset)
                            .map(|n| format!(":{}", n + 1))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    eprintln!("llm-trace: {}{at}: skipped a malformed line: {message}", self.name);
                }
            }
            Line::Show(_) | Line::Skip => {}
        }
    }

    fn finish(&self) {
        if self.bad > SHOWN_PROBLEMS {
            eprintln!(
                "llm-trace: {}: {} more malformed lines skipped",
                self.name,
                self.bad - SHOWN_PROBLEMS
            );
        }
    }
}

/// The number of newlines before `offset`: the 0-based line number of a line starting there.
fn count_lines(path: &Path, offset: u64) -> Option<u64> {
    let mut file = File::open(path).ok()?.take(offset);
    let mut buf = vec![0u8; BLOCK];
    let mut lines = 0u64;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            return Some(lines);
        }
        lines += memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// The last `want` matching lines of `path` before byte `end` (which is a line start), newest
/// first.
fn last_lines(
    path: &Path,
    end: u64,
    want: usize,
    filter: &Filter,
    shown: &mut Vec<String>,
) -> Result<()> {
    let read_error =
        |e: io::Error| Failure::Runtime(format!("cannot read {}: {e}", path.display()));
    let mut file = File::open(path).map_err(read_error)?;
    let mut problems = Problems::new(path.display().to_string(), Some(path.to_path_buf()));
    let mut pos = end;
    let mut rest: Vec<u8> = Vec::new(); // the start of a line whose end was read already
    let mut block = Vec::with_capacity(BLOCK);
    let mut take = |line: &[u8], offset: u64, shown: &mut Vec<String>| {
        match render(line, filter) {
            Line::Show(text) => shown.push(text),
            other => problems.note(&other, Some(offset)),
        }
        shown.len() >= want
    };
    'blocks: while pos > 0 && shown.len() < want {
        let start = pos.saturating_sub(BLOCK as u64);
        block.clear();
        file.seek(SeekFrom::Start(start)).map_err(read_error)?;
        (&mut file).take(pos - start).read_to_end(&mut block).map_err(read_error)?;
        block.extend_from_slice(&rest);
        let mut line_end = block.len();
        for nl in memrchr_iter(b'\n', &block) {
            let line_start = nl + 1;
            if line_start < line_end
                && take(&block[line_start..line_end], start + line_start as u64, shown)
            {
                break 'blocks;
            }
            line_end = nl;
        }
        rest = block[..line_end].to_vec();
        pos = start;
        if pos == 0 && !rest.is_empty() {
            take(&rest, 0, shown);
        }
    }
    problems.finish();
    Ok(())
}

/// Where the complete lines of `path` end: its size, less a last line still being written.
fn complete_end(path: &Path) -> Result<u64> {
    let read_error =
        |e: io::Error| Failure::Runtime(format!("cannot read {}: {e}", path.display()));
    let mut file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    let mut pos = size;
    let mut buf = vec![0u8; 64 * 1024];
    while pos > 0 {
        let start = pos.saturating_sub(buf.len() as u64);
        let n = (pos - start) as usize;
        file.seek(SeekFrom::Start(start)).map_err(read_error)?;
        file.read_exact(&mut buf[..n]).map_err(read_error)?;
        if let Some(nl) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(start + nl as u64 + 1);
        }
        pos = start;
    }
    Ok(0)
}

pub(crate) fn run(args: TailArgs) -> Result<()> {
    let filter = args.filter.filter();
    if args.path.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        return from_stdin(&args, &filter);
    }
    let (files, live) = match &args.path {
        Some(path) if !path.is_dir() => (vec![path.clone()], path.clone()),
        dir => {
            let dir = match dir {
                Some(dir) => dir.clone(),
                None => scan::default_dir()?,
            };
            let live = dir.join(llm_trace_core::config::LOG_FILE);
            match scan::log_files(&dir) {
                Ok(files) => (files, live),
                Err(_) if args.follow => (Vec::new(), live),
                Err(e) => return Err(e),
            }
        }
    };
    if !args.follow && !live.exists() && files.iter().all(|f| !f.exists()) {
        return Err(Failure::Runtime(format!("no log at {}", live.display())));
    }

    // The last lines, newest file first.
    let mut shown = Vec::new();
    let mut follow_from = 0;
    for (i, file) in files.iter().enumerate().rev() {
        if shown.len() >= args.lines {
            break;
        }
        let end = if i + 1 == files.len() && *file == live {
            let end = complete_end(file)?;
            follow_from = end;
            if !args.follow {
                // A last line without its newline: shown if it is whole, reported if torn.
                let size = fs::metadata(file).map(|m| m.len()).unwrap_or(end);
                if size > end {
                    let mut tail = Vec::new();
                    let mut f = File::open(file).map_err(|e| Failure::Runtime(e.to_string()))?;
                    f.seek(SeekFrom::Start(end)).and_then(|_| f.read_to_end(&mut tail)).ok();
                    match render(&tail, &filter) {
                        Line::Show(text) => shown.push(text),
                        Line::Bad(_) => eprintln!(
                            "llm-trace: {}:{}: skipped the incomplete last line (was the writer stopped mid-write?)",
                            file.display(),
                            count_lines(file, end).map_or(0, |n| n + 1)
                        ),
                        other => Problems::new(file.display().to_string(), None).note(&other, None),
                    }
                }
            }
            end
        } else {
            fs::metadata(file).map(|m| m.len()).unwrap_or(0)
        };
        last_lines(file, end, args.lines, &filter, &mut shown)?;
    }
    shown.truncate(args.lines);
    let mut out = stdout();
    for line in shown.iter().rev() {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if !args.follow {
        if shown.is_empty() {
            return Err(Failure::NoMatch("no calls matched".into()));
        }
        return Ok(());
    }
    follow(&live, follow_from, &filter, Duration::from_millis(args.poll_ms.max(10)))
}

#[cfg(unix)]
fn file_id(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// The live file being followed.
struct Followed {
    file: File,
    id: Option<(u64, u64)>,
    /// Bytes of the file consumed (complete lines) plus `partial`.
    pos: u64,
    partial: Vec<u8>,
}

impl Followed {
    fn open(path: &Path, from: u64) -> io::Result<Followed> {
        let mut file = File::open(path)?;
        let id = file_id(&file.metadata()?);
        file.seek(SeekFrom::Start(from))?;
        Ok(Followed { file, id, pos: from, partial: Vec::new() })
    }

    /// Reads what was appended and prints the complete lines that match.
    fn drain(
        &mut self,
        filter: &Filter,
        problems: &mut Problems,
        out: &mut impl Write,
    ) -> Result<()> {
        let mut buf = Vec::new();
        self.file
            .read_to_end(&mut buf)
            .map_err(|e| Failure::Runtime(format!("cannot read {}: {e}", problems.name)))?;
        if buf.is_empty() {
            return Ok(());
        }
        let line_start_pos = self.pos - self.partial.len() as u64;
        self.pos += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let data = std::mem::take(&mut self.partial);
        let mut start = 0;
        for nl in memchr_iter(b'\n', &data) {
            let offset = line_start_pos + start as u64;
            match render(&data[start..nl], filter) {
                Line::Show(text) => writeln!(out, "{text}")?,
                other => problems.note(&other, Some(offset)),
            }
            start = nl + 1;
        }
        self.partial = data[start..].to_vec();
        out.flush()?;
        Ok(())
    }
}

fn follow(path: &Path, from: u64, filter: &Filter, poll: Duration) -> Result<()> {
    let mut out = stdout();
    let mut problems = Problems::new(path.display().to_string(), Some(path.to_path_buf()));
    let mut current: Option<Followed> = None;
    let mut from = from;
    let mut waiting_said = false;
    loop {
        if current.is_none() {
            match Followed::open(path, from) {
                Ok(f) => current = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !waiting_said {
                        eprintln!("llm-trace: waiting for {} to appear", path.display());
                        waiting_said = true;
                    }
                }
                Err(e) => {
                    return Err(Failure::Runtime(format!("cannot open {}: {e}", path.display())));
                }
            }
        }
        if let Some(followed) = current.as_mut() {
            followed.drain(filter, &mut problems, &mut out)?;
            match fs::metadata(path) {
                Ok(meta) if file_id(&meta) != followed.id => {
                    // Rotated: finish the old file, then follow the new one from its start.
                    followed.drain(filter, &mut problems, &mut out)?;
                    current = None;
                    from = 0;
                    continue;
                }
                Ok(meta) if meta.len() < followed.pos => {
                    // Truncated: start again from the beginning.
                    followed
                        .file
                        .seek(SeekFrom::Start(0))
                        .map_err(|e| Failure::Runtime(e.to_string()))?;
                    followed.pos = 0;
                    followed.partial.clear();
                    continue;
                }
                // Moved away and not yet recreated: keep reading the old file (a writer may
                // still finish a batch there) until the new one appears.
                Ok(_) | Err(_) => {}
            }
        }
        std::thread::sleep(poll);
    }
}

/// `tail -` reads stdin to its end and prints the last lines; `tail -f -` prints every
/// matching line as it arrives.
fn from_stdin(args: &TailArgs, filter: &Filter) -> Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = stdout();
    let mut problems = Problems::new("<stdin>".into(), None);
    let mut last: VecDeque<String> = VecDeque::with_capacity(args.lines.min(4096));
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Runtime(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            break;
        }
        match render(&line, filter) {
            Line::Show(text) if args.follow => {
                writeln!(out, "{text}")?;
                out.flush()?;
            }
            Line::Show(text) => {
                if last.len() == args.lines {
                    last.pop_front();
                }
                if args.lines > 0 {
                    last.push_back(text);
                }
            }
            other => problems.note(&other, None),
        }
    }
    problems.finish();
    for text in &last {
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    if !args.follow && last.is_empty() {
        return Err(Failure::NoMatch("no calls matched".into()));
    }
    Ok(())
}
