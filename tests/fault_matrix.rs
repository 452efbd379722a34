//! The fault matrix (issue 6, item 4): every fault the loopback server can inject, on each
//! flow that meets it, and the ErrorInfo (code, status, cause) it produces, either without
//! waiting for the request timeout or after waiting for it. The expected values are the table in [`expected`]; the test asserts every cell and
//! keeps `docs/fault-matrix.md` in step:
//!
//! * `ABLY_AUTH_BLESS=1 cargo test --test fault_matrix` writes the file (with this run's
//!   times);
//! * otherwise the committed file must list the same rows with the same flow, fault, result,
//!   code, status, cause and bound columns (the measured times are not compared).
//!
//! Flows: **key** (`request_token` with the key: `POST /keys/{name}/requestToken`),
//! **authUrl** (`request_token` through an authUrl at `/auth/token-request`, the fault on the
//! authUrl), **request** (`Auth::request(GET /channels/x)` with a token already cached, the
//! fault on `/channels/`). Each cell runs against a fresh loopback server and Auth.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ably_auth::{ClientOptions, Clock, ErrorInfo, Method, SystemClock};
use common::*;

/// The request timeout of the cells of quick faults: far longer than any scheduling delay,
/// so a cell that ends in under a quarter of it did not wait for it.
const LONG_TIMEOUT: Duration = Duration::from_secs(60);
/// The request timeout of the cells of slow faults, which sleep far past it.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long the slow faults sleep: past the hang guard, so the 50003 of those cells proves
/// the request timeout ended the request before the server answered.
const SLOW_MS: u64 = 120_000;
/// The upper bound of the slow cells: a hang guard, not a speed target.
const HANG_GUARD: Duration = Duration::from_secs(60);
const HOUR_MS: i64 = 3_600_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Key,
    AuthUrl,
    Request,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Flow::Key => "key",
            Flow::AuthUrl => "authUrl",
            Flow::Request => "request",
        }
    }
}

/// How the fault is made.
#[derive(Clone, Debug)]
enum Fault {
    /// A server rule on the flow's path, applying to every matching request.
    Always(Action),
    /// A server rule on the flow's path, applying to the next matching request only.
    Once(Action),
    /// An HTTPS server whose CA the client does not trust.
    UntrustedCertificate,
    /// The client's clock is this many ms off real time.
    ClientClockSkew(i64),
}

/// Time bounds, the stable form of "time taken": whether the cell waited for its request
/// timeout. Each kind of cell runs with its own timeout, so the two are far apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// Without waiting for the request timeout: under a quarter of a long one.
    Quick,
    /// After waiting for the request timeout: at least 0.9 × a short one (and under the
    /// hang guard).
    Timeout,
}

impl Bound {
    fn text(self) -> String {
        match self {
            Bound::Quick => format!(
                "quick (< {} s of a {} s timeout)",
                (LONG_TIMEOUT / 4).as_secs(),
                LONG_TIMEOUT.as_secs()
            ),
            Bound::Timeout => format!("≥ timeout ({} s)", REQUEST_TIMEOUT.as_secs_f64()),
        }
    }

    /// The request timeout of a cell with this bound.
    fn request_timeout(self) -> Duration {
        match self {
            Bound::Quick => LONG_TIMEOUT,
            Bound::Timeout => REQUEST_TIMEOUT,
        }
    }

    fn holds(self, elapsed: Duration) -> bool {
        match self {
            Bound::Quick => elapsed < LONG_TIMEOUT / 4,
            Bound::Timeout => elapsed >= REQUEST_TIMEOUT.mul_f64(0.9) && elapsed < HANG_GUARD,
        }
    }
}

/// What one cell must give: `code == None` is success with HTTP `status` (request flow) or
/// a token (status 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    code: Option<u32>,
    status: u16,
    cause: Option<u32>,
}

const fn err(code: u32, status: u16) -> Outcome {
    Outcome {
        code: Some(code),
        status,
        cause: None,
    }
}

const fn err_cause(code: u32, status: u16, cause: u32) -> Outcome {
    Outcome {
        code: Some(code),
        status,
        cause: Some(cause),
    }
}

const TOKEN: Outcome = Outcome {
    code: None,
    status: 0,
    cause: None,
};

const HTTP_200: Outcome = Outcome {
    code: None,
    status: 200,
    cause: None,
};

struct Row {
    fault_name: &'static str,
    fault: Fault,
    /// Expected outcome and bound for the key, authUrl and request flows.
    cells: [(Outcome, Bound); 3],
}

fn text_response(status: u16) -> Action {
    Action::Respond {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("plain {status}").into_bytes(),
    }
}

fn ably_error(status: u16, code: u32) -> Action {
    Action::AblyError {
        status,
        code,
        message: format!("injected {code}"),
    }
}

/// The expected table. The authUrl column follows RSA4e/RSA4d (DESIGN §4 item 9): every
/// failure is 40170/401 with the original error as the cause, except a 403 (40300/403);
/// a 200 body that is not token material (malformed JSON, another content type) has no
/// cause.
fn expected() -> Vec<Row> {
    use Bound::{Quick, Timeout};
    let q = |o: Outcome| (o, Quick);
    let t = |o: Outcome| (o, Timeout);
    let mut rows = vec![
        Row {
            fault_name: "HTTP 400 (plain body)",
            fault: Fault::Always(text_response(400)),
            cells: [
                q(err(40000, 400)),
                q(err_cause(40170, 401, 40000)),
                q(err(40000, 400)),
            ],
        },
        Row {
            fault_name: "HTTP 401, 40101 (not a token error)",
            fault: Fault::Always(ably_error(401, 40101)),
            cells: [
                q(err(40101, 401)),
                q(err_cause(40170, 401, 40101)),
                q(err(40101, 401)),
            ],
        },
        Row {
            fault_name: "HTTP 401, 40142 token expired (once)",
            fault: Fault::Once(ably_error(401, 40142)),
            cells: [
                q(err(40142, 401)),
                q(err_cause(40170, 401, 40142)),
                // RSC10: one renewal and one retry.
                q(HTTP_200),
            ],
        },
        Row {
            fault_name: "HTTP 403 (plain body)",
            fault: Fault::Always(text_response(403)),
            cells: [
                q(err(40300, 403)),
                q(err_cause(40300, 403, 40300)),
                q(err(40300, 403)),
            ],
        },
        Row {
            fault_name: "HTTP 404 (plain body)",
            fault: Fault::Always(text_response(404)),
            cells: [
                q(err(40400, 404)),
                q(err_cause(40170, 401, 40400)),
                q(err(40400, 404)),
            ],
        },
        Row {
            fault_name: "HTTP 429 (plain body)",
            fault: Fault::Always(text_response(429)),
            cells: [
                q(err(42910, 429)),
                q(err_cause(40170, 401, 42910)),
                q(err(42910, 429)),
            ],
        },
    ];
    for status in 500..=504u16 {
        let code = 50000; // Ably's generic code for every bare 5xx (no 50300: Ably lists none)
        rows.push(Row {
            fault_name: match status {
                500 => "HTTP 500 (plain body)",
                501 => "HTTP 501 (plain body)",
                502 => "HTTP 502 (plain body)",
                503 => "HTTP 503 (plain body)",
                _ => "HTTP 504 (plain body)",
            },
            fault: Fault::Always(text_response(status)),
            cells: [
                q(err(code, status)),
                q(err_cause(40170, 401, code)),
                q(err(code, status)),
            ],
        });
    }
    rows.extend([
        Row {
            fault_name: "Ably error body (HTTP 401, 40160)",
            fault: Fault::Always(ably_error(401, 40160)),
            cells: [
                q(err(40160, 401)),
                q(err_cause(40170, 401, 40160)),
                q(err(40160, 401)),
            ],
        },
        Row {
            fault_name: "malformed JSON (200)",
            fault: Fault::Always(Action::MalformedJson),
            // key: the parse error (40003) is the cause. The request helper hands any 2xx
            // body to the caller as it is.
            cells: [
                q(err_cause(50000, 500, 40003)),
                q(err(40170, 401)),
                q(HTTP_200),
            ],
        },
        Row {
            fault_name: "wrong content type (200 text/html)",
            fault: Fault::Always(Action::WrongContentType),
            cells: [
                q(err_cause(50000, 500, 40003)),
                q(err(40170, 401)),
                q(HTTP_200),
            ],
        },
        Row {
            fault_name: "oversized body (200, 200 KiB)",
            fault: Fault::Always(Action::Oversized { bytes: 200 * 1024 }),
            // Token material is capped at 128 KiB; request bodies at 16 MiB.
            cells: [
                q(err(50000, 500)),
                q(err_cause(40170, 401, 50000)),
                q(HTTP_200),
            ],
        },
        Row {
            fault_name: "slow headers (120 s)",
            fault: Fault::Always(Action::SlowHeaders {
                delay_ms: SLOW_MS,
                then: Box::new(Action::Pass),
            }),
            cells: [
                t(err(50003, 0)),
                t(err_cause(40170, 401, 50003)),
                t(err(50003, 0)),
            ],
        },
        Row {
            fault_name: "slow body (120 s)",
            fault: Fault::Always(Action::SlowBody { delay_ms: SLOW_MS }),
            cells: [
                t(err(50003, 0)),
                t(err_cause(40170, 401, 50003)),
                t(err(50003, 0)),
            ],
        },
        Row {
            fault_name: "dropped connection",
            fault: Fault::Always(Action::Drop),
            cells: [
                q(err(80000, 0)),
                q(err_cause(40170, 401, 80000)),
                q(err(80000, 0)),
            ],
        },
        Row {
            fault_name: "TLS certificate not trusted",
            fault: Fault::UntrustedCertificate,
            // The request flow cannot get its token first: the token fetch fails.
            cells: [
                q(err(80000, 0)),
                q(err_cause(40170, 401, 80000)),
                q(err(80000, 0)),
            ],
        },
        Row {
            fault_name: "client clock +1 h",
            fault: Fault::ClientClockSkew(HOUR_MS),
            // key: 40104 from the server, then /time and one retry (RSA10k).
            cells: [q(TOKEN), q(TOKEN), q(HTTP_200)],
        },
        Row {
            fault_name: "client clock −1 h",
            fault: Fault::ClientClockSkew(-HOUR_MS),
            cells: [q(TOKEN), q(TOKEN), q(HTTP_200)],
        },
    ]);
    rows
}

/// The system clock shifted by a fixed offset.
struct SkewedClock(i64);

impl Clock for SkewedClock {
    fn now_ms(&self) -> u64 {
        SystemClock.now_ms().saturating_add_signed(self.0)
    }
}

fn path_prefix(flow: Flow) -> &'static str {
    match flow {
        Flow::Key => "/keys/",
        Flow::AuthUrl => "/auth/",
        Flow::Request => "/channels/",
    }
}

fn options(flow: Flow, server: &LoopbackServer, request_timeout: Duration) -> ClientOptions {
    let mut options = options_for(server);
    options.transport.request_timeout = request_timeout;
    // A quick cell waits for no timeout at all, the connect timeout included.
    options.transport.open_timeout = options.transport.open_timeout.max(request_timeout);
    match flow {
        Flow::Key | Flow::Request => {
            options.auth = ably_auth::AuthOptions::default()
                .with_key(&server.key().key_string())
                .unwrap();
            options.auth.use_token_auth = Some(true);
        }
        Flow::AuthUrl => {
            options.auth.auth_url = Some(format!("{}/auth/token-request", server.base_url()));
        }
    }
    options
}

/// Runs one cell: its outcome and the time the faulted call took.
fn run(flow: Flow, fault: &Fault, bound: Bound) -> (Result<u16, ErrorInfo>, Duration) {
    let server = match fault {
        Fault::UntrustedCertificate => tls_server(),
        _ => http_server(),
    };
    let mut options = options(flow, &server, bound.request_timeout());
    let clock: Arc<dyn Clock> = match fault {
        Fault::ClientClockSkew(skew) => Arc::new(SkewedClock(*skew)),
        _ => Arc::new(SystemClock),
    };
    if matches!(fault, Fault::UntrustedCertificate) {
        options.transport.extra_ca_pem.clear();
    }
    let auth = common::new_auth_with_clock(options, clock).expect("valid options");
    let trusted = !matches!(fault, Fault::UntrustedCertificate);
    if flow == Flow::Request && trusted {
        auth.authorize(None, None)
            .expect("a token before the fault");
    }
    match fault {
        Fault::Always(action) => server.push_rule(Rule::always(path_prefix(flow), action.clone())),
        Fault::Once(action) => server.push_rule(Rule::once(path_prefix(flow), action.clone())),
        Fault::UntrustedCertificate | Fault::ClientClockSkew(_) => {}
    }
    let started = Instant::now();
    let result = match flow {
        Flow::Key | Flow::AuthUrl => auth.request_token(None, None).map(|details| {
            assert!(!details.token.is_empty());
            0
        }),
        Flow::Request => auth
            .request(Method::Get, "/channels/x", &[], &[], None)
            .and_then(ably_auth::HttpResponse::error_for_status)
            .map(|response| response.status),
    };
    (result, started.elapsed())
}

fn outcome_of(result: &Result<u16, ErrorInfo>) -> Outcome {
    match result {
        Ok(status) => Outcome {
            code: None,
            status: *status,
            cause: None,
        },
        Err(e) => Outcome {
            code: Some(e.code),
            status: e.status_code,
            cause: e.cause.as_ref().map(|c| c.code),
        },
    }
}

/// The stable columns of one table line: flow, fault, result, code, status, cause, bound.
fn stable_cells(flow: Flow, fault: &str, outcome: &Outcome, bound: Bound) -> Vec<String> {
    let dash = || "—".to_owned();
    vec![
        flow.name().to_owned(),
        fault.to_owned(),
        match (outcome.code, outcome.status) {
            (None, 0) => "token".to_owned(),
            (None, status) => format!("HTTP {status}"),
            (Some(_), _) => "error".to_owned(),
        },
        outcome.code.map_or_else(dash, |c| c.to_string()),
        if outcome.code.is_some() {
            outcome.status.to_string()
        } else {
            dash()
        },
        outcome.cause.map_or_else(dash, |c| c.to_string()),
        bound.text(),
    ]
}

const HEADER: &str = "| flow | fault | result | code | status | cause | bound | this run |";

fn doc_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fault-matrix.md")
}

fn render(lines: &[(Vec<String>, Duration)]) -> String {
    let mut out = String::new();
    out.push_str(
        "# Fault matrix\n\n\
         Generated by `tests/fault_matrix.rs` (`ABLY_AUTH_BLESS=1 cargo test --test \
         fault_matrix`); the test asserts every row and checks that this file matches its \
         stable columns (all but *this run*).\n\n\
         Each row runs against a fresh loopback server (`tests/support`) and a fresh `Auth`. \
         The *bound* says whether the fault is reported without waiting for the request \
         timeout (*quick*: those cells run with a 60 s timeout and must end within 15 s) or \
         after waiting for it (the slow faults, which sleep 120 s: those cells run with a 1 s \
         timeout and must end after at least 0.9 s, with a 50003, so before the server \
         answered). Flows:\n\n\
         - **key**: `request_token` with the API key (`POST /keys/{keyName}/requestToken`), \
         the fault on that request;\n\
         - **authUrl**: `request_token` through an authUrl (`/auth/token-request`), the fault on \
         the authUrl request. Every authUrl failure is 40170/401 with the original error as \
         the cause (RSA4e), except 403, which is 40300/403 (RSA4d); a 200 body that is not \
         token material (malformed JSON, another content type) is 40170 without a cause;\n\
         - **request**: `Auth::request(GET /channels/x)` with a token already cached, the fault \
         on `/channels/`. A 2xx body is handed to the caller as it is, so malformed or \
         oversized 200 bodies are not errors there; a token error (40140–40149) is renewed \
         once and retried (RSC10). `Auth::request` returns every answer, whatever its status \
         (RSC19d); this flow reports an answer of 400 or more as its ErrorInfo \
         (`HttpResponse::error_for_status`).\n\n\
         Clock skew is the client's clock (an injected `Clock`) an hour ahead of or behind \
         the server's; the key flow recovers from the server's 40104 by reading `/time` and \
         retrying once. *cause* is the code of `ErrorInfo.cause`. *status* is the answer's \
         HTTP status, the one the spec names (40170/401), or 0 when no answer arrived \
         (timeouts 50003, connection failures 80000).\n\n",
    );
    out.push_str(HEADER);
    out.push_str("\n|---|---|---|---|---|---|---|---|\n");
    for (cells, elapsed) in lines {
        let _ = writeln!(
            out,
            "| {} | {:.2} s |",
            cells.join(" | "),
            elapsed.as_secs_f64()
        );
    }
    out
}

/// The stable cells of each table line in a committed file.
fn parse(doc: &str) -> Vec<Vec<String>> {
    doc.lines()
        .skip_while(|line| *line != HEADER)
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect();
            cells[..cells.len() - 1].to_vec()
        })
        .collect()
}

#[test]
fn fault_matrix() {
    let flows = [Flow::Key, Flow::AuthUrl, Flow::Request];
    let rows = expected();
    // The cells are independent: run the rows in parallel, a few at a time.
    let results: Vec<Vec<(Result<u16, ErrorInfo>, Duration)>> = std::thread::scope(|scope| {
        let chunks: Vec<_> = rows
            .chunks(4)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|row| {
                            flows
                                .iter()
                                .zip(&row.cells)
                                .map(|(&f, &(_, bound))| run(f, &row.fault, bound))
                                .collect()
                        })
                        .collect::<Vec<Vec<_>>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|h| h.join().expect("a fault-matrix worker"))
            .collect()
    });

    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for (row, measured) in rows.iter().zip(&results) {
        for ((flow, (want, bound)), (result, elapsed)) in flows.iter().zip(&row.cells).zip(measured)
        {
            let got = outcome_of(result);
            let line = stable_cells(*flow, row.fault_name, &got, *bound);
            println!(
                "{} | {:.3} s | {result:?}",
                line.join(" | "),
                elapsed.as_secs_f64()
            );
            if got != *want {
                failures.push(format!(
                    "{} / {}: expected {want:?}, got {result:?}",
                    flow.name(),
                    row.fault_name
                ));
            }
            if !bound.holds(*elapsed) {
                failures.push(format!(
                    "{} / {}: took {elapsed:?}, expected {}",
                    flow.name(),
                    row.fault_name,
                    bound.text()
                ));
            }
            lines.push((line, *elapsed));
        }
    }
    assert!(
        failures.is_empty(),
        "fault matrix:\n{}",
        failures.join("\n")
    );

    let path = doc_path();
    if std::env::var_os("ABLY_AUTH_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, render(&lines)).unwrap();
        println!("wrote {}", path.display());
    } else {
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run ABLY_AUTH_BLESS=1 cargo test --test fault_matrix",
                path.display()
            )
        });
        let want: Vec<Vec<String>> = lines.iter().map(|(cells, _)| cells.clone()).collect();
        assert_eq!(
            parse(&committed),
            want,
            "docs/fault-matrix.md is out of date: run ABLY_AUTH_BLESS=1 cargo test --test fault_matrix"
        );
    }
}
