//! The request handler: recording, script matching and routing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::RecordedRequest;
use crate::respond;
use crate::script::{Endpoint, Outcome, Script};
use crate::{chat, embeddings};

/// Largest request body accepted.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Longest raw (non-JSON) body kept in a [`RecordedRequest`].
const MAX_RAW_BODY: usize = 4096;

/// State shared by the handler and the [`MockServer`](crate::MockServer) handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    chat_seq: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    scripts: VecDeque<Script>,
    requests: Vec<RecordedRequest>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, script: Script) {
        self.lock().scripts.push_back(script);
    }

    pub(crate) fn clear_scripts(&self) {
        self.lock().scripts.clear();
    }

    pub(crate) fn pending(&self) -> Vec<Script> {
        self.lock().scripts.iter().cloned().collect()
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub(crate) fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Records a request and, for an API endpoint, takes the first queued
    /// script that matches it. Returns the request's sequence number and the script.
    fn record(
        &self,
        mut request: RecordedRequest,
        endpoint: Option<Endpoint>,
    ) -> (u64, Option<Script>) {
        let mut inner = self.lock();
        let script = endpoint.and_then(|target| {
            let pos = inner.scripts.iter().position(|s| s.endpoint.accepts(target))?;
            inner.scripts.remove(pos)
        });
        let seq = inner.requests.len() as u64 + 1;
        request.seq = seq;
        request.script = script.clone();
        inner.requests.push(request);
        (seq, script)
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn sleep(d: Option<Duration>) {
    if let Some(d) = d.filter(|d| !d.is_zero()) {
        tokio::time::sleep(d).await;
    }
}

/// The one handler behind every path.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return respond::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large or unreadable.",
                "invalid_request_error",
                None,
                None,
            );
        }
    };
    let path = parts.uri.path().to_owned();
    if let Some(rest) = path.strip_prefix("/__mock/") {
        return control(&shared, &parts.method, rest, &bytes);
    }

    let parsed: Option<Result<Value, serde_json::Error>> =
        (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes));
    let endpoint = match (&parts.method, path.as_str()) {
        (&Method::POST, "/v1/chat/completions") => Some(Endpoint::Chat),
        (&Method::POST, "/v1/embeddings") => Some(Endpoint::Embeddings),
        _ => None,
    };
    let mut header_names: Vec<String> =
        parts.headers.keys().map(|k| k.as_str().to_owned()).collect();
    header_names.dedup();
    let raw_body = match &parsed {
        Some(Err(_)) => {
            let end = (0..=bytes.len().min(MAX_RAW_BODY))
                .rev()
                .find(|&i| std::str::from_utf8(&bytes[..i]).is_ok())
                .unwrap_or(0);
            Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
        }
        _ => None,
    };
    let record = RecordedRequest {
        seq: 0,
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        header_names,
        body: match &parsed {
            Some(Ok(v)) => v.clone(),
            _ => Value::Null,
        },
        raw_body,
        script: None,
    };
    let (seq, script) = shared.record(record, endpoint);
    let mut res = api(&shared, endpoint, &parts.method, &path, parsed, script).await;
    if let Ok(v) = HeaderValue::from_str(&format!("req_mock_{seq}")) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// `/v1/...` and unknown paths.
async fn api(
    shared: &Shared,
    endpoint: Option<Endpoint>,
    method: &Method,
    path: &str,
    parsed: Option<Result<Value, serde_json::Error>>,
    script: Option<Script>,
) -> Response<Body> {
    let Some(endpoint) = endpoint else {
        return other(method, path);
    };
    let script = script.unwrap_or_default();
    if let Outcome::HttpError(e) = &script.outcome {
        sleep(script.delay).await;
        return respond::scripted_error(e);
    }
    let body = match parsed {
        Some(Ok(v)) => v,
        _ => {
            sleep(script.delay).await;
            return respond::bad_request(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
                None,
                None,
            );
        }
    };
    match endpoint {
        Endpoint::Embeddings => {
            sleep(sum(script.delay, script.first_token_delay)).await;
            embeddings::respond(&body, &script.outcome)
        }
        _ => {
            let n = shared.chat_seq.fetch_add(1, Ordering::Relaxed) + 1;
            match chat::plan(&body, &script, n, unix_now()) {
                Err(invalid) => {
                    sleep(script.delay).await;
                    invalid.into_response()
                }
                Ok(reply) if reply.stream => {
                    sleep(script.delay).await;
                    reply.into_stream(&script.outcome, script.first_token_delay.unwrap_or_default())
                }
                Ok(reply) => {
                    sleep(sum(script.delay, script.first_token_delay)).await;
                    reply.into_response(&script.outcome)
                }
            }
        }
    }
}

fn sum(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or_default().saturating_add(b.unwrap_or_default())),
    }
}

/// The models listed by `GET /v1/models`: (id, created, owned_by).
const MODELS: [(&str, u64, &str); 6] = [
    ("gpt-4o-mini", 1_721_172_741, "system"),
    ("gpt-4o", 1_715_367_049, "system"),
    ("gpt-4.1-mini", 1_744_318_173, "system"),
    ("o3-mini", 1_737_146_383, "system"),
    ("text-embedding-3-small", 1_705_948_997, "system"),
    ("text-embedding-3-large", 1_705_953_180, "system"),
];

fn model_object(id: &str, created: u64, owned_by: &str) -> Value {
    json!({ "id": id, "object": "model", "created": created, "owned_by": owned_by })
}

/// Paths other than the two scripted endpoints.
fn other(method: &Method, path: &str) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/v1/models") => respond::json(
            StatusCode::OK,
            &json!({
                "object": "list",
                "data": MODELS.iter().map(|(id, c, o)| model_object(id, *c, o)).collect::<Vec<_>>(),
            }),
        ),
        (&Method::GET, p) if p.starts_with("/v1/models/") => {
            let id = &p["/v1/models/".len()..];
            match MODELS.iter().find(|(m, _, _)| *m == id) {
                Some((m, c, o)) => respond::json(StatusCode::OK, &model_object(m, *c, o)),
                None => respond::error(
                    StatusCode::NOT_FOUND,
                    &format!("The model '{id}' does not exist or you do not have access to it."),
                    "invalid_request_error",
                    Some("model"),
                    Some("model_not_found"),
                ),
            }
        }
        (_, "/v1/chat/completions" | "/v1/embeddings" | "/v1/models") => respond::error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Invalid method for URL ({method} {path})"),
            "invalid_request_error",
            None,
            None,
        ),
        _ => respond::error(
            StatusCode::NOT_FOUND,
            &format!("Invalid URL ({method} {path})"),
            "invalid_request_error",
            None,
            None,
        ),
    }
}

/// `/__mock/...`: the control endpoint (never recorded).
fn control(shared: &Shared, method: &Method, rest: &str, body: &Bytes) -> Response<Body> {
    let pending = |shared: &Shared| json!({ "pending": shared.pending().len() });
    match (method, rest) {
        (&Method::POST, "script") => {
            let value: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return respond::bad_request(&format!("invalid JSON: {e}"), None, None),
            };
            let items = match value {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut scripts = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match serde_json::from_value::<Script>(item) {
                    Ok(s) => scripts.push(s),
                    Err(e) => {
                        return respond::bad_request(
                            &format!("invalid script #{i}: {e}"),
                            None,
                            None,
                        );
                    }
                }
            }
            for s in scripts {
                shared.push(s);
            }
            respond::json(StatusCode::OK, &pending(shared))
        }
        (&Method::DELETE, "script") => {
            shared.clear_scripts();
            respond::json(StatusCode::OK, &pending(shared))
        }
        (&Method::GET, "script") => respond::json(
            StatusCode::OK,
            &json!({ "pending": shared.pending().len(), "scripts": shared.pending() }),
        ),
        (&Method::GET, "requests") => respond::json(
            StatusCode::OK,
            &serde_json::to_value(shared.requests()).unwrap_or(Value::Null),
        ),
        (&Method::DELETE, "requests") => {
            shared.clear_requests();
            respond::json(StatusCode::OK, &json!({ "requests": 0 }))
        }
        _ => respond::error(
            StatusCode::NOT_FOUND,
            &format!("Unknown control endpoint ({method} /__mock/{rest})"),
            "invalid_request_error",
            None,
            None,
        ),
    }
}
