//! `errors`, `slow`, `show`, `tail` (and `tail -f`), `cost` and `prices`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{Call, known_calls, known_log, run, run_env, write_log};
use llm_trace_core::pricing::{PriceTable, TokenCounts};
use llm_trace_core::summary::format_cost;

fn p(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn errors_are_grouped_by_kind_and_function_with_the_latest_first() {
    let (dir, log) = known_log();
    let doc = run(dir.path(), &["errors", "--format", "json", p(&log)]).ok().json();
    assert_eq!((doc["calls"].as_u64(), doc["errors"].as_u64()), (Some(6), Some(2)));
    let groups = doc["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let rate_limit = groups.iter().find(|g| g["kind"] == "rate_limit").unwrap();
    assert_eq!(rate_limit["function"], "classify");
    assert_eq!(rate_limit["count"], 1);
    assert_eq!(rate_limit["share"], 0.5);
    assert_eq!(rate_limit["last_seen"], "2026-11-21T10:00:00.000Z");
    let examples = doc["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 2);
    assert_eq!(examples[0]["kind"], "timeout", "newest first");
    assert_eq!(examples[0]["status"], serde_json::Value::Null);
    assert_eq!(examples[1]["status"], 429);
    assert_eq!(examples[1]["message"], "Rate limit reached, retry in 1s");
    assert_eq!(examples[1]["model"], "gpt-4o-mini");
    let id = id_of_line(&log, 4);
    assert_eq!(examples[1]["trace_id"], id.as_str());

    let text = run(dir.path(), &["errors", "--examples", "1", p(&log)]).ok().stdout;
    assert!(text.starts_with("2 failed calls of 6 (33.3%)"), "{text}");
    assert!(
        text.contains("rate_limit") && text.contains("timeout") && text.contains("50.0%"),
        "{text}"
    );
    assert!(text.contains("latest 1 failures") && text.contains("request timed out"), "{text}");
    assert!(!text.contains(&id), "only one example: {text}");

    let none = run(dir.path(), &["errors", "--function", "summarize", p(&log)]);
    assert_eq!(none.code, 1, "no failed call matched");
    assert!(none.stderr.contains("no failed calls among 2 matching calls"), "{}", none.stderr);
}

#[test]
fn slow_lists_the_slowest_calls() {
    let (dir, log) = known_log();
    let doc = run(dir.path(), &["slow", "--top", "2", "--format", "json", p(&log)]).ok().json();
    assert_eq!(doc["calls"], 6);
    let slowest = doc["slowest"].as_array().unwrap();
    let latencies: Vec<f64> = slowest.iter().map(|c| c["latency_ms"].as_f64().unwrap()).collect();
    assert_eq!(latencies, [30_000.0, 1_000.0]);
    assert_eq!(slowest[0]["function"], "embed");
    assert_eq!(slowest[0]["error"], "timeout");
    assert_eq!(slowest[1]["trace_id"], id_of_line(&log, 2).as_str());
    let text = run(dir.path(), &["slow", p(&log)]).ok().stdout;
    let rows: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(rows.len(), 6, "{text}");
    assert!(rows[0].contains("30.00 s") && rows[0].contains("embed"), "{text}");
    assert!(rows[5].contains("20 ms"), "{text}");
    assert_eq!(run(dir.path(), &["slow", "--model", "nope", p(&log)]).code, 1);
}

#[test]
fn show_prints_every_field_of_one_trace() {
    let (dir, log) = known_log();
    let line = std::fs::read_to_string(&log).unwrap().lines().nth(2).unwrap().to_owned();
    let id = id_of_line(&log, 2);
    let text = run(dir.path(), &["show", &id, p(&log)]).ok().stdout;
    for expected in [
        format!("trace id           {id}"),
        "time               2026-11-21T09:00:00.000Z".into(),
        "function           summarize".into(),
        "module             support::triage".into(),
        "call path          summarize".into(),
        "model              gpt-4o".into(),
        "response model     gpt-4o-2024-08-06".into(),
        "tags               support, summarization".into(),
        "prompt tokens      3,000".into(),
        "completion         300".into(),
        format!("cost               {}", format_cost(0.05)),
        "latency            1.00 s".into(),
        "session            s2".into(),
        "error              -".into(),
        "input preview      My invoice is wrong".into(),
        "payload key        -".into(),
        "schema             1".into(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("payload            - (not stored for this call)"), "{text}");
    let json = run(dir.path(), &["show", &id, "--format", "json", p(&log)]).ok().json();
    assert_eq!(json, serde_json::from_str::<serde_json::Value>(&line).unwrap());
    // Upper case is the same id.
    assert_eq!(run(dir.path(), &["show", &id.to_uppercase(), p(&log)]).code, 0);
    // A failed call shows its error.
    let failed = run(dir.path(), &["show", &id_of_line(&log, 4), p(&log)]).ok().stdout;
    assert!(failed.contains("error              rate_limit (status 429)"), "{failed}");
    assert!(failed.contains("error message      Rate limit reached, retry in 1s"), "{failed}");
}

/// The trace id on line `i` (0-based) of `log`.
fn id_of_line(log: &std::path::Path, i: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().nth(i).unwrap()).unwrap();
    line["trace_id"].as_str().unwrap().to_owned()
}

#[test]
fn show_prints_the_full_payload_from_the_payload_store() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut config = llm_trace_core::Config::default();
    config.dir = logs.clone();
    let tracer = llm_trace_core::Tracer::new(config).unwrap();
    let mut call = tracer.call("openai", "chat", "gpt-4o-mini");
    call.request_payload(
        &serde_json::json!({"messages": [{"role": "user", "content": "full question text"}]}),
    );
    call.response_payload(
        &serde_json::json!({"choices": [{"message": {"content": "full answer text"}}]}),
    );
    let id = call.trace_id().unwrap().to_string();
    call.finish(llm_trace_core::FinishReason::Stop);
    let mut other = tracer.call("openai", "chat", "gpt-4o-mini");
    other.request_payload(&serde_json::json!({"messages": []}));
    let other_id = other.trace_id().unwrap().to_string();
    other.finish(llm_trace_core::FinishReason::Stop);
    tracer.flush().unwrap();

    // The payload store next to the named log folder.
    let text = run(dir.path(), &["show", &id, p(&logs)]).ok().stdout;
    assert!(text.contains("full question text") && text.contains("full answer text"), "{text}");
    assert!(
        text.contains(&format!(
            "payload            {}",
            llm_trace_core::payload::key(&id.parse().unwrap())
        )),
        "{text}"
    );
    // Or the one LLM_TRACE_PAYLOADS names.
    let elsewhere = dir.path().join("empty-store");
    let missing = run_env(
        dir.path(),
        &["show", &other_id, p(&logs)],
        &[("LLM_TRACE_PAYLOADS", p(&elsewhere))],
    );
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stdout.contains(&other_id), "the trace is still shown");
    assert!(missing.stderr.contains("not in the payload store"), "{}", missing.stderr);
    let off =
        run_env(dir.path(), &["show", &id, p(&logs)], &[("LLM_TRACE_PAYLOADS", "off")]).ok().stdout;
    assert!(off.contains("payloads are off"), "{off}");
}

#[test]
fn show_finds_the_trace_not_a_mention_of_its_id() {
    let (dir, log) = known_log();
    let calls = known_calls();
    let target = calls[3].trace();
    let id = target.trace_id.to_string();
    let mut mention = calls[0].trace();
    mention.input_preview = format!("see {id}");
    let text = format!(
        "{}\n{}\n",
        serde_json::to_string(&mention).unwrap(),
        serde_json::to_string(&target).unwrap()
    );
    std::fs::write(&log, text).unwrap();
    let out = run(dir.path(), &["show", &id, p(&log)]).ok().stdout;
    assert!(out.contains("model              local-llama"), "{out}");
    assert!(out.contains("cost               unpriced"), "{out}");
}

#[test]
fn show_rejects_what_is_not_a_trace_id_before_reading_anything() {
    let dir = tempfile::tempdir().unwrap();
    // No log exists: a usage error (2) proves the id was refused before any file was opened.
    for bad in [
        "../../etc/passwd",
        "/etc/passwd",
        "01936f3e",
        "01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f/../x",
        "",
    ] {
        let out = run(dir.path(), &["show", bad]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("not a trace id"), "{bad}: {}", out.stderr);
    }
    let (dir, log) = known_log();
    let unknown = run(dir.path(), &["show", "01936f3e-7c1a-7cc3-8a5e-3f1b2c4d5e6f", p(&log)]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("not found"), "{}", unknown.stderr);
}

#[test]
fn tail_prints_the_last_calls_one_line_each() {
    let (dir, log) = known_log();
    let out = run(dir.path(), &["tail", "-n", "2", p(&log)]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("2026-11-21 10:00:00  classify"), "{out}");
    assert!(lines[0].contains("error rate_limit 429: Rate limit reached"), "{out}");
    assert!(
        lines[1].starts_with("2026-11-22 08:00:00  embed") && lines[1].contains("30.00 s"),
        "{out}"
    );
    assert!(lines[1].contains("unpriced") && lines[1].contains("400→0 tok"), "{out}");

    let all = run(dir.path(), &["tail", p(&log)]).ok().stdout;
    assert_eq!(all.lines().count(), 6);
    let first = all.lines().next().unwrap();
    assert!(
        first.contains("classify")
            && first.contains("1,000→100 tok")
            && first.contains(&format_cost(0.01))
            && first.contains("stop"),
        "{first}"
    );
    let filtered = run(dir.path(), &["tail", "--function", "summarize", p(&log)]).ok().stdout;
    assert_eq!(filtered.lines().count(), 2);
    assert_eq!(run(dir.path(), &["tail", "--model", "nope", p(&log)]).code, 1);

    // From the rotated files too, and over a block boundary of the backwards reader.
    let many: Vec<Call> = (0..3000)
        .map(|i| {
            Call::new(
                if i % 2 == 0 { "even" } else { "odd" },
                "m",
                &format!("2026-11-20T10:{:02}:{:02}Z", i / 60 % 60, i % 60),
            )
        })
        .collect();
    write_log(&dir.path().join("traces.jsonl.1"), &many);
    let out = run(dir.path(), &["tail", "-n", "8", p(dir.path())]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines[0].contains("even") && lines[1].contains("odd"), "{out}");
    assert!(lines[7].contains("embed"), "{out}");
    let evens =
        run(dir.path(), &["tail", "-n", "1500", "--function", "even", p(dir.path())]).ok().stdout;
    assert_eq!(evens.lines().count(), 1500);
}

#[test]
fn tail_reports_a_torn_last_line() {
    let (dir, log) = known_log();
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"schema\":1,\"trace_id\":\"01");
    std::fs::write(&log, text).unwrap();
    let out = run(dir.path(), &["tail", "-n", "1", p(&log)]).ok();
    assert!(out.stdout.contains("embed"), "{}", out.stdout);
    assert!(out.stderr.contains(":7: skipped the incomplete last line"), "{}", out.stderr);
}

#[test]
fn tail_follow_prints_new_lines_and_survives_rotation_and_truncation() {
    let (dir, log) = known_log();
    let mut child =
        common::command(dir.path(), &["tail", "-f", "-n", "1", "--poll-ms", "20", p(&log)])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next =
        || rx.recv_timeout(Duration::from_secs(10)).expect("tail -f printed nothing within 10 s");
    assert!(next().contains("embed"));

    let append = |path: &std::path::Path, text: &str| {
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    // An appended line, written in two parts: nothing is printed until it is complete.
    let line = Call::new("appended", "m", "2026-11-23T10:00:00Z").line();
    let (head, rest) = line.split_at(40);
    append(&log, head);
    std::thread::sleep(Duration::from_millis(200));
    append(&log, &format!("{rest}\n"));
    assert!(next().contains("appended"));

    // Rotation: the file is renamed and a new one started.
    std::fs::rename(&log, dir.path().join("traces.jsonl.1")).unwrap();
    append(
        &dir.path().join("traces.jsonl.1"),
        &(Call::new("late_in_old", "m", "2026-11-23T10:00:01Z").line() + "\n"),
    );
    std::thread::sleep(Duration::from_millis(100));
    write_log(&log, &[Call::new("after_rotation", "m", "2026-11-23T11:00:00Z")]);
    let seen = [next(), next()];
    assert!(seen[0].contains("late_in_old"), "the rest of the old file first: {seen:?}");
    assert!(seen[1].contains("after_rotation"), "then the new file: {seen:?}");

    // Truncation in place: read again from the start.
    std::thread::sleep(Duration::from_millis(100));
    std::fs::OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    append(&log, &(Call::new("after_truncation", "m", "2026-11-23T12:00:00Z").line() + "\n"));
    assert!(next().contains("after_truncation"));

    // Filters apply while following.
    append(&log, "not json\n");
    append(&log, &(Call::new("last", "m", "2026-11-23T12:00:01Z").line() + "\n"));
    assert!(next().contains("last"));
    child.kill().unwrap();
    let _ = child.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("skipped a malformed line"), "{stderr}");
}

#[test]
fn cost_prices_a_call_like_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "cost",
        "gpt-4o-mini-2024-07-18",
        "--prompt-tokens",
        "1000",
        "--completion-tokens",
        "200",
        "--cached-tokens",
        "400",
    ];
    let expected = PriceTable::builtin()
        .cost("gpt-4o-mini-2024-07-18", &TokenCounts::new(1000, 200).with_cached(400))
        .unwrap();
    let text = run(dir.path(), &args).ok().stdout;
    assert!(text.contains("matched  gpt-4o-mini (openai)"), "{text}");
    assert!(text.contains("1,000 prompt (400 cached) + 200 completion"), "{text}");
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let out = run(dir.path(), &json_args).ok();
    assert_eq!(
        out.stdout.trim(),
        format!(
            "{{\"model\":\"gpt-4o-mini-2024-07-18\",\"matched\":\"gpt-4o-mini\",\"cost_usd\":{expected}}}"
        )
    );

    let unpriced = run(
        dir.path(),
        &[
            "cost",
            "my-model",
            "--prompt-tokens",
            "1",
            "--completion-tokens",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(unpriced.code, 1);
    assert_eq!(unpriced.stdout.trim(), r#"{"model":"my-model","matched":null,"cost_usd":null}"#);
    let text =
        run(dir.path(), &["cost", "my-model", "--prompt-tokens", "1", "--completion-tokens", "1"]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.is_empty() && text.stderr.contains("no price for `my-model`"),
        "{}",
        text.stderr
    );

    // --prices FILE and LLM_TRACE_PRICES extend the built-in table.
    let prices = dir.path().join("prices.json");
    std::fs::write(
        &prices,
        r#"{"models": {"my-model": {"provider": "self", "input": 1.0, "output": 2.0}}}"#,
    )
    .unwrap();
    let mine = [
        "cost",
        "my-model",
        "--prompt-tokens",
        "1000000",
        "--completion-tokens",
        "1000000",
        "--format",
        "json",
    ];
    let mut with_file = mine.to_vec();
    with_file.extend(["--prices", p(&prices)]);
    assert_eq!(run(dir.path(), &with_file).ok().json()["cost_usd"], 3.0);
    let env = run_env(dir.path(), &mine, &[("LLM_TRACE_PRICES", p(&prices))]).ok().json();
    assert_eq!(env["matched"], "my-model");
    assert_eq!(
        run(
            dir.path(),
            &[
                "cost",
                "gpt-4o",
                "--prompt-tokens",
                "1",
                "--completion-tokens",
                "1",
                "--prices",
                "missing.json"
            ]
        )
        .code,
        2
    );
    assert_eq!(
        run(dir.path(), &["cost", "gpt-4o", "--prompt-tokens", "1"]).code,
        2,
        "completion tokens are required"
    );
    assert_eq!(
        run(
            dir.path(),
            &[
                "cost",
                "gpt-4o",
                "--prompt-tokens",
                "1",
                "--completion-tokens",
                "1",
                "--cached-tokens",
                "2"
            ]
        )
        .code,
        2
    );
}

#[test]
fn prices_lists_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["prices", "gpt-4o-mini"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("model")
            && lines[0].contains("cached input")
            && lines[0].contains("cache write"),
        "{out}"
    );
    let row =
        lines.iter().find(|l| l.starts_with("gpt-4o-mini ")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("openai") && row.contains("$0.15") && row.contains("$0.60"), "{row}");
    let checked = PriceTable::builtin().checked().unwrap().to_owned();
    assert!(out.contains(&format!("prices checked {checked}")), "{out}");
    assert!(
        lines.iter().all(|l| l.is_empty()
            || l.starts_with("model")
            || l.contains("gpt-4o-mini")
            || l.contains("checked")),
        "{out}"
    );
    let by_provider = run(dir.path(), &["prices", "ANTHROPIC", "--format", "json"]).ok().json();
    let models = by_provider["models"].as_array().unwrap();
    assert!(!models.is_empty() && models.iter().all(|m| m["provider"] == "anthropic"));
    assert_eq!(by_provider["checked"], checked.as_str());
    assert_eq!(run(dir.path(), &["prices", "no-such-model-anywhere"]).code, 1);
    let prices = dir.path().join("prices.json");
    std::fs::write(&prices, r#"{"models": {"zz-mine": {"input": 1.0, "output": 2.0}}}"#).unwrap();
    let mine = run(dir.path(), &["prices", "zz-mine", "--prices", p(&prices)]).ok().stdout;
    assert!(mine.contains("zz-mine"), "{mine}");
}
