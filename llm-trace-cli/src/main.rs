//! `llm-trace`: the command-line tool of [llm-trace](https://docs.rs/llm-trace).
//!
//! It reads the JSON-lines log the library writes (one record per LLM call) and answers
//! questions of it: `summary`, `errors`, `slow`, `show`, `tail [-f]`, `cost`, `prices` and
//! `report --html`. Every reading command makes one streaming pass over the log on all cores
//! in constant memory, parsing only the fields it needs. Run `llm-trace --help` for the
//! commands and `llm-trace COMMAND --help` for each one's options and examples.
//!
//! Exit status: 0 ok, 1 nothing matched or a failure, 2 a usage error.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod commands;
mod failure;
mod fast;
mod filter;
mod row;
mod scan;
mod text;
mod time;

use args::{Cli, Command};
use commands::{cost, errors, generate, report, show, slow, summary, tail};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Summary(args) => summary::run(args),
        Command::Errors(args) => errors::run(args),
        Command::Slow(args) => slow::run(args),
        Command::Show(args) => show::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Cost(args) => cost::run_cost(args),
        Command::Prices(args) => cost::run_prices(args),
        Command::Report(args) => report::run(args),
        Command::Gen(args) => generate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message() {
                eprintln!("llm-trace: {message}");
            }
            failure.exit_code()
        }
    }
}
