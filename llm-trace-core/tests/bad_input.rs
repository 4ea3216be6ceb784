//! Hostile input never panics: malformed price files, configuration values and environment
//! variables are clear errors naming the file or setting (or have a defined outcome); huge
//! prompts keep previews and payloads bounded; broken bytes in a log cost only their line;
//! multi-byte text is cut on character boundaries at every length; and nothing path-like gets
//! into a trace id or a payload key.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use llm_trace_core::pricing::{PriceError, PriceTable};
use llm_trace_core::reader::{LineProblem, LogReader};
use llm_trace_core::sink::{JsonlSink, MemorySink};
use llm_trace_core::trace::preview;
use llm_trace_core::{Config, ErrorKind, FinishReason, LlmTrace, TraceError, TraceId, Tracer};

// ---------------------------------------------------------------------------------------------
// Price files

/// Loads `json` as a price file named `hostile.json`; any error must name that file.
fn load(json: &str) -> Result<PriceTable, PriceError> {
    let result = PriceTable::from_json_str(json, "hostile.json");
    if let Err(e) = &result {
        assert!(e.to_string().contains("hostile.json"), "the error names the file: {e}");
    }
    result
}

fn own(models: &str) -> String {
    format!(r#"{{"checked": "2026-01-01", "models": {{{models}}}}}"#)
}

#[test]
fn deeply_nested_price_files_are_errors_not_stack_overflows() {
    for depth in [200, 10_000, 1_000_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(matches!(load(&arrays), Err(PriceError::Parse { .. })), "depth {depth}");
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert!(load(&objects).is_err(), "depth {depth}");
        let in_entry = own(&format!(
            r#""m": {{"input": {}1{}, "output": 1}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        ));
        assert!(load(&in_entry).is_err(), "depth {depth}");
        let litellm = format!(
            r#"{{"m": {{"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6, "x": {}0{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(load(&litellm).is_err(), "depth {depth}");
    }
}

#[test]
fn prices_that_are_not_finite_non_negative_numbers_are_errors_naming_the_model() {
    for value in [
        r#""NaN""#,
        r#""Infinity""#,
        r#""-Infinity""#,
        r#""1.5""#,
        "-1",
        "-1e-300",
        "null",
        "true",
        "[1]",
        r#"{"usd": 1}"#,
    ] {
        let json = own(&format!(r#""gpt-hostile": {{"input": {value}, "output": 1}}"#));
        let err = load(&json).expect_err(value);
        assert!(matches!(err, PriceError::Invalid { .. }), "{value}: {err:?}");
        assert!(err.to_string().contains("gpt-hostile"), "{value}: {err}");
    }
    // Not JSON at all.
    for value in ["NaN", "Infinity", "-Infinity", "0x10", "1e", "+1", ".5"] {
        let json = own(&format!(r#""gpt-hostile": {{"input": {value}, "output": 1}}"#));
        assert!(matches!(load(&json), Err(PriceError::Parse { .. })), "{value}");
    }
}

#[test]
fn huge_numbers_are_errors_or_finite_prices() {
    // Beyond f64: not JSON this parser accepts.
    assert!(load(&own(r#""m": {"input": 1e400, "output": 1}"#)).is_err());
    // Within f64: accepted as they are (finite).
    let table =
        load(&own(r#""m": {"input": 1.7e308, "output": 123456789012345678901234567890}"#)).unwrap();
    let price = table.resolve("m").unwrap().price;
    assert!(price.input.is_finite() && price.output.is_finite(), "{price:?}");
}

#[test]
fn a_litellm_per_token_price_that_overflows_per_million_tokens_is_an_error() {
    // 1e303 USD per token is 1e309 per million: beyond f64. It must not become an infinite
    // price (whose cost would poison every summary it is added to).
    for value in ["1e303", "1.7e308"] {
        let json = format!(
            r#"{{"gpt-hostile": {{"input_cost_per_token": {value}, "output_cost_per_token": 1e-6}}}}"#
        );
        match load(&json) {
            Err(err) => assert!(err.to_string().contains("gpt-hostile"), "{err}"),
            Ok(table) => {
                let price = table.resolve("gpt-hostile").unwrap().price;
                panic!("accepted as {price:?}");
            }
        }
    }
    // The smallest subnormal stays finite and non-negative.
    let json = r#"{"tiny": {"input_cost_per_token": 5e-324, "output_cost_per_token": 0}}"#;
    let price = *load(json).unwrap().resolve("tiny").unwrap().price;
    assert!(price.input.is_finite() && price.input >= 0.0, "{price:?}");
}

#[test]
fn a_ten_megabyte_price_file_loads_and_resolves_every_model() {
    let models: Vec<String> = (0..120_000)
        .map(|i| format!(r#""model-{i:06}-{}": {{"input": {i}, "output": 0.5}}"#, "x".repeat(40)))
        .collect();
    let json = own(&models.join(",\n"));
    assert!(json.len() > 10 << 20, "{} bytes", json.len());
    let table = load(&json).unwrap();
    assert_eq!(table.len(), 120_000);
    let key = format!("model-119999-{}", "x".repeat(40));
    assert_eq!(table.resolve(&key).unwrap().price.input, 119_999.0);
    // Ten megabytes of garbage: an error with a position.
    let garbage = "\u{1}".repeat(10 << 20);
    assert!(matches!(load(&garbage), Err(PriceError::Parse { line: 1, column: 1, .. })));
}

#[test]
fn model_ids_with_path_separators_are_plain_keys() {
    let table = load(&own(r#""../../etc/passwd": {"input": 1, "output": 1},
           "C:\\Windows\\system32": {"input": 2, "output": 2},
           "a/b/../c": {"input": 3, "output": 3}"#))
    .unwrap();
    assert_eq!(table.resolve("../../etc/passwd").unwrap().price.input, 1.0);
    assert_eq!(table.resolve("C:\\Windows\\system32").unwrap().price.input, 2.0);
    assert_eq!(table.resolve("a/b/../c").unwrap().price.input, 3.0);
    // The resolver only ever drops whole leading segments: nothing else is found by them.
    assert!(table.resolve("passwd").is_none());
    assert!(table.resolve("etc/passwd").is_none());
}

#[test]
fn duplicate_keys_are_errors_in_the_own_format_and_last_wins_in_litellm() {
    for json in [
        own(r#""m": {"input": 1, "output": 1}, "m": {"input": 2, "output": 2}"#),
        own(r#""m": {"input": 1, "output": 1}, "M": {"input": 2, "output": 2}"#),
        own(r#""m": {"input": 1, "input": 2, "output": 1}"#),
        r#"{"models": {}, "models": {}}"#.to_owned(),
        r#"{"checked": "2026-01-01", "checked": "2026-01-02", "models": {}}"#.to_owned(),
    ] {
        let err = load(&json).expect_err(&json);
        assert!(err.to_string().contains("twice"), "{err}");
    }
    let litellm = r#"{
        "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6},
        "M": {"input_cost_per_token": 2e-6, "output_cost_per_token": 2e-6}
    }"#;
    assert_eq!(load(litellm).unwrap().resolve("m").unwrap().price.input, 2.0);
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let json = format!("\u{feff}{}", own(r#""m": {"input": 1, "output": 2}"#));
    let table = load(&json).expect("editors on Windows write a BOM");
    assert_eq!(table.resolve("m").unwrap().price.output, 2.0);
}

#[test]
fn empty_and_non_object_files_are_clear_errors() {
    for json in ["", "   \n\t ", "\u{feff}"] {
        let err = load(json).expect_err(json);
        assert!(matches!(err, PriceError::Parse { line: 1 | 2, .. }), "{json:?}: {err:?}");
    }
    for json in ["[]", "42", "null", "\"prices\"", "{}", r#"{"gpt-4o": 1}"#] {
        assert!(matches!(load(json), Err(PriceError::UnknownFormat { .. })), "{json}");
    }
    for json in [r#"{"models": []}"#, r#"{"models": {"": {"input": 1, "output": 1}}}"#] {
        assert!(matches!(load(json), Err(PriceError::Invalid { .. })), "{json}");
    }
}

#[test]
fn unreadable_price_files_are_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let not_utf8 = dir.path().join("latin1.json");
    std::fs::write(&not_utf8, b"{\"models\": {\"caf\xe9\": {\"input\": 1, \"output\": 1}}}")
        .unwrap();
    for path in [not_utf8.as_path(), dir.path(), &dir.path().join("missing.json")] {
        let err = PriceTable::from_file(path).unwrap_err();
        assert!(matches!(err, PriceError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
    // Through the configuration: the tracer does not start, and says why.
    let mut config = Config::default();
    config.prices = Some(not_utf8.clone());
    let err = Tracer::builder().config(config).build().unwrap_err().to_string();
    assert!(err.contains("latin1.json"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Configuration values and environment variables

const VARIABLES: &[&str] = &[
    "LLM_TRACE_DIR",
    "LLM_TRACE_SESSION",
    "LLM_TRACE_PAYLOADS",
    "LLM_TRACE_PREVIEW_CHARS",
    "LLM_TRACE_SAMPLE_RATE",
    "LLM_TRACE_PRICES",
    "LLM_TRACE_QUEUE",
    "LLM_TRACE_OVERFLOW",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_SERVICE_NAME",
];

fn from(vars: &[(&str, &str)]) -> Result<Config, llm_trace_core::Error> {
    let vars: HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_vars(|name| vars.get(name).cloned())
}

#[test]
fn empty_or_blank_variables_are_ignored() {
    for var in VARIABLES {
        for value in ["", " ", "\t\n", "\u{3000}"] {
            // U+3000 is Unicode white space: trimmed like ASCII blanks.
            assert_eq!(from(&[(var, value)]).unwrap(), Config::default(), "{var}={value:?}");
        }
    }
}

#[test]
fn bad_numbers_are_errors_naming_the_variable() {
    let cases: &[(&str, &[&str])] = &[
        (
            "LLM_TRACE_PREVIEW_CHARS",
            &["-1", "1.5", "1e3", "0x10", "99999999999999999999999", "18446744073709551615", "½"],
        ),
        (
            "LLM_TRACE_SAMPLE_RATE",
            &["-0.1", "1.0000001", "1e400", "-1e400", "inf", "NaN", "0,5", "50%", "1/2"],
        ),
        ("LLM_TRACE_QUEUE", &["0", "-1", "1e6", "99999999999999999999999", "1000000000000"]),
        ("LLM_TRACE_OVERFLOW", &["WAIT", "Drop", "block", "wait,drop"]),
        ("LLM_TRACE_PAYLOADS", &["s3://", "ftp://host/x", "http://example.invalid/x"]),
        ("OTEL_EXPORTER_OTLP_HEADERS", &["=v", "k", "k=%", "k=%G0", "k=%ff"]),
    ];
    for (var, values) in cases {
        for value in *values {
            let err = from(&[(var, value)]).expect_err(&format!("{var}={value}")).to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
        }
    }
}

#[test]
fn values_at_the_edges_of_their_range_are_accepted() {
    let config = from(&[
        ("LLM_TRACE_SAMPLE_RATE", " -0 "),
        ("LLM_TRACE_PREVIEW_CHARS", "0"),
        ("LLM_TRACE_QUEUE", "1"),
        ("LLM_TRACE_OVERFLOW", " drop "),
    ])
    .unwrap();
    assert_eq!((config.sample_rate, config.preview_chars, config.queue_capacity), (0.0, 0, 1));
    let tracer = Tracer::builder().config(config).build().unwrap();
    tracer.call("openai", "chat", "m").finish(FinishReason::Stop);
    tracer.flush().unwrap();
}

#[test]
fn capacities_and_lengths_too_large_to_allocate_are_errors_not_aborts() {
    // A bounded queue allocates its capacity up front: a huge one would abort the process
    // (allocation failure) or panic when the tracer starts.
    let mut config = Config::default();
    config.queue_capacity = usize::MAX;
    let err = Tracer::builder().config(config).build().unwrap_err().to_string();
    assert!(err.contains("queue_capacity"), "{err}");
    // preview_chars + the redaction margin must not overflow on every call.
    let mut config = Config::default();
    config.preview_chars = usize::MAX;
    let err = Tracer::builder().config(config).build().unwrap_err().to_string();
    assert!(err.contains("preview_chars"), "{err}");
}

#[test]
fn long_and_odd_strings_are_kept_as_given() {
    let session = "s".repeat(1 << 20);
    let config = from(&[
        ("LLM_TRACE_SESSION", &session),
        ("OTEL_SERVICE_NAME", "svc\u{0}name\n"),
        ("LLM_TRACE_PAYLOADS", "OFF"),
    ])
    .unwrap();
    assert_eq!(config.session_id.as_deref(), Some(session.as_str()));
    assert_eq!(config.otlp.service_name.as_deref(), Some("svc\u{0}name"));
    // `off` in any case turns payloads off; anything else without a scheme is a folder.
    assert_eq!(config.payloads, llm_trace_core::Payloads::Off);
}

#[test]
fn a_log_folder_that_cannot_exist_is_an_error_at_startup() {
    for dir in ["nul\u{0}byte", "/proc/self/no-such-folder/x"] {
        let config = from(&[("LLM_TRACE_DIR", dir)]).unwrap();
        let err = Tracer::new(config).unwrap_err().to_string();
        assert!(err.contains("LLM_TRACE_DIR"), "{dir:?}: {err}");
    }
}

#[cfg(feature = "otlp")]
#[test]
fn an_endpoint_that_is_not_a_url_is_an_error_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    for endpoint in ["not a url", "http://[::1", "ftp://127.0.0.1:4318"] {
        let mut config = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)]).unwrap();
        config.dir = dir.path().to_path_buf();
        config.payloads = llm_trace_core::Payloads::Off;
        assert!(Tracer::new(config).is_err(), "{endpoint}");
    }
}

/// `Config::from_vars` takes `String`s and so cannot carry non-UTF-8 values; `from_env` reads
/// the real environment: paths exactly as the OS gives them, other values with invalid bytes
/// replaced by U+FFFD. Checked in a child process (setting this process's environment is
/// unsafe while other test threads run).
#[cfg(unix)]
#[test]
fn non_utf8_environment_values_keep_paths_exact_and_errors_still_name_the_variable() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    for (mode, var, value) in [
        ("number", "LLM_TRACE_PREVIEW_CHARS", &b"12\xff"[..]),
        ("folder", "LLM_TRACE_DIR", &b"/tmp/llm-\xfftraces"[..]),
    ] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["helper_child_reads_the_environment", "--exact", "--nocapture"])
            .env("LLM_TRACE_BAD_INPUT_CHILD", mode)
            .env(var, OsStr::from_bytes(value))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{mode}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "{mode}");
    }
}

/// The child side of the previous test; does nothing in a normal run.
#[test]
fn helper_child_reads_the_environment() {
    match std::env::var("LLM_TRACE_BAD_INPUT_CHILD").as_deref() {
        Ok("number") => {
            let err = Config::from_env().unwrap_err().to_string();
            assert!(err.contains("LLM_TRACE_PREVIEW_CHARS"), "{err}");
            assert!(err.contains('\u{fffd}'), "{err}");
        }
        Ok("folder") => {
            use std::os::unix::ffi::OsStrExt;
            let config = Config::from_env().unwrap();
            assert_eq!(config.dir.as_os_str().as_bytes(), b"/tmp/llm-\xfftraces");
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Huge prompts

fn tracer_with(config: Config) -> (Tracer, MemorySink) {
    let memory = MemorySink::new();
    let tracer = Tracer::builder().config(config).sink(memory.clone()).build().unwrap();
    (tracer, memory)
}

#[test]
fn a_ten_megabyte_prompt_and_answer_keep_previews_bounded() {
    let huge = "lorem ipsum dolor sit amet ".repeat(400_000); // 10.8 MB
    for preview_chars in [0, 1, 200, 5_000] {
        let mut config = Config::default();
        config.preview_chars = preview_chars;
        let (tracer, memory) = tracer_with(config);
        let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
        call.input(&huge).output(&huge);
        call.finish(FinishReason::Stop);
        let mut streamed = tracer.call("openai", "chat", "gpt-4o-mini");
        streamed.input(&huge);
        for chunk in huge.as_bytes().chunks(1 << 10) {
            streamed.append_output(std::str::from_utf8(chunk).unwrap());
        }
        streamed.finish(FinishReason::Stop);
        tracer.flush().unwrap();
        for t in memory.take() {
            for text in [&t.input_preview, &t.output_preview] {
                assert!(text.chars().count() <= preview_chars + 1, "{preview_chars}");
                let kept = text.strip_suffix('…').unwrap_or_else(|| {
                    panic!("{preview_chars}: a cut is marked: {:?}", &text[..text.len().min(80)])
                });
                assert!(huge.starts_with(kept));
                assert_eq!(kept.chars().count(), preview_chars);
            }
            let line = serde_json::to_string(&t).unwrap();
            assert!(line.len() < 4 * preview_chars + 4096, "{} bytes", line.len());
        }
    }
}

#[test]
fn a_ten_megabyte_error_message_is_cut() {
    let (tracer, memory) = tracer_with(Config::default());
    let page = "<html>".repeat(2_000_000);
    tracer.call("openai", "chat", "gpt-4o-mini").fail(TraceError::new(ErrorKind::Server, page));
    tracer.flush().unwrap();
    let t = memory.take().remove(0);
    assert!(t.error.unwrap().message.chars().count() <= 501);
}

#[cfg(feature = "payloads")]
#[test]
fn a_ten_megabyte_payload_is_cut_to_payload_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.dir = dir.path().to_path_buf();
    config.payload_max_bytes = 64 << 10;
    let tracer = Tracer::new(config.clone()).unwrap();
    let huge = "é and 日本語 and 😀 ".repeat(500_000); // ~10 MB of multi-byte text
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.request_payload(&serde_json::json!({"messages": [{"role": "user", "content": huge}]}));
    call.response_payload(&serde_json::json!({"choices": [{"message": {"content": "ok"}}]}));
    let id = call.trace_id().unwrap();
    call.finish(FinishReason::Stop);
    tracer.flush().unwrap();

    let store = llm_trace_core::payload::PayloadStore::open(&config).unwrap().unwrap();
    let payload = store.fetch(&id).unwrap().unwrap();
    let request = payload["request"].as_str().expect("a cut request is kept as text");
    assert!(request.len() <= 64 << 10, "{} bytes", request.len());
    assert!(request.len() > 60 << 10);
    assert!(request.starts_with(r#"{"messages":[{"content":"é and 日本語"#), "{}", &request[..40]);
    let original = payload["truncated"]["request_original_bytes"].as_u64().unwrap();
    assert!(original > 10 << 20, "{original}");
    assert_eq!(payload["response"]["choices"][0]["message"]["content"], "ok");
    let file = dir.path().join("payloads").join(llm_trace_core::payload::key(&id));
    assert!(std::fs::metadata(file).unwrap().len() < 80 << 10);
}

// ---------------------------------------------------------------------------------------------
// Broken bytes in a log

#[test]
fn non_utf8_and_junk_bytes_in_a_real_log_cost_only_their_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.jsonl");
    let tracer = Tracer::builder().sink(JsonlSink::open(&path).unwrap()).build().unwrap();
    for i in 0..20u64 {
        let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
        call.input(&format!("prompt {i} ünïcödé 😀"));
        call.usage(llm_trace_core::Usage::new(i, 1));
        call.finish(FinishReason::Stop);
    }
    tracer.shutdown(Duration::from_secs(5));

    let text = std::fs::read(&path).unwrap();
    let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(lines.pop().as_deref(), Some(&[][..]), "the log ends with a newline");
    // Line 5 (prompt_tokens 4): one byte of its 😀 becomes invalid UTF-8.
    let emoji = lines[4].windows(4).position(|w| w == "😀".as_bytes()).unwrap();
    lines[4][emoji + 1] = 0xff;
    // Junk lines between records, and a torn, non-UTF-8 tail.
    lines.insert(10, vec![0xc3, 0x28, b'{', 0xa0, 0xa1]);
    lines.insert(11, b"\x00\x00\x00".to_vec());
    let mut damaged = lines.join(&b"\n"[..]);
    damaged.extend_from_slice(b"\n{\"schema\":1,\"trace_id\":\"\xe2\x82");

    let items: Vec<_> = LogReader::new(damaged.as_slice()).collect();
    let ok: Vec<u64> = items.iter().flatten().map(|t| t.prompt_tokens).collect();
    assert_eq!(ok, (0..20).filter(|i| *i != 4).collect::<Vec<u64>>(), "every other line kept");
    let problems: Vec<(usize, LineProblem)> = items
        .iter()
        .filter_map(|i| i.as_ref().err())
        .map(|e| (e.line, e.problem.clone()))
        .collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert_eq!(problems[0], (5, LineProblem::NotUtf8));
    assert_eq!(problems[1], (11, LineProblem::NotUtf8));
    assert!(matches!(problems[2], (12, LineProblem::Malformed(_))), "{problems:?}");
    assert_eq!(problems[3], (23, LineProblem::Torn));
}

// ---------------------------------------------------------------------------------------------
// Multi-byte text at every cut

/// Every UTF-8 width, combining marks, emoji ZWJ sequences, flags, variation selectors,
/// right-to-left text, a NUL and a BOM.
const MIXED: &str = "a\u{0}é\u{feff}日本語😀 e\u{301}\u{302} 👩\u{200d}👩\u{200d}👧\u{200d}👦 🇫🇷🇯🇵 \
                     ☺\u{fe0f} שָׁלוֹם مرحبا 𝄞 Z\u{36b}\u{33f}\u{36b}A\u{311}L\u{314}G\u{308}O ";

#[test]
fn previews_of_multibyte_text_are_prefixes_at_every_length() {
    let text = MIXED.repeat(6);
    let total = text.chars().count();
    assert!(total > 300);
    for max in 0..=300 {
        let cut = preview(&text, max);
        let kept = cut.strip_suffix('…').unwrap_or(&cut);
        assert!(text.starts_with(kept), "{max}");
        assert_eq!(kept.chars().count(), max.min(total), "{max}");
        assert_eq!(cut.ends_with('…'), max < total, "{max}");
        // Also at every length on text shorter than the cut.
        let short: String = text.chars().take(max / 2).collect();
        assert_eq!(preview(&short, max), short);
    }
}

#[test]
fn recorded_previews_of_multibyte_text_are_prefixes_at_every_preview_length() {
    let text = MIXED.repeat(6);
    for preview_chars in 0..=300 {
        let mut config = Config::default();
        config.preview_chars = preview_chars;
        let (tracer, memory) = tracer_with(config);
        let mut call = tracer.call("openai", "chat", "m");
        call.input(&text);
        for c in text.chars() {
            call.append_output(c.encode_utf8(&mut [0; 4]));
        }
        call.finish(FinishReason::Stop);
        tracer.flush().unwrap();
        let t: LlmTrace = memory.take().remove(0);
        for shown in [&t.input_preview, &t.output_preview] {
            let kept = shown.strip_suffix('…').unwrap_or(shown);
            assert!(text.starts_with(kept), "{preview_chars}: {shown:?}");
            assert_eq!(kept.chars().count(), preview_chars, "{preview_chars}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trace ids and payload keys

#[test]
fn path_like_and_malformed_trace_ids_are_rejected() {
    let id = TraceId::new().to_string();
    let hostile = [
        "../../etc/passwd".to_owned(),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/etc/passwd".to_owned(),
        "..\\..\\windows\\system32".to_owned(),
        format!("../{}", &id[3..]),
        format!("{}/..", &id[..33]),
        format!("{}/x", &id[..34]),
        format!("{}\u{0}", &id[..35]),
        format!("{} ", &id[..35]),
        format!(" {id}"),
        format!("{id}\n"),
        format!("{{{id}}}"),
        format!("urn:uuid:{id}"),
        id.replace('-', ""),
        id.replace('-', "/"),
        id.replace('-', "."),
        "0".repeat(36),
        "é".repeat(18),
        String::new(),
    ];
    for text in &hostile {
        let err = text.parse::<TraceId>().expect_err(text);
        assert!(err.to_string().contains("not a trace id"), "{err}");
        // And from a log line.
        let mut record = serde_json::to_value(LlmTrace::example()).unwrap();
        record["trace_id"] = text.clone().into();
        let line = format!("{record}\n");
        let item = LogReader::new(line.as_bytes()).next().unwrap();
        assert!(matches!(item.unwrap_err().problem, LineProblem::Malformed(_)), "{text:?}");
    }
    // Upper case is the same id, written back in lower case.
    let upper: TraceId = id.to_uppercase().parse().unwrap();
    assert_eq!(upper.to_string(), id);
}

fn assert_payload_key_shape(id: &TraceId) {
    let key = llm_trace_core::payload::key(id);
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 4, "{key}");
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    assert!(digits(parts[0], 4) && digits(parts[1], 2) && digits(parts[2], 2), "{key}");
    assert_eq!(parts[3], format!("{id}.json"), "{key}");
    assert!(!key.contains(".."), "{key}");
}

#[test]
fn payload_keys_are_always_yyyy_mm_dd_uuid_json() {
    for id in [
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF",
        "e3b0c442-98fc-4c14-9afb-f4c8996fb924", // a v4 id: random "timestamp" bits
        "01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f",
    ] {
        assert_payload_key_shape(&id.parse().unwrap());
    }
    for _ in 0..10_000 {
        let id: TraceId = uuid_from(fastrand_u128()).parse().unwrap();
        assert_payload_key_shape(&id);
    }
    assert_payload_key_shape(&TraceId::new());
}

fn uuid_from(bits: u128) -> String {
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A quick xorshift, so the test needs no random-number crate.
fn fastrand_u128() -> u128 {
    use std::cell::Cell;
    thread_local!(static STATE: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) });
    let next = || {
        STATE.with(|s| {
            let mut x = s.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.set(x);
            x
        })
    };
    (u128::from(next()) << 64) | u128::from(next())
}

#[test]
fn writing_a_hostile_log_line_by_hand_cannot_name_a_payload_outside_the_store() {
    // A payload key in a log line is only ever used as written by llm-trace; a reader that
    // wants the payload must go through the trace id. Check that an id-derived key never
    // escapes the store's folder, whatever the log says.
    let mut record = serde_json::to_value(LlmTrace::example()).unwrap();
    record["payload"] = "../../../../etc/passwd".into();
    let trace: LlmTrace = serde_json::from_value(record).unwrap();
    let key = llm_trace_core::payload::key(&trace.trace_id);
    assert!(!key.contains(".."));
    let mut out = Vec::new();
    writeln!(out, "{}", serde_json::to_string(&trace).unwrap()).unwrap();
    assert!(LogReader::new(out.as_slice()).next().unwrap().is_ok());
}
