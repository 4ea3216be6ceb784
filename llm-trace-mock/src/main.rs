//! `llm-trace-mock [--port N]`: runs the OpenAI-compatible mock server on
//! `127.0.0.1` until interrupted (Ctrl-C).

use std::io::Write;
use std::process::ExitCode;

use llm_trace_mock::MockServer;

const USAGE: &str = "\
llm-trace-mock: an OpenAI-compatible mock server on 127.0.0.1

Usage: llm-trace-mock [--port N]

Options:
  -p, --port N   listen on 127.0.0.1:N (default 0: a free port chosen by the OS)
  -h, --help     print this help

Point an OpenAI client at the printed base URL. Script faults with
POST /__mock/script, list requests with GET /__mock/requests.
Stop with Ctrl-C.
";

/// What the command line asks for.
enum Command {
    Serve { port: u16 },
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut port = 0u16;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-p" | "--port" => args.next().ok_or_else(|| format!("{arg} needs a value"))?,
            other => match other.strip_prefix("--port=") {
                Some(v) => v.to_owned(),
                None => return Err(format!("unknown argument `{other}`")),
            },
        };
        port = value.parse().map_err(|_| format!("invalid port `{value}`"))?;
    }
    Ok(Command::Serve { port })
}

fn main() -> ExitCode {
    let port = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve { port }) => port,
        Ok(Command::Help) => {
            let _ = std::io::stdout().lock().write_all(USAGE.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "llm-trace-mock: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match MockServer::start_on(port) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "llm-trace-mock: cannot listen on 127.0.0.1:{port}: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "llm-trace-mock listening on {}", server.base_url());
        let _ = out.flush();
    }
    // Serve until the process is interrupted: SIGINT's default action ends it.
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn args() {
        assert!(matches!(parse(&[]), Ok(Command::Serve { port: 0 })));
        assert!(matches!(parse(&["--port", "8080"]), Ok(Command::Serve { port: 8080 })));
        assert!(matches!(parse(&["--port=9"]), Ok(Command::Serve { port: 9 })));
        assert!(matches!(parse(&["-p", "1"]), Ok(Command::Serve { port: 1 })));
        assert!(matches!(parse(&["--help"]), Ok(Command::Help)));
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--verbose"]).is_err());
    }
}
