//! `llm-trace report --html`: a self-contained page that escapes everything from the log and
//! draws its charts in a real browser (headless Chromium).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Call, known_calls, run, write_log};

const CHROMIUM: &str = "/usr/bin/chromium";

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The known calls plus one whose every string tries to inject markup.
fn hostile_log(dir: &Path) -> PathBuf {
    let mut calls = known_calls();
    let mut evil = Call::new(
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "2026-11-23T09:00:00Z",
    );
    evil.tags = &["<b>tag</b>"];
    evil.latency = 45_000.0;
    evil.cost = Some(0.2);
    evil.error = Some(("<i>kind</i>", Some(500), "</td><script>alert(3)</script>"));
    calls.push(evil);
    let log = dir.join("traces.jsonl");
    write_log(&log, &calls);
    log
}

#[test]
fn the_page_is_self_contained_and_escapes_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_log(dir.path());
    let html_path = dir.path().join("report.html");
    let out =
        run(dir.path(), &["report", "--html", p(&html_path), "--title", "Costs <b>&</b>", p(&log)])
            .ok();
    assert!(out.stderr.contains("wrote"), "{}", out.stderr);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script>alert"), "a script from the log got through");
    assert!(!html.contains("<img"), "markup from the log got through");
    assert!(!html.contains("<b>") && !html.contains("<i>"), "markup from the log got through");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the function name is shown, escaped"
    );
    assert!(
        html.contains("&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt;"),
        "the error message is shown, escaped"
    );
    assert!(html.contains("<title>Costs &lt;b&gt;&amp;&lt;/b&gt;</title>"));
    assert_eq!(html.matches("<script").count(), 1, "only the page's own script");
    // Nothing is loaded from anywhere: no URL, no external reference, a strict policy.
    for reference in ["http://", "https://", "src=\"", "href=", "url("] {
        assert!(!html.contains(reference), "external reference: {reference}");
    }
    assert!(html.contains("default-src 'none'"));
    for section in [
        "Cost per day",
        "Cost by function",
        "Cost by model",
        "Latency",
        "Error rate per day",
        "Slowest calls",
        "Latest failed calls",
        "Errors by kind and function",
    ] {
        assert!(html.contains(section), "{section} missing");
    }
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 5);
    // The slowest call is listed first.
    let slowest = html.split("<h2>Slowest calls</h2>").nth(1).unwrap();
    assert!(slowest.find("45.00 s").unwrap() < slowest.find("30.00 s").unwrap());
}

#[test]
fn nothing_matched_writes_no_page() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traces.jsonl");
    write_log(&log, &known_calls());
    let html_path = dir.path().join("report.html");
    let out = run(dir.path(), &["report", "--html", p(&html_path), "--function", "nope", p(&log)]);
    assert_eq!(out.code, 1);
    assert!(!html_path.exists());
    assert_eq!(run(dir.path(), &["report", p(&log)]).code, 2, "--html is required");
}

/// Runs headless Chromium on `page` with `args`; `None` when it is not installed.
fn chromium(profile: &Path, args: &[&str], page: &Path) -> Option<std::process::Output> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!(
            "SKIPPED: {CHROMIUM} is not installed (apt-get install chromium); the report was not rendered"
        );
        return None;
    }
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2200",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

/// The value of `name="…"` in `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

#[test]
fn chromium_draws_every_chart() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_log(dir.path());
    let html_path = dir.path().join("report.html");
    run(dir.path(), &["report", "--html", p(&html_path), p(&log)]).ok();
    let profile = dir.path().join("chromium-profile");

    let Some(dom) = chromium(&profile, &["--dump-dom"], &html_path) else { return };
    let dom_text = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.status.success(), "chromium failed: {}", String::from_utf8_lossy(&dom.stderr));
    let body_start =
        dom_text.find("<body").unwrap_or_else(|| panic!("no body in the dumped DOM:\n{dom_text}"));
    let body = &dom_text[body_start..body_start + dom_text[body_start..].find('>').unwrap()];
    // The page's script ran (after layout) and measured the charts.
    assert_eq!(attr(body, "data-ready"), Some("1"), "the page's script did not run: {body}");
    assert_eq!(attr(body, "data-charts"), Some("5"), "{body}");
    assert_eq!(attr(body, "data-charts-drawn"), Some("5"), "{body}");
    assert_eq!(
        attr(body, "data-scripts"),
        Some("1"),
        "a script from the log became an element: {body}"
    );
    let charts: Vec<&str> = dom_text
        .match_indices("<svg class=\"chart\"")
        .map(|(i, _)| &dom_text[i..i + dom_text[i..].find('>').unwrap()])
        .collect();
    assert_eq!(charts.len(), 5);
    for chart in &charts {
        let number = |name| {
            attr(chart, name)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or_else(|| panic!("{name} missing: {chart}"))
        };
        assert!(number("data-rendered-width") >= 400, "chart too narrow: {chart}");
        assert!(number("data-rendered-height") >= 60, "chart too low: {chart}");
        assert!(number("data-visible-marks") > 0, "no bar or dot drawn: {chart}");
        assert_eq!(
            number("data-visible-marks"),
            number("data-marks"),
            "some marks have no size: {chart}"
        );
    }
    // 3 days of calls → 3 daily bars; 3 + 1 (the rest) functions; 15 + 1 latency bins.
    let marks: Vec<&str> = charts.iter().map(|c| attr(c, "data-marks").unwrap()).collect();
    assert_eq!(marks[0], "3", "cost per day, 4 days of which the 22nd cost nothing: {marks:?}");
    assert_eq!(marks[1], "3", "cost by function (the $0 one has no bar): {marks:?}");
    assert_eq!(marks[4], "4", "error rate per day: {marks:?}");
    assert!(!dom_text.contains("<img"), "markup from the log became an element");
    assert!(
        dom_text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile name is shown as text"
    );

    // A screenshot: a PNG of the window's size.
    let png = dir.path().join("report.png");
    let shot =
        chromium(&profile, &[&format!("--screenshot={}", png.display())], &html_path).unwrap();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2200));
    assert!(bytes.len() > 50_000, "a page with charts is not that small: {} bytes", bytes.len());
    if let Ok(keep) = std::env::var("LLM_TRACE_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
