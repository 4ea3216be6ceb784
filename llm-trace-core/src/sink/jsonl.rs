//! The JSON-lines log: one trace per line, appended to `traces.jsonl`.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Sink, SinkError};
use crate::config::Rotation;
use crate::error::Error;
use crate::trace::LlmTrace;

/// Writes are issued in chunks of about this size, each holding only whole lines.
const CHUNK_BYTES: usize = 256 * 1024;

/// Appends one JSON object per line to a file (created with mode 0600, its folder with 0700).
///
/// Each batch is serialized into a buffer and written with as few `write` calls as possible,
/// each holding only whole lines; the file is opened with `O_APPEND`, so lines from several
/// processes sharing one log never interleave within a line. If a write fails part way (disk
/// full), the next write starts on a new line, so at most the failed lines are lost and
/// readers skip the torn one.
///
/// ```
/// use llm_trace_core::{sink::JsonlSink, FinishReason, Tracer};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("traces.jsonl");
/// let tracer = Tracer::builder().sink(JsonlSink::open(&path)?).build()?;
/// tracer.call("openai", "chat", "gpt-4o-mini").finish(FinishReason::Stop);
/// tracer.flush();
/// let log = std::fs::read_to_string(&path)?;
/// assert_eq!(log.lines().count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Option<Rotation>,
    buf: Vec<u8>,
    /// The last write failed part way: the file may end in a torn line.
    torn: bool,
}

impl JsonlSink {
    /// Opens (creating if needed) the log at `path`. Fails now, with the path in the error,
    /// if the file cannot be created or opened for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<JsonlSink, Error> {
        let path = path.as_ref().to_path_buf();
        let log_error = |source| Error::Log { path: path.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .map_err(|source| Error::Log { path: dir.to_path_buf(), source })?;
        }
        let file = open_append(&path).map_err(log_error)?;
        let size = file.metadata().map_err(log_error)?.len();
        Ok(JsonlSink { path, file, size, rotation: None, buf: Vec::new(), torn: false })
    }

    /// The same sink, rotating the file by size.
    pub fn with_rotation(mut self, rotation: Rotation) -> JsonlSink {
        self.rotation = Some(rotation);
        self
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name of the `n`th rotated file: `traces.jsonl.1` is the most recent.
    pub fn rotated_path(path: &Path, n: usize) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn write_buffered(&mut self, upto: usize) -> io::Result<()> {
        if upto == 0 {
            return Ok(());
        }
        if self.torn {
            self.file.write_all(b"\n")?;
            self.size += 1;
            self.torn = false;
        }
        if let Err(e) = self.file.write_all(&self.buf[..upto]) {
            self.torn = true;
            self.buf.clear();
            // Whatever was written still counts towards rotation.
            self.size = self.file.metadata().map(|m| m.len()).unwrap_or(self.size);
            return Err(e);
        }
        self.size += upto as u64;
        self.buf.drain(..upto);
        Ok(())
    }

    fn rotate(&mut self, keep: usize) -> io::Result<()> {
        let oldest = Self::rotated_path(&self.path, keep);
        match std::fs::remove_file(&oldest) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..keep).rev() {
            let from = Self::rotated_path(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, Self::rotated_path(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, Self::rotated_path(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        self.torn = false;
        Ok(())
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("jsonl:{}", self.path.display()))
    }

    fn write(&mut self, batch: &[Box<LlmTrace>]) -> Result<(), SinkError> {
        self.buf.clear();
        for trace in batch {
            let line_start = self.buf.len();
            trace.write_json(&mut self.buf);
            self.buf.push(b'\n');
            if let Some(Rotation { max_bytes, keep }) = self.rotation {
                let would_be = self.size + self.buf.len() as u64;
                if would_be > max_bytes && self.size + line_start as u64 > 0 {
                    self.write_buffered(line_start)?;
                    self.rotate(keep)?;
                }
            }
            if self.buf.len() >= CHUNK_BYTES {
                self.write_buffered(self.buf.len())?;
            }
        }
        self.write_buffered(self.buf.len())?;
        if self.buf.capacity() > 4 * CHUNK_BYTES {
            self.buf = Vec::new();
        }
        Ok(())
    }

    fn shutdown(&mut self) -> Result<(), SinkError> {
        self.file.sync_data()?;
        Ok(())
    }
}

/// Creates `dir` and its parents; folders this creates get mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::vec_box)] // what the writer hands a sink: the traces in their boxes
    fn traces(n: usize) -> Vec<Box<LlmTrace>> {
        (0..n)
            .map(|i| {
                let mut t = LlmTrace::example();
                t.prompt_tokens = i as u64;
                Box::new(t)
            })
            .collect()
    }

    fn lines(path: &Path) -> Vec<LlmTrace> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn appends_one_line_per_trace_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/traces.jsonl");
        let mut sink = JsonlSink::open(&path).unwrap();
        sink.write(&traces(3)).unwrap();
        sink.write(&traces(2)).unwrap();
        let read = lines(&path);
        assert_eq!(read.iter().map(|t| t.prompt_tokens).collect::<Vec<_>>(), [0, 1, 2, 0, 1]);
        // A second sink on the same file appends after what is there.
        let mut again = JsonlSink::open(&path).unwrap();
        again.write(&traces(1)).unwrap();
        assert_eq!(lines(&path).len(), 6);
    }

    #[test]
    fn big_batches_are_written_in_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.jsonl");
        let mut sink = JsonlSink::open(&path).unwrap();
        sink.write(&traces(5_000)).unwrap();
        assert_eq!(lines(&path).len(), 5_000);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("logs");
        let path = folder.join("traces.jsonl");
        JsonlSink::open(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&folder), 0o700);
    }

    #[test]
    fn rotates_by_size_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.jsonl");
        let line_len = serde_json::to_vec(&traces(1)[0]).unwrap().len() as u64 + 1;
        let mut sink = JsonlSink::open(&path)
            .unwrap()
            .with_rotation(Rotation { max_bytes: line_len * 10, keep: 2 });
        for _ in 0..5 {
            sink.write(&traces(7)).unwrap();
        }
        // 35 lines, 10 per file: the current file holds 5, .1 and .2 hold 10 each, the rest
        // was rotated away.
        assert_eq!(lines(&path).len(), 5);
        assert_eq!(lines(&JsonlSink::rotated_path(&path, 1)).len(), 10);
        assert_eq!(lines(&JsonlSink::rotated_path(&path, 2)).len(), 10);
        assert!(!JsonlSink::rotated_path(&path, 3).exists());
        for n in [1, 2] {
            assert!(
                std::fs::metadata(JsonlSink::rotated_path(&path, n)).unwrap().len()
                    <= line_len * 10
            );
        }
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let err = JsonlSink::open(blocker.join("traces.jsonl")).unwrap_err().to_string();
        assert!(err.contains("not-a-folder"), "{err}");
        assert!(err.contains("LLM_TRACE_DIR"), "{err}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_an_error_and_the_next_write_starts_a_new_line() {
        let mut sink = JsonlSink::open("/dev/full").unwrap();
        assert!(sink.write(&traces(1)).is_err());
        assert!(sink.torn);
    }
}
