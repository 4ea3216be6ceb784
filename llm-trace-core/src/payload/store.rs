//! Where payloads live: a local folder or an object store, behind `object_store`.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::{Config, Payloads};
use crate::error::Error;
use crate::trace::TraceId;

/// A payload store, opened from the configuration. Blocking methods: they run their own
/// small runtime, so they work from any thread (not from inside an async task, though: use
/// `spawn_blocking` there).
#[derive(Clone)]
pub struct PayloadStore {
    store: Arc<dyn ObjectStore>,
    /// The folder, for a local store (to set file modes).
    local: Option<PathBuf>,
    location: String,
    runtime: Arc<tokio::runtime::Runtime>,
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
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(Arc::new)
                .map_err(|e| Error::Sink {
                    sink: "payloads".into(),
                    message: format!("cannot start its runtime: {e}"),
                })
        };
        match &config.payloads {
            Payloads::Off => Ok(None),
            Payloads::Url(url) => {
                let store = open_url(url, &config.payload_options)?;
                Ok(Some(PayloadStore {
                    store,
                    local: None,
                    location: url.clone(),
                    runtime: runtime()?,
                }))
            }
            local => {
                let Some(dir) = local.local_dir(&config.dir) else { return Ok(None) };
                crate::sink::create_private_dir(&dir)
                    .map_err(|source| Error::Log { path: dir.clone(), source })?;
                let fs =
                    object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| {
                        Error::Sink {
                            sink: "payloads".into(),
                            message: format!("cannot use {} for payloads: {e}", dir.display()),
                        }
                    })?;
                Ok(Some(PayloadStore {
                    store: Arc::new(fs),
                    location: dir.display().to_string(),
                    local: Some(dir),
                    runtime: runtime()?,
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
        let path = ObjectPath::from(super::key(trace_id));
        let store = self.store.clone();
        let result = self.runtime.block_on(async move {
            match store.get(&path).await {
                Ok(found) => found.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        let bytes = result
            .map_err(|e| self.error(format!("cannot read the payload of {trace_id}: {e}")))?;
        match bytes {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.error(format!("the payload of {trace_id} is not JSON: {e}"))),
        }
    }

    /// Writes documents (key, JSON bytes), several at a time. Returns how many failed and the
    /// first error.
    pub(crate) fn put_all(&self, documents: Vec<(String, Vec<u8>)>) -> (usize, Option<String>) {
        use futures_util::StreamExt;
        const CONCURRENCY: usize = 8;
        let store = self.store.clone();
        let local = self.local.clone();
        self.runtime.block_on(async move {
            let results: Vec<Result<(), String>> = futures_util::stream::iter(documents)
                .map(|(key, bytes)| {
                    let store = store.clone();
                    let local = local.clone();
                    async move {
                        let path = ObjectPath::from(key.as_str());
                        store
                            .put(&path, PutPayload::from(bytes))
                            .await
                            .map_err(|e| format!("{key}: {e}"))?;
                        if let Some(dir) = local {
                            restrict(&dir.join(&key)).map_err(|e| format!("{key}: {e}"))?;
                        }
                        Ok(())
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            let failed = results.iter().filter(|r| r.is_err()).count();
            (failed, results.into_iter().find_map(Result::err))
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Sink { sink: format!("payloads at {}", self.location), message }
    }
}

/// Files are created 0600 (the folders are 0700 already, so no one else could read them
/// in between).
fn restrict(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let mut dir = path.parent();
        // object_store creates the date folders with the default mode: tighten them too.
        for _ in 0..3 {
            let Some(d) = dir else { break };
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))?;
            dir = d.parent();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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

fn open_url(url: &str, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>, Error> {
    let (bucket_url, prefix) = split_url(url);
    let scheme = url.split("://").next().unwrap_or_default();
    let store = cloud_store(scheme, bucket_url, options).map_err(|reason| Error::Config {
        setting: "LLM_TRACE_PAYLOADS",
        value: url.to_owned(),
        reason,
    })?;
    if prefix.is_empty() {
        Ok(store)
    } else {
        Ok(Arc::new(object_store::prefix::PrefixStore::new(store, prefix)))
    }
}

/// Builds a cloud store: settings from the usual environment variables (`AWS_*`, `GOOGLE_*`,
/// `AZURE_*`), then `options`, with bounded retries (a store that is down must not hold the
/// payload thread for minutes: object_store's default is 10 retries over 3 minutes).
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
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
        return Ok(Arc::new(store) as Arc<dyn ObjectStore>);
    }};
}

#[cfg_attr(not(any(feature = "s3", feature = "gcs", feature = "azure")), allow(unused_variables))]
fn cloud_store(
    scheme: &str,
    bucket_url: &str,
    options: &[(String, String)],
) -> Result<Arc<dyn ObjectStore>, String> {
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
    let feature = match scheme {
        "s3" => "s3",
        "gs" => "gcs",
        "az" | "azure" | "abfs" => "azure",
        other => {
            return Err(format!(
                "{other}:// is not a payload store: use a folder, s3://, gs:// or az://"
            ));
        }
    };
    Err(format!("{scheme}:// needs llm-trace's `{feature}` feature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        assert_eq!(split_url("s3://bucket/a/b/"), ("s3://bucket", "a/b"));
        assert_eq!(split_url("s3://bucket"), ("s3://bucket", ""));
        assert_eq!(split_url("gs://b/p"), ("gs://b", "p"));
    }
}
