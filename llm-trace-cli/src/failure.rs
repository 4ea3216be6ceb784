//! How a command fails, and the exit code each failure gives.

use std::fmt;
use std::io;
use std::process::ExitCode;

/// Why a command did not succeed. Exit codes: 0 ok, 1 nothing matched or a runtime failure,
/// 2 a usage error (as clap's own).
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad arguments or configuration: exit 2.
    Usage(String),
    /// Nothing matched (the message, if any, goes to stderr): exit 1.
    NoMatch(String),
    /// Reading or writing failed: exit 1.
    Runtime(String),
    /// Writing to stdout failed; a closed pipe (`| head`) is not an error.
    Output(io::Error),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Failure::NoMatch(_) | Failure::Runtime(_) | Failure::Output(_) => ExitCode::from(1),
        }
    }

    /// The message for stderr, if there is one to print.
    pub(crate) fn message(&self) -> Option<String> {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => Some(m.clone()),
            Failure::NoMatch(m) => (!m.is_empty()).then(|| m.clone()),
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => None,
            Failure::Output(e) => Some(format!("cannot write the output: {e}")),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

impl From<fmt::Error> for Failure {
    fn from(_: fmt::Error) -> Self {
        Failure::Runtime("formatting failed".into())
    }
}

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;
