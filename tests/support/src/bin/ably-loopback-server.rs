//! `ably-loopback-server [--port N] [--tls] [--ca-out FILE] [--key name:secret]... [--skew-ms N]
//! [--exit-on-stdin-eof]`
//!
//! Starts the loopback server on 127.0.0.1 with the `/_control/` API enabled (see the crate docs),
//! prints `LISTENING <base_url>` and serves until killed, or until stdin reaches EOF with
//! `--exit-on-stdin-eof`. `--key` (repeatable) replaces the default key; `--ca-out` writes the CA
//! PEM (with `--tls`).
//!
//! Control rule JSON: `{"method"?, "pathPrefix", "times"? (default 1, -1 or "forever" = always),
//! "action": {"type": ...}}` with types `ablyError` {status, code, message}, `respond`
//! {status, headers: [[k, v]], body}, `json` {status, body}, `drop`, `pass`, `malformedJson`,
//! `wrongContentType`, `oversized` {bytes}, `slowHeaders` {delayMs, then?}, `slowBody` {delayMs}.

use std::io::{Read, Write};
use std::process::ExitCode;

use ably_loopback::{KeyConfig, LoopbackServer, ServerConfig};

const USAGE: &str = "usage: ably-loopback-server [--port N] [--tls] [--ca-out FILE] \
                     [--key name:secret]... [--skew-ms N] [--exit-on-stdin-eof]";

const HELP: &str = "\
A loopback Ably-compatible REST auth server on 127.0.0.1. Prints `LISTENING <url>`, then
serves until killed.

  --port N              listen on 127.0.0.1:N; 0 (the default) takes a free port, which the
                        LISTENING line names
  --tls                 HTTPS, with a certificate for localhost and 127.0.0.1 signed by a CA
                        generated at start
  --ca-out FILE         with --tls: write that CA's PEM to FILE
  --key name:secret     the app's key (repeatable; the first signs); default
                        appId.keyId:loopbackSecret0123456789
  --skew-ms N           the server's clock runs N ms ahead (negative: behind)
  --exit-on-stdin-eof   stop when stdin closes

Basic auth (the key itself) is refused by Ably's clients over plain HTTP: use token auth
there, or --tls and the CA for revokeTokens. Control API, never recorded or faulted:
POST /_control/rule (a fault rule), POST /_control/reset, GET /_control/requests,
POST /_control/skew {\"ms\":N}, POST /_control/mint | jwt | token-request, POST
/_control/revoke-all, GET /_control/key | stats | ca. A rule: {\"method\"?, \"pathPrefix\",
\"times\"? (1; -1 or \"forever\": all), \"action\": {\"type\": ablyError {status, code,
message} | json {status, body} | respond {status, headers, body} | malformedJson |
wrongContentType | oversized {bytes} | slowHeaders {delayMs, then?} | slowBody {delayMs} |
drop | pass}}. The README's \"Loopback Ably-compatible server\" section has the details.";

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config = ServerConfig::default();
    let mut port = 0u16;
    let mut ca_out = None;
    let mut keys = Vec::new();
    let mut skew = 0i64;
    let mut exit_on_eof = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tls" => config.tls = true,
            "--exit-on-stdin-eof" => exit_on_eof = true,
            "--port" => match args.next().and_then(|v| v.parse().ok()) {
                Some(p) => port = p,
                None => return usage(),
            },
            "--skew-ms" => match args.next().and_then(|v| v.parse().ok()) {
                Some(s) => skew = s,
                None => return usage(),
            },
            "--ca-out" => match args.next() {
                Some(f) => ca_out = Some(f),
                None => return usage(),
            },
            "--key" => match args.next().as_deref().and_then(|k| k.split_once(':')) {
                Some((name, secret)) => keys.push(KeyConfig {
                    name: name.to_string(),
                    secret: secret.to_string(),
                    ..KeyConfig::default()
                }),
                None => return usage(),
            },
            "-h" | "--help" => {
                println!("{USAGE}\n\n{HELP}");
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    if !keys.is_empty() {
        config.keys = keys;
    }
    let server = match LoopbackServer::start_on(config, port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ably-loopback-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    server.enable_control_api();
    server.set_clock_skew_ms(skew);
    if let (Some(path), Some(pem)) = (ca_out, server.ca_pem())
        && let Err(e) = std::fs::write(&path, pem)
    {
        eprintln!("ably-loopback-server: writing {path}: {e}");
        return ExitCode::FAILURE;
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "LISTENING {}", server.base_url());
    let _ = out.flush();
    if exit_on_eof {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    } else {
        loop {
            std::thread::park();
        }
    }
    ExitCode::SUCCESS
}
