//! A small annotated "support desk" that traces every LLM call it makes.
//!
//! ```text
//! cargo run --example quickstart                    # offline, against the bundled mock server
//! OPENAI_API_KEY=sk-... cargo run --example quickstart
//! OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_API_KEY=x \
//!     cargo run --example quickstart -- --model llama3.2
//! ```
//!
//! Without `OPENAI_API_KEY` the mock OpenAI-compatible server from `llm-trace-mock` is started
//! in-process on 127.0.0.1; with it, the calls go to `OPENAI_BASE_URL` (default: OpenAI).
//! Every `LLM_TRACE_*` variable is honoured (see the README).

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::io::Write;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use futures_util::StreamExt;
use llm_trace::openai::TracedClient;
use llm_trace::traced_llm;
use llm_trace_mock::{MockServer, Script};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

struct Ticket {
    id: u32,
    customer: &'static str,
    text: &'static str,
}

struct Desk {
    client: TracedClient,
    model: String,
    /// Present when running offline.
    mock: Option<MockServer>,
}

impl Desk {
    fn request(&self, system: &str, user: &str) -> Result<CreateChatCompletionRequest> {
        Ok(CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .temperature(0.2)
            .max_completion_tokens(200u32)
            .messages([
                ChatCompletionRequestSystemMessage::from(system).into(),
                ChatCompletionRequestUserMessage::from(user).into(),
            ])
            .build()?)
    }
}

/// Handles one ticket: classify it, look up related articles, draft a reply.
#[traced_llm(tags = ["support"], metadata(ticket = ticket.id, customer = ticket.customer))]
async fn handle_ticket(desk: &Desk, ticket: &Ticket) -> Result<String> {
    let category = classify_ticket(desk, ticket.text).await?;
    let articles = find_articles(desk, ticket.text).await?;
    let reply = draft_reply(desk, ticket.text, &category).await?;
    println!("  ticket #{} → {category} ({articles} related articles)", ticket.id);
    Ok(reply)
}

/// One short chat completion.
#[traced_llm(tags = ["classification"])]
async fn classify_ticket(desk: &Desk, text: &str) -> Result<String> {
    let request = desk.request(
        "Classify the ticket as one of: billing, shipping, account, other. Answer with one word.",
        text,
    )?;
    if let Some(mock) = &desk.mock {
        // The mock answers anything; script the one word a real model would say.
        let category = if text.contains("charged") { "billing" } else { "shipping" };
        mock.push(Script::reply(category));
    }
    let response = desk.client.chat().create(request).await?;
    let answer = response.choices[0].message.content.clone().unwrap_or_default();
    Ok(answer.split_whitespace().next().unwrap_or("other").to_lowercase())
}

/// An embeddings call.
#[traced_llm(tags = ["search"])]
async fn find_articles(desk: &Desk, text: &str) -> Result<usize> {
    let model = if desk.mock.is_some() || desk.model.starts_with("gpt") {
        "text-embedding-3-small".to_owned()
    } else {
        desk.model.clone() // OpenAI-compatible local servers often embed with the chat model
    };
    let request = CreateEmbeddingRequestArgs::default().model(model).input(text).build()?;
    match desk.client.embeddings().create(request).await {
        Ok(response) => Ok(response.data.len()),
        Err(e) => {
            println!("  (embeddings unavailable on this server: {e})");
            Ok(0)
        }
    }
}

/// A streamed reply, printed as it arrives.
#[traced_llm(tags = ["drafting"])]
async fn draft_reply(desk: &Desk, text: &str, category: &str) -> Result<String> {
    let request = desk.request(
        &format!("You are a friendly support agent. The ticket is about {category}. Reply in two sentences."),
        text,
    )?;
    let mut stream = desk.client.chat().create_stream(request).await?;
    let mut reply = String::new();
    print!("  draft: ");
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            if let Some(piece) = choice.delta.content {
                print!("{piece}");
                std::io::stdout().flush()?;
                reply.push_str(&piece);
            }
        }
    }
    println!();
    Ok(reply)
}

/// A call that fails: the model does not exist. The error is traced and handled.
#[traced_llm(tags = ["support", "escalation"])]
async fn escalate(desk: &Desk, ticket: &Ticket) -> Result<()> {
    if let Some(mock) = &desk.mock {
        mock.push(Script::http_error(404, "The model `gpt-does-not-exist` does not exist"));
    }
    let mut request = desk.request("Summarize for a human agent.", ticket.text)?;
    request.model = "gpt-does-not-exist".into();
    match desk.client.chat().create(request).await {
        Ok(_) => println!("  escalation summary written"),
        Err(e) => println!("  escalation failed as expected (and was traced): {e}"),
    }
    Ok(())
}

fn parse_model() -> Result<String> {
    let mut args = std::env::args().skip(1);
    let mut model = "gpt-4o-mini".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = args.next().ok_or("--model needs a model name")?,
            "-h" | "--help" => {
                println!("usage: cargo run --example quickstart [-- --model NAME]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; try --help").into()),
        }
    }
    Ok(model)
}

#[tokio::main]
async fn main() -> Result<()> {
    let model = parse_model()?;
    let config = llm_trace::Config::from_env()?;
    let log_path = config.log_path();
    let guard = llm_trace::init(config)?;

    let (openai_config, mock) = match std::env::var("OPENAI_API_KEY") {
        Ok(key) if !key.is_empty() => {
            let mut config = OpenAIConfig::new().with_api_key(key);
            if let Ok(base) = std::env::var("OPENAI_BASE_URL") {
                config = config.with_api_base(base);
            }
            println!("llm-trace quickstart: calling {} with {model}", config_base(&config));
            (config, None)
        }
        _ => {
            let mock = MockServer::start()?;
            println!(
                "llm-trace quickstart: no OPENAI_API_KEY, using the mock server at {}",
                mock.base_url()
            );
            (OpenAIConfig::new().with_api_base(mock.base_url()).with_api_key("sk-mock"), Some(mock))
        }
    };
    let client = TracedClient::new(async_openai::Client::with_config(openai_config));
    let desk = Desk { client, model, mock };

    let tickets = [
        Ticket { id: 1041, customer: "acme", text: "I was charged twice for my March invoice." },
        Ticket {
            id: 1042,
            customer: "globex",
            text: "My parcel has been stuck in transit for a week.",
        },
    ];
    for ticket in &tickets {
        handle_ticket(&desk, ticket).await?;
    }
    escalate(&desk, &tickets[0]).await?;

    println!();
    println!("{}", llm_trace::summary());
    drop(guard); // writes everything still queued
    println!("traces written to {}", log_path.display());
    Ok(())
}

fn config_base(config: &OpenAIConfig) -> String {
    use async_openai::config::Config;
    config.api_base().to_owned()
}
