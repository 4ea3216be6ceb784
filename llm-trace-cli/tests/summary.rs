//! `llm-trace summary`: the figures of a known log for every grouping and format, every
//! filter, and reading logs that are torn, malformed, newer, rotated or piped.

mod common;

use llm_trace_core::summary::format_cost;

use common::{Call, assert_close, group, known_log, run, run_env, run_stdin, write_log};

fn p(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn json_totals_and_function_groups_match_the_log() {
    let (dir, log) = known_log();
    let doc = run(dir.path(), &["summary", "--format", "json", p(&log)]).ok().json();
    let total = &doc["total"];
    assert_eq!(total["key"], "total");
    assert_eq!(total["calls"], 6);
    assert_eq!(total["errors"], 2);
    assert_eq!(total["prompt_tokens"], 6900);
    assert_eq!(total["completion_tokens"], 650);
    assert_eq!(total["cached_tokens"], 200);
    assert_eq!(total["unpriced"], 2);
    assert_close(&total["cost_usd"], 0.08);
    assert_close(&total["error_rate"], 2.0 / 6.0);
    for field in ["p50", "p95", "p99", "mean"] {
        assert!(total["latency_ms"][field].is_number(), "{field}: {total}");
    }
    assert_close(&total["latency_ms"]["p99"], 30_000.0);
    assert_close(&total["ttft_ms"]["p50"], 50.0);

    let classify = group(&doc, "classify");
    assert_eq!((classify["calls"].as_u64(), classify["errors"].as_u64()), (Some(3), Some(1)));
    assert_eq!(classify["prompt_tokens"], 3000);
    assert_eq!(classify["unpriced"], 0);
    assert_close(&classify["cost_usd"], 0.03);
    assert_close(&classify["latency_ms"]["p50"], 100.0);
    let summarize = group(&doc, "summarize");
    assert_eq!((summarize["calls"].as_u64(), summarize["unpriced"].as_u64()), (Some(2), Some(1)));
    assert_close(&summarize["cost_usd"], 0.05);
    assert!(summarize["ttft_ms"]["p50"].is_null());
    let embed = group(&doc, "embed");
    assert_eq!((embed["calls"].as_u64(), embed["errors"].as_u64()), (Some(1), Some(1)));
    // Most expensive first.
    let keys: Vec<&str> =
        doc["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["summarize", "classify", "embed"]);
}

#[test]
fn every_grouping_counts_every_call() {
    let (dir, log) = known_log();
    let by = |by: &str| {
        run(dir.path(), &["summary", "--by", by, "--format", "json", p(&log)]).ok().json()
    };
    let calls = |doc: &serde_json::Value, key: &str| group(doc, key)["calls"].as_u64().unwrap();

    let models = by("model");
    assert_eq!(calls(&models, "gpt-4o-mini"), 3);
    assert_eq!(calls(&models, "gpt-4o"), 1);
    assert_eq!(group(&models, "local-llama")["unpriced"], 1);
    assert_eq!(calls(&models, "text-embedding-3-small"), 1);

    // A call with several tags counts once in each tag's group.
    let tags = by("tag");
    assert_eq!(calls(&tags, "support"), 4);
    assert_eq!(calls(&tags, "classification"), 2);
    assert_eq!(calls(&tags, "summarization"), 1);
    assert_eq!(calls(&tags, "rag"), 1);
    assert_eq!(calls(&tags, "(untagged)"), 1);
    assert_close(&group(&tags, "support")["cost_usd"], 0.08);
    assert_eq!(tags["total"]["calls"], 6);

    let sessions = by("session");
    assert_eq!((calls(&sessions, "s1"), calls(&sessions, "s2"), calls(&sessions, "s3")), (2, 3, 1));

    // Days and hours are UTC and in chronological order.
    let days = by("day");
    let keys: Vec<(&str, u64)> = days["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(keys, [("2026-11-20", 2), ("2026-11-21", 3), ("2026-11-22", 1)]);
    let hours = by("hour");
    let keys: Vec<&str> =
        hours["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["2026-11-20T10", "2026-11-20T11", "2026-11-21T09", "2026-11-21T10", "2026-11-22T08"]
    );
    assert_eq!(group(&hours, "2026-11-21T09")["calls"], 2);
}

#[test]
fn the_table_reuses_the_library_columns_with_a_total_row() {
    let (dir, log) = known_log();
    for by in ["function", "model", "tag", "session", "day", "hour"] {
        let out = run(dir.path(), &["summary", "--by", by, p(&log)]).ok().stdout;
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("6 calls · 2026-11-20 10:00:00 → 2026-11-22 08:00:00 UTC"),
            "{out}"
        );
        assert!(
            lines[1].starts_with(&format!(
                "2 errors (33.3%) · cost {} (+2 unpriced calls)",
                format_cost(0.08)
            )),
            "{out}"
        );
        let header =
            lines.iter().position(|l| l.starts_with(by)).unwrap_or_else(|| panic!("{out}"));
        let table = &lines[header..];
        for column in [
            "calls",
            "errors",
            "prompt",
            "completion",
            "cached",
            "cost",
            "p50",
            "p95",
            "ttft p50",
            "p99",
            "err %",
        ] {
            assert!(table[0].contains(column), "{column} missing: {}", table[0]);
        }
        let width = table[0].chars().count();
        assert!(table.iter().all(|l| l.chars().count() == width), "columns do not line up:\n{out}");
        assert!(table[table.len() - 2].starts_with('─'));
        let total = table.last().unwrap();
        assert!(
            total.starts_with("total") && total.contains("6,900") && total.contains("33.3%"),
            "{total}"
        );
    }
    let out = run(dir.path(), &["summary", p(&log)]).stdout;
    let classify = out.lines().find(|l| l.starts_with("classify")).unwrap();
    assert!(classify.contains("3,000") && classify.contains(&format_cost(0.03)), "{classify}");
}

#[test]
fn csv_has_a_row_per_group_and_a_total_row() {
    let (dir, log) = known_log();
    let out = run(dir.path(), &["summary", "--by", "tag", "--format", "csv", p(&log)]).ok().stdout;
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][..5], ["by", "key", "calls", "errors", "error_rate"]);
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{out}");
    assert_eq!(rows.len(), 1 + 5 + 1, "{out}");
    let support = rows.iter().find(|r| r[1] == "support").unwrap();
    assert_eq!((support[0], support[2], support[3]), ("tag", "4", "1"));
    let total = rows.last().unwrap();
    assert_eq!((total[0], total[1], total[2]), ("total", "", "6"));
    let col = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    assert_eq!(total[col("prompt_tokens")], "6900");
    assert_eq!(total[col("unpriced")], "2");
    assert!((total[col("cost_usd")].parse::<f64>().unwrap() - 0.08).abs() < 1e-9);
}

#[test]
fn csv_quotes_keys_that_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traces.jsonl");
    write_log(&log, &[Call::new("say \"hi\", then go", "m", "2026-11-20T10:00:00Z")]);
    let out = run(dir.path(), &["summary", "--format", "csv", p(&log)]).ok().stdout;
    assert!(
        out.lines().nth(1).unwrap().starts_with("function,\"say \"\"hi\"\", then go\",1,"),
        "{out}"
    );
}

#[test]
fn escaped_strings_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traces.jsonl");
    write_log(
        &log,
        &[
            Call::new("tab\there \"quoted\" é", "gpt-4o-mini", "2026-11-20T10:00:00Z"),
            Call::new("plain", "gpt-4o-mini", "2026-11-20T10:00:00Z"),
        ],
    );
    let doc = run(dir.path(), &["summary", "--format", "json", p(&log)]).ok().json();
    assert_eq!(group(&doc, "tab\there \"quoted\" é")["calls"], 1);
    let filtered = run(
        dir.path(),
        &["summary", "--function", "tab\there \"quoted\" é", "--format", "json", p(&log)],
    )
    .ok()
    .json();
    assert_eq!(filtered["total"]["calls"], 1);
}

#[test]
fn every_filter_selects_the_right_calls() {
    let (dir, log) = known_log();
    let calls = |args: &[&str]| -> u64 {
        let mut all = vec!["summary", "--format", "json"];
        all.extend_from_slice(args);
        all.push(p(&log));
        run(dir.path(), &all).json()["total"]["calls"].as_u64().unwrap()
    };
    assert_eq!(calls(&[]), 6);
    assert_eq!(calls(&["--function", "classify"]), 3);
    assert_eq!(calls(&["--model", "gpt-4o"]), 1);
    assert_eq!(calls(&["--model", "gpt-4o-2024-08-06"]), 1, "the answering model matches too");
    assert_eq!(calls(&["--tag", "support"]), 4);
    assert_eq!(calls(&["--tag", "support", "--tag", "classification"]), 2);
    assert_eq!(calls(&["--tag", "classification", "--tag", "rag"]), 0);
    assert_eq!(calls(&["--session", "s2"]), 3);
    assert_eq!(calls(&["--errors"]), 2);
    assert_eq!(calls(&["--since", "2026-11-21"]), 4);
    assert_eq!(calls(&["--until", "2026-11-21"]), 2);
    assert_eq!(
        calls(&["--since", "2026-11-21T09:10:00Z", "--until", "2026-11-21T10:00:00Z"]),
        1,
        "until is exclusive"
    );
    assert_eq!(calls(&["--since", "2026-11-21T10:10:00+01:00"]), 3, "offsets are honoured");
    assert_eq!(calls(&["--function", "classify", "--errors", "--session", "s2"]), 1);
}

#[test]
fn relative_since_counts_back_from_now() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traces.jsonl");
    let ago = |hours: i64| {
        llm_trace_core::Timestamp::from_unix_millis(
            llm_trace_core::Timestamp::now().unix_millis() - hours * 3_600_000,
        )
        .to_string()
    };
    write_log(
        &log,
        &[
            Call::new("old", "m", &ago(72)),
            Call::new("recent", "m", &ago(2)),
            Call::new("older", "m", &ago(30)),
        ],
    );
    let calls = |since: &str| {
        run(dir.path(), &["summary", "--since", since, "--format", "json", p(&log)]).json()["total"]
            ["calls"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(calls("24h"), 1);
    assert_eq!(calls("7d"), 3);
    assert_eq!(calls("2d"), 2);
    assert_eq!(calls("180m"), 1);
    let none = run(dir.path(), &["summary", "--since", "30m", p(&log)]);
    assert_eq!(none.code, 1, "nothing matched: {}", none.stderr);
    assert!(none.stderr.contains("no calls matched"), "{}", none.stderr);
}

#[test]
fn a_torn_last_line_and_a_malformed_line_are_reported_and_skipped() {
    let (dir, log) = known_log();
    let lines: Vec<String> = common::known_calls().iter().map(|c| c.line()).collect();
    let text = format!(
        "{}\n{{\"schema\":1,\"trace_id\":\n{}\n\n{}\n{}",
        lines[0],
        lines[1],
        lines[2],
        &lines[3][..lines[3].len() / 2]
    );
    std::fs::write(&log, text).unwrap();
    let out = run(dir.path(), &["summary", "--format", "json", p(&log)]).ok();
    assert_eq!(out.json()["total"]["calls"], 3);
    let name = log.display().to_string();
    assert!(out.stderr.contains(&format!("{name}:2: skipped a malformed line")), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("{name}:6: skipped the incomplete last line")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
}

#[test]
fn lines_from_a_newer_schema_are_skipped_with_a_clear_message() {
    let (dir, log) = known_log();
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"schema\":2,\"trace_id\":\"x\",\"timestamp\":123,\"shape\":\"changed\"}\n");
    let mut newer: serde_json::Value =
        serde_json::from_str(&common::known_calls()[0].line()).unwrap();
    newer["schema"] = 3.into();
    text.push_str(&format!("{newer}\n"));
    std::fs::write(&log, text).unwrap();
    let out = run(dir.path(), &["summary", "--format", "json", p(&log)]).ok();
    assert_eq!(out.json()["total"]["calls"], 6);
    assert!(
        out.stderr.contains(":7: 2 records written by a newer llm-trace (schema 3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("upgrade llm-trace"), "{}", out.stderr);
}

#[test]
fn the_default_log_and_its_rotated_files_are_read_together() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let calls = common::known_calls();
    write_log(&logs.join("traces.jsonl.2"), &calls[0..2]);
    write_log(&logs.join("traces.jsonl.1"), &calls[2..4]);
    write_log(&logs.join("traces.jsonl"), &calls[4..6]);
    std::fs::write(logs.join("traces.jsonl.bak"), "not a log\n").unwrap();
    let total = |r: common::Run| r.ok().json()["total"]["calls"].as_u64().unwrap();
    let env = [("LLM_TRACE_DIR", logs.to_str().unwrap())];
    assert_eq!(total(run_env(dir.path(), &["summary", "--format", "json"], &env)), 6);
    assert_eq!(
        total(run(dir.path(), &["summary", "--format", "json", p(&logs)])),
        6,
        "a folder argument"
    );
    // ./llm-traces by default.
    std::fs::rename(&logs, dir.path().join("llm-traces")).unwrap();
    assert_eq!(total(run(dir.path(), &["summary", "--format", "json"])), 6);
    // Several files, and stdin.
    let a = dir.path().join("a.jsonl");
    write_log(&a, &calls[0..1]);
    let out = run_stdin(
        dir.path(),
        &["summary", "--format", "json", p(&a), "-"],
        &(calls[1].line() + "\n"),
    );
    assert_eq!(total(out), 2);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let (dir, log) = known_log();
    let text = std::fs::read_to_string(&log).unwrap();
    let out = run_stdin(dir.path(), &["summary", "--by", "model", "-"], &text).ok();
    assert!(out.stdout.contains("gpt-4o-mini"), "{}", out.stdout);
    let doc = run_stdin(dir.path(), &["summary", "--format", "json", "-"], &text).ok().json();
    assert_eq!(doc["total"]["calls"], 6);
}

#[test]
fn exit_codes_follow_the_convention() {
    let (dir, log) = known_log();
    assert_eq!(run(dir.path(), &["summary", p(&log)]).code, 0);
    let none = run(dir.path(), &["summary", "--function", "nope", p(&log)]);
    assert_eq!(none.code, 1);
    assert!(none.stdout.is_empty());
    let json = run(dir.path(), &["summary", "--function", "nope", "--format", "json", p(&log)]);
    assert_eq!(json.code, 1);
    assert_eq!(json.json()["total"]["calls"], 0, "JSON is still written");
    let missing = run(dir.path(), &["summary", "no-such-file.jsonl"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no-such-file.jsonl"), "{}", missing.stderr);
    let no_log = run(dir.path(), &["summary"]);
    assert_eq!(no_log.code, 1);
    assert!(no_log.stderr.contains("llm-traces/traces.jsonl"), "{}", no_log.stderr);
    assert_eq!(run(dir.path(), &["summary", "--since", "last tuesday", p(&log)]).code, 2);
    assert_eq!(run(dir.path(), &["summary", "--by", "colour", p(&log)]).code, 2);
    assert_eq!(run(dir.path(), &["summary", "--no-such-flag"]).code, 2);
    assert_eq!(run(dir.path(), &[]).code, 2);
    assert_eq!(run(dir.path(), &["summary", "-", "-"]).code, 2);
    let bad_env = run_env(dir.path(), &["summary"], &[("LLM_TRACE_SAMPLE_RATE", "2")]);
    assert_eq!(bad_env.code, 2);
    assert!(bad_env.stderr.contains("LLM_TRACE_SAMPLE_RATE"), "{}", bad_env.stderr);
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let main = run(dir.path(), &["--help"]).ok().stdout;
    for sub in ["summary", "errors", "slow", "show", "tail", "cost", "prices", "report"] {
        assert!(main.contains(sub), "{sub} missing from --help");
        let help = run(dir.path(), &[sub, "--help"]).ok().stdout;
        assert!(
            help.contains("Examples:") && help.contains(&format!("llm-trace {sub}")),
            "{sub}:\n{help}"
        );
    }
    assert!(!main.contains("gen "), "the generator is hidden");
}
