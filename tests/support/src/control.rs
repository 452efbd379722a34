//! `/_control/` API for tests written in other languages.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::server::{Inner, Reply};
use crate::{Action, MintSpec, RecordedRequest, Rule};

fn bad(message: &str) -> Reply {
    Reply::ably_error(400, 40000, message)
}

pub fn handle(inner: &Inner, req: &RecordedRequest) -> Reply {
    let body = || -> Result<Value, Reply> {
        if req.body.is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_slice(&req.body).map_err(|e| bad(&format!("control body: {e}")))
    };
    let what = req.path.trim_start_matches("/_control/");
    let result = match (req.method.as_str(), what) {
        ("POST", "rule") => body().and_then(|v| {
            let rule = parse_rule(&v).map_err(|m| bad(&m))?;
            inner.state().rules.push(rule);
            Ok(Reply::json(200, "{}"))
        }),
        ("POST", "reset") => {
            let mut st = inner.state();
            st.rules.clear();
            st.requests.clear();
            Ok(Reply::json(200, "{}"))
        }
        ("GET", "requests") => {
            let list: Vec<Value> = inner.state().requests.iter().map(request_json).collect();
            Ok(Reply::json(200, Value::Array(list).to_string()))
        }
        ("POST", "skew") => body().and_then(|v| {
            let ms = v
                .get("ms")
                .and_then(Value::as_i64)
                .ok_or_else(|| bad("skew needs {\"ms\": N}"))?;
            inner.skew_ms.store(ms, Ordering::SeqCst);
            Ok(Reply::json(200, "{}"))
        }),
        ("POST", "mint") => body()
            .and_then(|v| parse_mint(&v).map_err(|m| bad(&m)))
            .map(|spec| Reply::json(200, inner.mint_token(&spec).json)),
        ("POST", "jwt") => body()
            .and_then(|v| parse_mint(&v).map_err(|m| bad(&m)))
            .map(|spec| Reply::json(200, json!({"jwt": inner.mint_jwt(&spec)}).to_string())),
        ("POST", "token-request") => body()
            .and_then(|v| parse_mint(&v).map_err(|m| bad(&m)))
            .map(|spec| Reply::json(200, inner.signed_token_request(&spec))),
        ("POST", "revoke-all") => {
            inner.revoke_all();
            Ok(Reply::json(200, "{}"))
        }
        ("GET", "key") => {
            let k = &inner.config.keys[0];
            Ok(Reply::json(
                200,
                json!({"key": k.key_string(), "keyName": k.name}).to_string(),
            ))
        }
        ("GET", "stats") => {
            let st = inner.state();
            Ok(Reply::json(
                200,
                json!({
                    "connections": inner.connections.load(Ordering::SeqCst),
                    "tokensIssued": st.tokens_issued,
                    "requests": st.requests.len(),
                })
                .to_string(),
            ))
        }
        ("GET", "ca") => Ok(match &inner.tls {
            Some(t) => Reply::new(200, "application/x-pem-file", t.ca_pem.clone()),
            None => Reply::ably_error(404, 40400, "TLS is off"),
        }),
        _ => Ok(Reply::ably_error(404, 40400, "Unknown control endpoint")),
    };
    result.unwrap_or_else(|r| r)
}

fn request_json(r: &RecordedRequest) -> Value {
    let pairs = |v: &[(String, String)]| -> Value {
        Value::Array(v.iter().map(|(k, v)| json!([k, v])).collect())
    };
    json!({
        "method": r.method,
        "path": r.path,
        "query": pairs(&r.query),
        "headers": pairs(&r.headers),
        "body": String::from_utf8_lossy(&r.body),
        "connectionId": r.connection_id,
    })
}

fn opt_i64(v: &Value, names: &[&str]) -> Result<Option<i64>, String> {
    for n in names {
        match v.get(*n) {
            None | Some(Value::Null) => continue,
            Some(x) => {
                return x
                    .as_i64()
                    .map(Some)
                    .ok_or(format!("{n} must be an integer"));
            }
        }
    }
    Ok(None)
}

fn opt_str(v: &Value, name: &str) -> Result<Option<String>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // A capability given as an object is accepted too.
        Some(x) if name == "capability" && x.is_object() => Ok(Some(x.to_string())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// `{"ttl"|"ttlMs"?, "capability"?, "clientId"?, "issued"|"issuedMs"?, "revocationKey"?}`.
pub fn parse_mint(v: &Value) -> Result<MintSpec, String> {
    Ok(MintSpec {
        ttl_ms: opt_i64(v, &["ttl", "ttlMs"])?,
        capability: opt_str(v, "capability")?,
        client_id: opt_str(v, "clientId")?,
        issued_ms: opt_i64(v, &["issued", "issuedMs"])?,
        revocation_key: opt_str(v, "revocationKey")?,
    })
}

/// `{"method"?, "pathPrefix", "times"? (default 1; -1 or "forever" = always), "action"}`.
pub fn parse_rule(v: &Value) -> Result<Rule, String> {
    let path_prefix = v
        .get("pathPrefix")
        .and_then(Value::as_str)
        .ok_or("rule needs pathPrefix")?
        .to_string();
    let times = match v.get("times") {
        None | Some(Value::Null) => 1,
        Some(Value::String(s)) if s == "forever" => usize::MAX,
        Some(t) => match t.as_i64() {
            Some(n) if n < 0 => usize::MAX,
            Some(n) => n as usize,
            None => return Err("times must be an integer or \"forever\"".into()),
        },
    };
    let method = v.get("method").and_then(Value::as_str).map(str::to_string);
    let action = parse_action(v.get("action").ok_or("rule needs action")?)?;
    Ok(Rule {
        method,
        path_prefix,
        times,
        action,
    })
}

fn parse_action(a: &Value) -> Result<Action, String> {
    let ty = a
        .get("type")
        .and_then(Value::as_str)
        .ok_or("action needs type")?;
    let u64f = |n: &str| a.get(n).and_then(Value::as_u64);
    let status = || -> Result<u16, String> {
        u64f("status")
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format!("{ty} needs status"))
    };
    let text = |n: &str| a.get(n).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(match ty {
        "ablyError" => Action::AblyError {
            status: status()?,
            code: u64f("code")
                .and_then(|c| u32::try_from(c).ok())
                .ok_or("ablyError needs code")?,
            message: text("message"),
        },
        "respond" => {
            let mut headers = Vec::new();
            if let Some(list) = a.get("headers").and_then(Value::as_array) {
                for h in list {
                    let pair = h.as_array().filter(|p| p.len() == 2);
                    let (k, v) = pair
                        .and_then(|p| Some((p[0].as_str()?, p[1].as_str()?)))
                        .ok_or("headers must be [[name, value], ...]")?;
                    headers.push((k.to_string(), v.to_string()));
                }
            }
            Action::Respond {
                status: status()?,
                headers,
                body: text("body").into_bytes(),
            }
        }
        "json" => Action::Json {
            status: status()?,
            body: match a.get("body") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "{}".into(),
            },
        },
        "drop" => Action::Drop,
        "pass" => Action::Pass,
        "malformedJson" => Action::MalformedJson,
        "wrongContentType" => Action::WrongContentType,
        "oversized" => Action::Oversized {
            bytes: u64f("bytes").ok_or("oversized needs bytes")? as usize,
        },
        "slowHeaders" => Action::SlowHeaders {
            delay_ms: u64f("delayMs").ok_or("slowHeaders needs delayMs")?,
            then: Box::new(match a.get("then") {
                Some(t) => parse_action(t)?,
                None => Action::Pass,
            }),
        },
        "slowBody" => Action::SlowBody {
            delay_ms: u64f("delayMs").ok_or("slowBody needs delayMs")?,
        },
        other => return Err(format!("unknown action type {other}")),
    })
}
