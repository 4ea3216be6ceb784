//! What the async-openai integration tests share: the same client untraced and traced on the
//! mock server (127.0.0.1), recording into memory.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use llm_trace::openai::TracedClient;
use llm_trace::sink::MemorySink;
use llm_trace::{LlmTrace, Tracer};
use llm_trace_mock::MockServer;

pub(crate) struct Fixture {
    pub(crate) server: MockServer,
    pub(crate) tracer: Tracer,
    pub(crate) memory: MemorySink,
    pub(crate) plain: Client<OpenAIConfig>,
    pub(crate) traced: TracedClient,
}

impl Fixture {
    /// Both clients with API key `key`, over `http` if given (else async-openai's own).
    pub(crate) fn new(key: &str, http: Option<reqwest::Client>) -> Fixture {
        let server = MockServer::start().unwrap();
        let memory = MemorySink::new();
        let tracer = Tracer::builder().sink(memory.clone()).build().unwrap();
        let config = OpenAIConfig::new().with_api_base(server.base_url()).with_api_key(key);
        let mut plain = Client::with_config(config);
        if let Some(http) = http {
            plain = plain.with_http_client(http);
        }
        let traced = TracedClient::new(plain.clone()).with_tracer(tracer.clone());
        Fixture { server, tracer, memory, plain, traced }
    }

    /// Every trace recorded so far (after a flush), taken.
    pub(crate) fn traces(&self) -> Vec<LlmTrace> {
        self.tracer.flush().unwrap();
        self.memory.take()
    }

    /// The one trace recorded so far; none was dropped or failed to write.
    pub(crate) fn only(&self) -> LlmTrace {
        let mut traces = self.traces();
        assert_eq!(traces.len(), 1, "exactly one trace: {traces:#?}");
        let stats = self.tracer.stats();
        assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
        traces.remove(0)
    }
}
