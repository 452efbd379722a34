//! UTS `rest/unit/types/error_types.md` (TI).

use ably_auth::ErrorInfo;
use serde_json::json;

/// rest/unit/TI1/errorinfo-attributes-0
#[test]
fn ti1_errorinfo_attributes_0() {
    assert_eq!(ErrorInfo::new(40000, 0, "").code, 40000);
    assert_eq!(ErrorInfo::new(40100, 401, "").status_code, 401);
    let e = ErrorInfo::new(40000, 400, "Bad request: invalid parameter");
    assert_eq!(e.message, "Bad request: invalid parameter");
    let e = ErrorInfo::new(40000, 0, "").with_href("https://help.ably.io/error/40000");
    assert_eq!(e.href.as_deref(), Some("https://help.ably.io/error/40000"));
    let original = ErrorInfo::new(0, 0, "Network failure");
    let e = ErrorInfo::new(50003, 500, "Timeout").with_cause(original.clone());
    assert_eq!(e.cause.as_deref(), Some(&original));
    assert_eq!(
        std::error::Error::source(&e).unwrap().to_string(),
        original.to_string()
    );
}

/// rest/unit/TI/errorinfo-from-json-0
#[test]
fn ti_errorinfo_from_json_0() {
    let body = json!({"error": {
        "code": 40100, "statusCode": 401, "message": "Token expired",
        "href": "https://help.ably.io/error/40100"
    }});
    let e = ErrorInfo::from_value(&body["error"]).unwrap();
    assert_eq!((e.code, e.status_code), (40100, 401));
    assert_eq!(e.message, "Token expired");
    assert_eq!(e.href.as_deref(), Some("https://help.ably.io/error/40100"));
    assert_eq!(
        ErrorInfo::from_json(&body.to_string()).unwrap(),
        e,
        "the envelope is accepted too"
    );
}

/// rest/unit/TI/errorinfo-nested-cause-1
#[test]
fn ti_errorinfo_nested_cause_1() {
    let body = json!({"error": {
        "code": 50000, "statusCode": 500, "message": "Internal error",
        "cause": {"code": 50001, "message": "Database connection failed"}
    }});
    let e = ErrorInfo::from_value(&body["error"]).unwrap();
    assert_eq!(e.code, 50000);
    let cause = e.cause.expect("cause is an ErrorInfo");
    assert_eq!(cause.code, 50001);
    assert_eq!(cause.message, "Database connection failed");
}

/// rest/unit/TI/ably-exception-wraps-errorinfo-2: in Rust the error type *is* ErrorInfo
/// (it implements std::error::Error), so the "exception" exposes the same fields.
#[test]
fn ti_ably_exception_wraps_errorinfo_2() {
    let info = ErrorInfo::new(40000, 400, "Bad request");
    let exception: Box<dyn std::error::Error> = Box::new(info.clone());
    let back = exception.downcast_ref::<ErrorInfo>().unwrap();
    assert_eq!((back.code, back.status_code), (40000, 400));
    assert_eq!(back.message, "Bad request");
    assert_eq!(back, &info);
}

/// rest/unit/TI/common-error-codes-3
#[test]
fn ti_common_error_codes_3() {
    for (code, status, meaning) in [
        (40000, 400, "Bad request"),
        (40100, 401, "Unauthorized"),
        (40101, 401, "Invalid credentials"),
        (40140, 401, "Token error"),
        (40142, 401, "Token expired"),
        (40160, 401, "Invalid capability"),
        (40300, 403, "Forbidden"),
        (40400, 404, "Not found"),
        (50000, 500, "Internal server error"),
        (50003, 500, "Timeout"),
    ] {
        let e = ErrorInfo::new(code, status, meaning);
        assert_eq!((e.code, e.status_code), (code, status));
        let parsed = ErrorInfo::from_json(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(parsed, e, "JSON keeps ({code}, {status})");
    }
}

/// rest/unit/TI/error-string-representation-4
#[test]
fn ti_error_string_representation_4() {
    let text = ErrorInfo::new(40100, 401, "Unauthorized: token expired").to_string();
    assert!(text.contains("40100") && text.contains("401"), "{text}");
    assert!(text.contains("Unauthorized"), "{text}");
    // TI5: a help URL unless the message has one.
    assert!(text.contains("https://help.ably.io/error/40100"), "{text}");
}

/// rest/unit/TI/error-equality-5
#[test]
fn ti_error_equality_5() {
    let a = ErrorInfo::new(40000, 400, "Bad request");
    let b = ErrorInfo::new(40000, 400, "Bad request");
    let c = ErrorInfo::new(40100, 401, "Unauthorized");
    assert_eq!(a, b);
    assert_ne!(a, c);
}
