//! Where payloads live: a local folder (plain files), or an object store through
//! `object_store` (features `s3`, `gcs`, `azure`).

use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(feature = "cloud")]
use std::sync::Arc;

use crate::config::{Config, Payloads};
use crate::error::Error;
use crate::trace::TraceId;

/// A payload store, opened from the configuration. Its methods block (an object store runs
/// its own small runtime), so call them from any thread but not from inside an async task:
/// use `spawn_blocking` there.
#[derive(Clone)]
pub struct PayloadStore {
    backend: Backend,
    location: String,
}

#[derive(Clone)]
enum Backend {
    /// Plain files, written directly: created 0600 from the start (no window with wider
    /// permissions), no runtime, no extra copy.
    Local(PathBuf),
    #[cfg(feature = "cloud")]
    Object(Arc<dyn object_store::ObjectStore>, Arc<tokio::runtime::Runtime>),
}

impl std::fmt::Debug for PayloadStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadStore").field("location", &self.location).finish_non_exhaustive()
    }
}

impl PayloadStore {
    /// The store `config.payloads` names, or `None` when payloads are off. A local folder is
    /// created (0700) now, so a bad one is an error at startup, naming it.
    pub fn open(config: &Config) -> Result<Option<PayloadStore>, Error> {
        match &config.payloads {
            Payloads::Off => Ok(None),
            Payloads::Url(url) => {
                let backend = open_url(url, &config.payload_options)?;
                Ok(Some(PayloadStore { backend, location: url.clone() }))
            }
            local => {
                let Some(dir) = local.local_dir(&config.dir) else { return Ok(None) };
                crate::sink::create_private_dir(&dir)
                    .map_err(|source| Error::Log { path: dir.clone(), source })?;
                Ok(Some(PayloadStore {
                    location: dir.display().to_string(),
                    backend: Backend::Local(dir),
                }))
            }
        }
    }

    /// Where the store is: a folder or a URL.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The payload of `trace_id`, or `None` if there is none.
    pub fn fetch(&self, trace_id: &TraceId) -> Result<Option<serde_json::Value>, Error> {
        let key = super::key(trace_id);
        let bytes = match &self.backend {
            Backend::Local(dir) => match std::fs::read(dir.join(&key)) {
                Ok(bytes) => Some(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(self.error(format!("cannot read the payload of {trace_id}: {e}")));
                }
            },
            #[cfg(feature = "cloud")]
            Backend::Object(store, runtime) => {
                use object_store::ObjectStoreExt;
                let path = object_store::path::Path::from(key);
                let found = runtime.block_on(async move {
                    match store.get(&path).await {
                        Ok(found) => found.bytes().await.map(|b| Some(b.to_vec())),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                });
                found.map_err(|e| {
                    self.error(format!("cannot read the payload of {trace_id}: {e}"))
                })?
            }
        };
        match bytes {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                self.error(if e.is_eof() {
                    // Renamed into place once complete, so only a crash (payloads are not
                    // fsynced) or someone else's tool leaves one cut short.
                    format!(
                        "the payload of {trace_id} is incomplete ({} bytes): its writing was \
                         cut short, by a crash perhaps",
                        bytes.len()
                    )
                } else {
                    format!("the payload of {trace_id} is not JSON: {e}")
                })
            }),
        }
    }

    /// Writes documents (key, JSON bytes); an object store gets several at a time. Returns
    /// how many failed and the first error.
    pub(crate) fn put_all(&self, documents: Vec<(String, Vec<u8>)>) -> (usize, Option<String>) {
        match &self.backend {
            Backend::Local(dir) => {
                // The date folder made last: most calls of a batch share one.
                let mut made: Option<PathBuf> = None;
                let mut failed = 0;
                let mut first = None;
                for (key, bytes) in documents {
                    if let Err(e) = write_local(dir, &key, &bytes, &mut made) {
                        failed += 1;
                        first.get_or_insert_with(|| format!("{key}: {e}"));
                    }
                }
                (failed, first)
            }
            #[cfg(feature = "cloud")]
            Backend::Object(store, runtime) => put_all_objects(store, runtime, documents),
        }
    }

    fn error(&self, message: String) -> Error {
        Error::Sink { sink: format!("payloads at {}", self.location), message }
    }
}

/// Writes `key` under `dir` atomically (a temporary file renamed into place, so a reader
/// never sees half a payload), 0600 in 0700 folders. `made` is the folder made last, not
/// made again.
fn write_local(
    dir: &Path,
    key: &str,
    bytes: &[u8],
    made: &mut Option<PathBuf>,
) -> std::io::Result<()> {
    let path = dir.join(key);
    if let Some(folder) = path.parent() {
        if made.as_deref() != Some(folder) {
            crate::sink::create_private_dir(folder)?;
            *made = Some(folder.to_path_buf());
        }
    }
    let mut temp = path.clone().into_os_string();
    temp.push(format!(".{:016x}.tmp", fastrand::u64(..)));
    let temp = PathBuf::from(temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| file.write_all(bytes));
    match written.and_then(|()| std::fs::rename(&temp, &path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

#[cfg(feature = "cloud")]
fn put_all_objects(
    store: &Arc<dyn object_store::ObjectStore>,
    runtime: &tokio::runtime::Runtime,
    documents: Vec<(String, Vec<u8>)>,
) -> (usize, Option<String>) {
    use futures_util::StreamExt;
    use object_store::{ObjectStoreExt, PutPayload};
    const CONCURRENCY: usize = 8;
    runtime.block_on(async move {
        let results: Vec<Result<(), String>> = futures_util::stream::iter(documents)
            .map(|(key, bytes)| {
                let store = store.clone();
                async move {
                    let path = object_store::path::Path::from(key.as_str());
                    store
                        .put(&path, PutPayload::from(bytes))
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("{key}: {e}"))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        (failed, results.into_iter().find_map(Result::err))
    })
}

/// Splits `scheme://bucket/prefix` into the bucket URL and the prefix.
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => {
            let cut = after_scheme + slash;
            (&url[..cut], url[cut + 1..].trim_matches('/'))
        }
        None => (url, ""),
    }
}

fn open_url(url: &str, options: &[(String, String)]) -> Result<Backend, Error> {
    let (bucket_url, prefix) = split_url(url);
    let scheme = url.split("://").next().unwrap_or_default();
    let bad =
        |reason| Error::Config { setting: "LLM_TRACE_PAYLOADS", value: url.to_owned(), reason };
    #[cfg(feature = "cloud")]
    {
        let store = cloud_store(scheme, bucket_url, options).map_err(bad)?;
        let store: Arc<dyn object_store::ObjectStore> = if prefix.is_empty() {
            store
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
                Error::Sink {
                    sink: "payloads".into(),
                    message: format!("cannot start its runtime: {e}"),
                }
            })?;
        Ok(Backend::Object(store, Arc::new(runtime)))
    }
    #[cfg(not(feature = "cloud"))]
    {
        let _ = (bucket_url, prefix, options);
        Err(bad(missing_feature(scheme)))
    }
}

/// Why `scheme://` cannot be used in this build.
fn missing_feature(scheme: &str) -> String {
    let feature = match scheme {
        "s3" => "s3",
        "gs" => "gcs",
        "az" | "azure" | "abfs" => "azure",
        other => {
            return format!(
                "{other}:// is not a payload store: use a folder, s3://, gs:// or az://"
            );
        }
    };
    format!("{scheme}:// needs llm-trace's `{feature}` feature")
}

/// Builds a cloud store: settings from the usual environment variables (`AWS_*`, `GOOGLE_*`,
/// `AZURE_*`), then `options`, with bounded retries (a store that is down must not hold the
/// payload thread for minutes: object_store's default is 10 retries over 3 minutes).
#[cfg(feature = "cloud")]
macro_rules! cloud_builder {
    ($builder:ty, $key:ty, $bucket_url:expr, $options:expr) => {{
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: std::time::Duration::from_millis(100),
                max_backoff: std::time::Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(15),
        };
        let mut builder = <$builder>::from_env().with_url($bucket_url).with_retry(retry);
        for (key, value) in $options {
            let key: $key = key.parse().map_err(|_| {
                format!("unknown object store option `{key}` (Config::payload_options)")
            })?;
            builder = builder.with_config(key, value.clone());
        }
        let store = builder.build().map_err(|e| e.to_string())?;
        return Ok(Arc::new(store) as Arc<dyn object_store::ObjectStore>);
    }};
}

#[cfg(feature = "cloud")]
fn cloud_store(
    scheme: &str,
    bucket_url: &str,
    options: &[(String, String)],
) -> Result<Arc<dyn object_store::ObjectStore>, String> {
    match scheme {
        #[cfg(feature = "s3")]
        "s3" => cloud_builder!(
            object_store::aws::AmazonS3Builder,
            object_store::aws::AmazonS3ConfigKey,
            bucket_url,
            options
        ),
        #[cfg(feature = "gcs")]
        "gs" => cloud_builder!(
            object_store::gcp::GoogleCloudStorageBuilder,
            object_store::gcp::GoogleConfigKey,
            bucket_url,
            options
        ),
        #[cfg(feature = "azure")]
        "az" | "azure" | "abfs" => cloud_builder!(
            object_store::azure::MicrosoftAzureBuilder,
            object_store::azure::AzureConfigKey,
            bucket_url,
            options
        ),
        _ => {}
    }
    Err(missing_feature(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_store(dir: &Path) -> PayloadStore {
        let config = Config { dir: dir.to_path_buf(), ..Config::default() };
        PayloadStore::open(&config).unwrap().expect("the local store is on by default")
    }

    #[test]
    fn a_payload_written_twice_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = local_store(dir.path());
        let id = TraceId::new();
        let key = crate::payload::key(&id);
        for n in [1, 2] {
            let (failed, error) =
                store.put_all(vec![(key.clone(), format!("{{\"n\":{n}}}").into())]);
            assert_eq!((failed, error), (0, None));
        }
        assert_eq!(store.fetch(&id).unwrap(), Some(serde_json::json!({"n": 2})));
        let folder = dir.path().join("payloads").join(&key).parent().unwrap().to_path_buf();
        let names: Vec<_> =
            std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_payload_cut_short_is_reported_as_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let store = local_store(dir.path());
        let (cut, garbled) = (TraceId::new(), TraceId::new());
        let (failed, _) = store.put_all(vec![
            (crate::payload::key(&cut), br#"{"request":{"model":"gpt-4o"#.to_vec()),
            (crate::payload::key(&garbled), b"{]".to_vec()),
        ]);
        assert_eq!(failed, 0);
        let message = store.fetch(&cut).unwrap_err().to_string();
        assert!(
            message.contains(&format!("the payload of {cut} is incomplete (27 bytes)")),
            "{message}"
        );
        let message = store.fetch(&garbled).unwrap_err().to_string();
        assert!(message.contains("is not JSON"), "{message}");
    }

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        assert_eq!(split_url("s3://bucket/a/b/"), ("s3://bucket", "a/b"));
        assert_eq!(split_url("s3://bucket"), ("s3://bucket", ""));
        assert_eq!(split_url("gs://b/p"), ("gs://b", "p"));
    }
}
